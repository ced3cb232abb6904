"""Sign-in lookup at 100,000 users: the query plan of ``accounts.find()`` and its latency.

    .venv/bin/python bench/lookups.py [--users 100000] [--calls 1000] [--database-url …]

Prints the SQL that ``find()`` really sends (captured from peewee's query log), its plan
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL) with a verdict on table scans, and
median/p95 of ``find()`` for existing identifiers (usernames and emails, in mixed case)
and for unknown ones.
"""

from __future__ import annotations

import logging
import random
import time

from _common import (
    database_url,
    explain,
    load_note,
    make_app,
    median,
    migrate,
    ms,
    parser,
    pct,
    scans,
    seed,
)


class _Capture(logging.Handler):
    """Collect the (sql, params) pairs peewee logs at DEBUG level."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.queries = []

    def emit(self, record):
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.queries.append(record.msg)


def captured_find_sql(identifier: str):
    from portal import accounts

    log = logging.getLogger("peewee")
    handler = _Capture()
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        accounts.find(identifier)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    selects = [q for q in handler.queries if q[0].lstrip().upper().startswith("SELECT")]
    return selects[-1]


def timed(fn, args) -> list[float]:
    out = []
    for a in args:
        t0 = time.perf_counter()
        fn(a)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--calls", type=int, default=1000)
    args = p.parse_args()
    rng = random.Random(7)

    with database_url(args.database_url) as url:
        engine = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        app = make_app(url)
        migrate(app)
        seed(app, args.users)
        from portal import accounts
        from portal.db import database
        from portal.models import User

        with app.app_context():
            database.connect(reuse_if_open=True)
            sample = list(
                User.select(User.username, User.email)
                .where(
                    User.id.in_(rng.sample(range(1, args.users + 1), min(args.calls, args.users)))
                )
                .tuples()
            )
            existing = []
            for i, (username, email) in enumerate(sample):
                ident = email if (i % 2 and email) else username
                existing.append(ident.upper() if i % 3 == 0 else ident)
            unknown = [
                f"nobody{rng.randrange(10**9)}" + ("@example.test" if i % 2 else "")
                for i in range(args.calls)
            ]

            print(f"\n== accounts.find() on {engine}, {args.users:,} users ==")
            for label, ident in (("username", existing[0]), ("email", sample[1][1] or "x@y.z")):
                sql, params = captured_find_sql(ident)
                plan = explain(url, sql, params)
                print(f"\n-- lookup by {label} ({ident!r})\nSQL : {sql}\nargs: {params}")
                print("plan:\n  " + "\n  ".join(plan))
                bad = scans(url, plan, sql=sql)
                print(
                    "verdict: "
                    + (
                        "TABLE SCAN: " + "; ".join(bad)
                        if bad
                        else "uses the indexes (no scan of user)"
                    )
                )

            # warm-up, then interleave existing and unknown so both see the same noise
            for ident in existing[:50] + unknown[:50]:
                accounts.find(ident)
            t_hit, t_miss, found = [], [], 0
            for hit, miss in zip(existing, unknown):
                t0 = time.perf_counter()
                found += accounts.find(hit) is not None
                t1 = time.perf_counter()
                accounts.find(miss)
                t2 = time.perf_counter()
                t_hit.append(t1 - t0)
                t_miss.append(t2 - t1)
            database.close()

        print(f"\n{len(t_hit)} calls each ({found}/{len(existing)} existing found):")
        print(f"  existing : median {ms(median(t_hit))}   p95 {ms(pct(t_hit, 95))}")
        print(f"  unknown  : median {ms(median(t_miss))}   p95 {ms(pct(t_miss, 95))}")
        print(f"  ({load_note()})")


if __name__ == "__main__":
    main()
