"""Resident memory of one ``passgate serve`` worker after a mixed load.

    .venv/bin/python bench/rss.py [--requests 200] [--clients 4] [--threads 4] [--users 1000]

Seeds a temporary SQLite database (bcrypt cost 12, the production default), starts the
real ``passgate serve`` (waitress, its background mail worker, console mail sent to
/dev/null) in a subprocess on a free port, then sends a mixed load from this process
with urllib (cookie jars, real CSRF tokens): GET /login, POST /login with a good and a
bad password, GET/POST /password/forgot, GET / (signed in) and GET /healthz. Finally
reads VmRSS (and the peak, VmHWM) of the server from /proc/<pid>/status.
Target: ≤ 45 MB per worker.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

from _common import (
    PASSWORD,
    ROOT,
    SECRET_KEY,
    database_url,
    load_note,
    make_app,
    migrate,
    parser,
    seed,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_MB = 45.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int) -> dict:
    values = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                values[key] = rest.strip()
    return values


def mb(value: str) -> float:
    return int(value.split()[0]) / 1024  # "12345 kB"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One visitor: a cookie jar, no automatic redirects, every request counted."""

    def __init__(self, base: str, counter: Counter):
        self.base = base
        self.counter = counter
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)
        try:
            with self.opener.open(req, timeout=60) as resp:
                status, text = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        self.counter[f"{'POST' if data is not None else 'GET'} {path} {status}"] += 1
        return status, text

    def csrf(self, path: str) -> str:
        _status, text = self.request(path)
        return CSRF_RE.search(text).group(1)


def visitor(base: str, budget: int, index: int, counter: Counter, users: int, errors: list):
    """A repeating mix of the public pages until ``budget`` requests are spent."""
    spent = 0
    step = 0
    try:
        while spent < budget:
            b = Browser(base, counter)
            kind = step % 5 if budget - spent >= 3 else 3  # fill the last slots with /healthz
            step += 1
            n = (index * 1000 + step) % users + 1
            if kind == 0:  # good sign-in, then the home page (3 requests)
                token = b.csrf("/login")
                status, _ = b.request(
                    "/login",
                    {"identifier": f"user{n:06d}", "password": PASSWORD, "csrf_token": token},
                )
                if status == 303:
                    b.request("/")
                spent += 3
            elif kind == 1:  # wrong password (2)
                token = b.csrf("/login")
                b.request(
                    "/login",
                    {"identifier": f"user{n:06d}", "password": "wrong " * 4, "csrf_token": token},
                )
                spent += 2
            elif kind == 2:  # forgot, known and unknown alternately (2)
                token = b.csrf("/password/forgot")
                ident = f"user{n:06d}" if step % 2 else f"nobody{n}@example.test"
                b.request("/password/forgot", {"identifier": ident, "csrf_token": token})
                spent += 2
            elif kind == 3:
                b.request("/healthz")
                spent += 1
            else:  # sent page and an unknown user's sign-in (3)
                b.request("/password/forgot/sent")
                token = b.csrf("/login")
                b.request(
                    "/login", {"identifier": f"ghost{n}", "password": "x" * 20, "csrf_token": token}
                )
                spent += 3
    except Exception as exc:  # noqa: BLE001 - any failure is reported by the parent
        errors.append(repr(exc))


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--clients", type=int, default=4, help="concurrent visitors")
    p.add_argument("--threads", type=int, default=4, help="waitress threads (serve default)")
    p.add_argument("--users", type=int, default=1000)
    p.add_argument(
        "--malloc-arena-max",
        type=int,
        default=0,
        help="experiment: run the server with MALLOC_ARENA_MAX=N (glibc)",
    )
    p.add_argument(
        "--no-psycopg2",
        action="store_true",
        help="experiment: start the server with psycopg2 made unimportable, as if "
        "it were an optional extra that a SQLite install does not have",
    )
    args = p.parse_args()
    if args.database_url and not args.database_url.startswith("sqlite"):
        print("note: rss.py measures the SQLite quick-start setup; --database-url ignored")

    with database_url(None) as url:
        instance = os.path.dirname(url.split("sqlite:///", 1)[1])
        app = make_app(url)  # BCRYPT_ROUNDS default: 12
        migrate(app)
        seed(app, args.users, varied=False)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "PASSGATE_INSTANCE": instance,
            "PASSGATE_SECRET_KEY": SECRET_KEY,  # same pepper as the seeded hashes
            "PASSGATE_DATABASE_URL": url,
            "PASSGATE_BASE_URL": base,
            "PASSGATE_MAIL_BACKEND": "console",
            "PASSGATE_LIMIT_LOGIN": "100000 per minute",
            "PASSGATE_LIMIT_FORGOT": "100000 per minute",
            "PASSGATE_RESET_MAILS_PER_WINDOW": "100000",
        }
        if args.malloc_arena_max:
            env["MALLOC_ARENA_MAX"] = str(args.malloc_arena_max)
        passgate = os.path.join(os.path.dirname(sys.executable), "passgate")
        if args.no_psycopg2:
            cmd = [
                sys.executable,
                "-c",
                (
                    "import sys; sys.modules['psycopg2'] = None; "
                    "sys.argv[0] = 'passgate'; "
                    "from portal.cli import main; main()"
                ),
            ]
        elif os.path.exists(passgate):
            cmd = [passgate]
        else:
            cmd = [sys.executable, "-c", "from portal.cli import main; main()"]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(args.threads)]
        server = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.time() + 60
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    if server.poll() is not None or time.time() > deadline:
                        raise SystemExit(
                            "server did not start:\n" + server.stderr.read().decode()[-2000:]
                        )
                    time.sleep(0.2)
            idle = proc_status(server.pid)

            counter: Counter = Counter()
            errors: list = []
            budget = args.requests // args.clients
            started = time.perf_counter()
            workers = [
                threading.Thread(
                    target=visitor, args=(base, budget, i, counter, args.users, errors)
                )
                for i in range(args.clients)
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            elapsed = time.perf_counter() - started
            time.sleep(3)  # let the mail worker drain the forgot-password requests
            after = proc_status(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()

    total = sum(counter.values())
    extras = [
        x
        for x in (
            args.malloc_arena_max and f"MALLOC_ARENA_MAX={args.malloc_arena_max}",
            args.no_psycopg2 and "psycopg2 not importable",
        )
        if x
    ]
    print(
        f"\n== passgate serve (waitress, {args.threads} threads, mail worker on), SQLite, "
        f"bcrypt cost 12{'; experiment: ' + ', '.join(extras) if extras else ''} =="
    )
    print(f"load: {total} requests from {args.clients} concurrent visitors in {elapsed:.1f} s")
    for key, count in sorted(counter.items()):
        print(f"    {count:4}  {key}")
    if errors:
        print("visitor errors:", errors[:3])
    print(f"RSS after start-up (idle): {mb(idle['VmRSS']):.1f} MB")
    print(
        f"RSS after the mixed run  : {mb(after['VmRSS']):.1f} MB  (peak VmHWM "
        f"{mb(after['VmHWM']):.1f} MB; RssAnon {mb(after['RssAnon']):.1f} MB, RssFile "
        f"{mb(after['RssFile']):.1f} MB; {after['Threads']} threads)"
    )
    verdict = "OK" if mb(after["VmRSS"]) <= TARGET_MB else "ABOVE TARGET"
    print(f"target ≤ {TARGET_MB:.0f} MB per worker -> {verdict}")
    print(f"({load_note()})")


if __name__ == "__main__":
    main()
