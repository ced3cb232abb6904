"""Forgot-password timing: can a known identifier be told from an unknown one?

    .venv/bin/python bench/forgot_timing.py [-n 60] [--warmup 10] [--users 10000]
                                            [--database-url …]

POST /password/forgot through the Flask test client for N known and N unknown
identifiers (half usernames, half emails, each used once), interleaved in random order
after warm-ups; every POST uses a new client whose CSRF token comes from an untimed GET.
Prints both medians and their difference (target ≤ 2 ms), the best single-threshold
classifier over the 2N samples (target ≈ 50–55 %), and two references for reading that
number: the same classifier on randomly relabelled samples (what "no signal" scores with
a threshold fitted to the data) and a 2-fold cross-validated accuracy.
Also counts bcrypt calls (wrapped) and compares the SQL statements each request ran.
"""

from __future__ import annotations

import logging
import random
import re
import time

import bcrypt
from _common import database_url, load_note, make_app, median, migrate, parser, pct, seed

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
BCRYPT_CALLS = {"checkpw": 0, "hashpw": 0, "gensalt": 0, "kdf": 0}


def _count(name):
    real = getattr(bcrypt, name)

    def counted(*a, **k):
        BCRYPT_CALLS[name] += 1
        return real(*a, **k)

    setattr(bcrypt, name, counted)


class SQLShapes(logging.Handler):
    """Records each statement's SQL text (parameters left out) for the current request."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.current: list[str] = []

    def emit(self, record):
        if isinstance(record.msg, tuple) and record.msg:
            self.current.append(str(record.msg[0]).split(" VALUES")[0][:90])


def best_threshold(times: list[float], labels: list[int]) -> tuple[float, float, str]:
    """The threshold (and direction) maximising accuracy of ``time > t ⇒ known``."""
    pairs = sorted(zip(times, labels))
    n = len(pairs)
    known_total = sum(labels)
    best = (0.0, pairs[0][0], ">")
    known_below = 0
    for i in range(n + 1):
        # threshold between pairs[i-1] and pairs[i]: i samples at or below it
        if i > 0:
            known_below += pairs[i - 1][1]
        below = i
        # "> t ⇒ known": correct = unknown below + known above
        acc_gt = ((below - known_below) + (known_total - known_below)) / n
        acc_lt = 1 - acc_gt  # "≤ t ⇒ known" is the complement
        t = pairs[i - 1][0] if i > 0 else pairs[0][0] - 1e-9
        for acc, direction in ((acc_gt, ">"), (acc_lt, "≤")):
            if acc > best[0]:
                best = (acc, t, direction)
    return best[0], best[1], best[2]


def accuracy_at(times, labels, t, direction) -> float:
    ok = 0
    for x, y in zip(times, labels):
        guess = int(x > t) if direction == ">" else int(x <= t)
        ok += guess == y
    return ok / len(times)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=60, help="known and unknown samples (each)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    rng = random.Random(args.seed)

    with database_url(args.database_url) as url:
        app = make_app(url, LIMIT_FORGOT="100000 per minute", RESET_MAILS_PER_WINDOW=100000)
        migrate(app)
        seed(app, args.users, varied=False)
        from portal.db import database
        from portal.models import RecoveryRequest, ResetToken, User

        total = args.n + args.warmup
        with app.app_context():
            database.connect(reuse_if_open=True)
            ids = rng.sample(range(1, args.users + 1), total)
            people = list(User.select(User.username, User.email).where(User.id.in_(ids)).tuples())
            database.close()
        known = [(u if i % 2 == 0 else e) for i, (u, e) in enumerate(people)]
        unknown = [
            (f"user{args.users + 1000 + i:06d}" if i % 2 == 0 else f"someone.else.{i}@example.test")
            for i in range(total)
        ]

        for name in BCRYPT_CALLS:
            _count(name)
        shapes = SQLShapes()
        log = logging.getLogger("peewee")
        log.addHandler(shapes)
        log.setLevel(logging.DEBUG)

        def post(identifier: str) -> tuple[float, list[str]]:
            client = app.test_client()
            page = client.get("/password/forgot")
            token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
            shapes.current = []
            c0, t0 = time.thread_time(), time.perf_counter()
            response = client.post(
                "/password/forgot", data={"identifier": identifier, "csrf_token": token}
            )
            elapsed = time.perf_counter() - t0
            cpu.append(time.thread_time() - c0)
            if response.status_code != 303:
                raise SystemExit(f"POST /password/forgot {identifier!r}: {response.status_code}")
            return elapsed, shapes.current

        times, labels, sql_seen, cpu = [], [], {0: set(), 1: set()}, []
        before = dict(BCRYPT_CALLS)
        for i in range(total):
            pair = [(1, known[i]), (0, unknown[i])]
            rng.shuffle(pair)
            for label, ident in pair:
                elapsed, statements = post(ident)
                if i >= args.warmup:
                    times.append(elapsed)
                    labels.append(label)
                    sql_seen[label].add(tuple(statements))
        bcrypt_during = {k: BCRYPT_CALLS[k] - before[k] for k in BCRYPT_CALLS}
        log.removeHandler(shapes)
        log.setLevel(logging.WARNING)

        k_times = [t for t, y in zip(times, labels) if y == 1]
        u_times = [t for t, y in zip(times, labels) if y == 0]
        mk, mu = median(k_times), median(u_times)
        acc, thr, direction = best_threshold(times, labels)

        # Reference 1: the same fitted classifier on shuffled labels (no signal by design).
        null = []
        shuffled = labels[:]
        for _ in range(1000):
            rng.shuffle(shuffled)
            null.append(best_threshold(times, shuffled)[0])
        p_value = sum(a >= acc for a in null) / len(null)
        # Reference 2: 2-fold cross-validation (fit on one half, score on the other).
        idx = list(range(len(times)))
        rng.shuffle(idx)
        halves = idx[: len(idx) // 2], idx[len(idx) // 2 :]
        cv = []
        for fit, test in (halves, halves[::-1]):
            _a, t_fit, d_fit = best_threshold([times[j] for j in fit], [labels[j] for j in fit])
            cv.append(
                accuracy_at([times[j] for j in test], [labels[j] for j in test], t_fit, d_fit)
            )

        print(
            f"\n== POST /password/forgot, {args.n} known + {args.n} unknown, interleaved "
            f"after {args.warmup}+{args.warmup} warm-ups, {args.users:,} users =="
        )
        print(f"known    median {mk * 1000:7.3f} ms   p95 {pct(k_times, 95) * 1000:7.3f} ms")
        print(f"unknown  median {mu * 1000:7.3f} ms   p95 {pct(u_times, 95) * 1000:7.3f} ms")
        print(
            f"(CPU time of the request thread, all {len(cpu)} POSTs: median "
            f"{median(cpu) * 1000:.3f} ms — the rest of the wall time is waiting: disk, "
            f"other processes)"
        )
        diff = (mk - mu) * 1000
        print(
            f"difference of medians (known − unknown): {diff:+.3f} ms  (target |Δ| ≤ 2 ms: "
            f"{'OK' if abs(diff) <= 2 else 'ABOVE TARGET'})"
        )
        print(
            f"best threshold classifier: 'known if time {direction} {thr * 1000:.3f} ms' -> "
            f"accuracy {acc * 100:.1f}% on the {len(times)} samples"
        )
        print(
            f"  reference, same classifier on shuffled labels (1000×): median "
            f"{median(null) * 100:.1f}%, 95th pct {pct(null, 95) * 100:.1f}%  -> p = "
            f"{p_value:.2f} that no-signal data scores ≥ {acc * 100:.1f}%"
        )
        print(
            f"  2-fold cross-validated accuracy: {sum(cv) / 2 * 100:.1f}% "
            f"({', '.join(f'{c * 100:.1f}%' for c in cv)})"
        )
        print(
            f"bcrypt calls during the {2 * total} POSTs (warm-ups included): {bcrypt_during}"
            f" -> {'no bcrypt on this path' if not any(bcrypt_during.values()) else 'BCRYPT RUNS'}"
        )
        same = sql_seen[0] == sql_seen[1] and len(sql_seen[0]) == 1
        print(
            f"SQL statements per request: known {sorted(len(s) for s in sql_seen[1])}, "
            f"unknown {sorted(len(s) for s in sql_seen[0])}; identical sequence for both: "
            f"{'yes' if same else 'NO'}"
        )
        for statement in next(iter(sql_seen[1])):
            print(f"    {statement}")
        print(f"({load_note()})")

        # The mail worker resolves the requests afterwards (not part of the timing).
        from portal.recovery import service

        with app.test_request_context():
            database.connect(reuse_if_open=True)
            t0 = time.perf_counter()
            handled = 0
            while True:
                done = service.process_pending()
                handled += done
                if not done:
                    break
            spent = time.perf_counter() - t0
            links = ResetToken.select().count()
            pending = RecoveryRequest.select().where(RecoveryRequest.processed_at.is_null()).count()
            database.close()
        print(
            f"mail worker afterwards: resolved {handled} requests in {spent:.2f} s, "
            f"{links} links issued (one per known identifier, warm-ups included), "
            f"{pending} left pending"
        )


if __name__ == "__main__":
    main()
