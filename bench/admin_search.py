"""Admin user search at 100,000 users (issue 3): latency per query and query plans.

    .venv/bin/python bench/admin_search.py [--users 100000] [--teams 20] [--runs 50]
                                           [--http-runs 20] [--per-page 25] [--database-url …]

Seeds users with a realistic spread of states (about 2 % disabled, 3 % locked, 3 %
invited, 3 % must-change, 5 % directory accounts, 1 in 500 a manager, 80 % with a last
sign-in), then times ``portal.users.search.search_users`` for a mix of searches (runs
each, p50/p95), and the same searches as a page through the Flask test client
(GET /admin/users with ``HX-Request``, i.e. the results fragment an htmx search swaps in;
signed in as the administrator or the manager; wall time and this thread's CPU time,
which a busy machine inflates less). ``--per-page`` sets the page size for both (default
25, the figure of issue 6's target; the list itself shows ``service.PER_PAGE``, and
``--per-page 0`` keeps that). Every SQL statement a search runs is
EXPLAINed; table scans of ``user`` (SQLite ``SCAN user``/``SCAN t1`` without an index,
PostgreSQL ``Seq Scan``) and sorts in a temporary B-tree are flagged, and the full plan
of the slowest search is printed.
"""

from __future__ import annotations

import inspect
import logging
import re
import time

from _common import (
    PASSWORD,
    database_url,
    explain,
    is_sqlite,
    load_note,
    make_app,
    median,
    migrate,
    parser,
    pct,
    scans,
    seed,
)

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.queries = []

    def emit(self, record):
        if isinstance(record.msg, tuple) and len(record.msg) == 2:
            self.queries.append(record.msg)


def cases(manager_team: int, sample: dict) -> list[tuple[str, str, dict]]:
    """(label, actor, search kwargs) — the mix from the issue plus a few filters."""
    return [
        ("empty q (first page)", "admin", {}),
        ("username prefix", "admin", {"q": sample["username_prefix"]}),
        ("email prefix", "admin", {"q": sample["email_prefix"]}),
        ("last-name prefix", "admin", {"q": sample["last_name"]}),
        ("first + last name", "admin", {"q": sample["full_name"]}),
        ("numeric ID", "admin", {"q": str(sample["id"])}),
        ("status=locked", "admin", {"status": "locked"}),
        ("status=invited", "admin", {"status": "invited"}),
        ("status=must_change", "admin", {"status": "must_change"}),
        ("status=active", "admin", {"status": "active"}),
        ("role=manager", "admin", {"role": "manager"}),
        ("provider=sso", "admin", {"provider": "sso"}),
        ("team filter", "admin", {"team_id": manager_team}),
        ("manager, own team", "manager", {}),
        ("manager, name prefix", "manager", {"q": sample["last_name"]}),
        ("sort last sign-in desc", "admin", {"sort": "last_login", "direction": "desc"}),
        ("sort last name, page 50", "admin", {"sort": "last_name", "page": 50}),
        ("page 50", "admin", {"page": 50}),
        ("no match", "admin", {"q": "zzzz-nobody"}),
    ]


TRY_INDEXES = [
    # "Invitation pending" = password_hash IS NULL: a few % of rows, no usable index today.
    'CREATE INDEX bench_user_invited ON "user" (username_key) WHERE password_hash IS NULL',
    # Team filter / a manager's single team, in username order without a sort.
    'CREATE INDEX bench_user_team_username ON "user" (team_id, username_key)',
]

HTTP_PARAMS = {
    "q": "q",
    "role": "role",
    "status": "status",
    "team_id": "team",
    "provider": "provider",
    "sort": "sort",
    "direction": "dir",
    "page": "page",
}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--teams", type=int, default=20)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--http-runs", type=int, default=20, help="0 to skip the page timings")
    p.add_argument(
        "--per-page",
        type=int,
        default=25,
        help="rows per page for the service and the page (0: the app's PER_PAGE)",
    )
    p.add_argument(
        "--try-indexes",
        action="store_true",
        help="experiment: add the indexes suggested in bench/README.md first",
    )
    args = p.parse_args()

    try:
        from portal.users import search as service
    except ImportError as exc:
        raise SystemExit(f"portal.users.search is not importable yet: {exc}")
    if not hasattr(service, "search_users"):
        raise SystemExit("portal.users.search.search_users does not exist yet")
    accepted = set(inspect.signature(service.search_users).parameters)
    per_page = args.per_page or service.PER_PAGE
    if per_page != service.PER_PAGE:
        # For this run only: the page the view renders takes run_search's default.
        defaults = list(service.run_search.__defaults__)
        defaults[-1] = per_page
        service.run_search.__defaults__ = tuple(defaults)

    with database_url(args.database_url) as url:
        engine = "SQLite" if is_sqlite(url) else "PostgreSQL"
        app = make_app(url, BCRYPT_ROUNDS=4)
        migrate(app)
        info = seed(app, args.users, n_teams=args.teams)
        from portal.db import database

        if args.try_indexes:
            with app.app_context():
                database.connect(reuse_if_open=True)
                for ddl in TRY_INDEXES:
                    database.execute_sql(ddl)
                database.execute_sql("ANALYZE")
                database.close()
            print("experiment: added\n  " + "\n  ".join(TRY_INDEXES))
        from portal.models import User, utcnow

        with app.app_context():
            database.connect(reuse_if_open=True)
            now = utcnow()
            User.insert(
                username="admin",
                username_key="admin",
                email="admin@example.test",
                email_key="admin@example.test",
                role="admin",
                password_hash=info["hash"],
                security_stamp="0" * 32,
                created_at=now,
            ).execute()
            admin = User.get(User.username_key == "admin")
            manager = (
                User.select()
                .where(
                    (User.role == "manager")
                    & (User.disabled == False)
                    & User.password_hash.is_null(False)
                    & (User.hard_locked == False)
                    & User.locked_until.is_null()
                )
                .first()
            )
            if manager is not None:
                User.update(must_change=False).where(User.id == manager.id).execute()
            pick = User.get_by_id(args.users // 3)
            same_last = User.select().where(User.last_name_key == pick.last_name_key).count()
            sample = {
                "username_prefix": pick.username[:-2],  # 100 users share it
                "email_prefix": (pick.email or "alice.martin.1@x")[:9],
                "last_name": pick.last_name_key[:4],
                "full_name": f"{pick.first_name} {pick.last_name}",
                "id": pick.id,
            }
            database.close()
        actors = {"admin": admin, "manager": manager}
        print(
            f"== admin search on {engine}: {args.users:,} users in {args.teams} teams; "
            f"{len(info['managers'])} managers; sample last name {pick.last_name!r} "
            f"({same_last:,} users) =="
        )
        print(
            f"search_users{inspect.signature(service.search_users)}; {per_page} rows per "
            f"page (the list shows {service.PER_PAGE})"
        )

        results = []
        capture = Capture()
        log = logging.getLogger("peewee")
        for label, who, kwargs in cases(manager.team_id if manager else 1, sample):
            actor = actors[who]
            if actor is None:
                continue
            kw = {k: v for k, v in kwargs.items() if k in accepted}
            if "per_page" in accepted:
                kw["per_page"] = per_page
            times = []
            with app.test_request_context():
                database.connect(reuse_if_open=True)
                # the first call is a warm-up and also records the SQL statements
                log.addHandler(capture)
                log.setLevel(logging.DEBUG)
                capture.queries = []
                page = service.search_users(actor, **kw)
                log.removeHandler(capture)
                log.setLevel(logging.WARNING)
                statements = list(capture.queries)
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    page = service.search_users(actor, **kw)
                    times.append(time.perf_counter() - t0)
                plans = [
                    (sql, params, explain(url, sql, params))
                    for sql, params in statements
                    if sql.lstrip().upper().startswith("SELECT")
                ]
                database.close()
            results.append(
                {
                    "label": label,
                    "who": who,
                    "kw": kw,
                    "times": times,
                    "total": page.total,
                    "rows": len(page.items),
                    "plans": plans,
                }
            )

        if args.http_runs:
            http_pages(app, results, actors, args.http_runs)

        print(
            f"\n{'search':28} {'actor':8} {'matches':>8} {'rows':>5} {'p50 ms':>8} "
            f"{'p95 ms':>8}"
            + (
                f" {'page p50':>9} {'page p95':>9} {'CPU p50':>8} {'CPU p95':>8}"
                if args.http_runs
                else ""
            )
            + "  plan flags"
        )
        for r in results:
            flags = []
            for sql, _params, plan in r["plans"]:
                flags += classify(url, sql, plan)
            r["flags"] = flags
            http = (
                f" {median(r['http']) * 1000:9.2f} {pct(r['http'], 95) * 1000:9.2f}"
                f" {median(r['http_cpu']) * 1000:8.2f} {pct(r['http_cpu'], 95) * 1000:8.2f}"
                if r.get("http")
                else ""
            )
            print(
                f"{r['label']:28} {r['who']:8} {r['total']:8,} {r['rows']:5} "
                f"{median(r['times']) * 1000:8.2f} {pct(r['times'], 95) * 1000:8.2f}{http}  "
                f"{', '.join(sorted(set(r['flags']))) or 'index seeks only'}"
            )
        print(
            f"({load_note()}; {args.runs} runs per search, {args.http_runs} per page; "
            f"page = GET /admin/users with HX-Request, {per_page} rows, rendering included)"
        )
        if args.http_runs:
            worst = max(pct(r["http"], 95) for r in results if r.get("http"))
            print(
                f"target: page p95 <= 25 ms at 100,000 users -> worst page p95 "
                f"{worst * 1000:.1f} ms"
            )
        print(
            "flags: TABLE SCAN = every row read; 'count: all via idx' = COUNT walks a whole "
            "index; 'walk idx X' = page read in index order, filtered until the page is full; "
            "'sort' = matches sorted in a temp B-tree"
        )

        print("\n== plans of the user queries (count | page) ==")
        for r in results:
            steps = []
            for sql, _params, plan in r["plans"]:
                if '"user"' not in sql:
                    continue
                kind = "count" if "COUNT(" in sql.upper() else "page"
                steps.append(
                    f"{kind}: "
                    + "; ".join(
                        line.strip()
                        for line in plan
                        if not line.strip().startswith(("INDEX ", "MULTI-INDEX"))
                        and "t2 USING INTEGER PRIMARY KEY" not in line
                    )
                )
            print(f"{r['label']:28} " + ("\n" + " " * 29).join(step[:190] for step in steps))

        slowest = max(results, key=lambda r: median(r["times"]))
        print(f"\n== plan of the slowest search: {slowest['label']} ({slowest['kw']}) ==")
        for sql, params, plan in slowest["plans"]:
            print(f"SQL : {shorten(sql)}\nargs: {params}")
            print("plan:\n  " + "\n  ".join(plan))
        flagged = [r for r in results if any(f.startswith("TABLE SCAN") for f in r["flags"])]
        print(
            f"\nsearches with a full scan of user: "
            f"{', '.join(r['label'] for r in flagged) if flagged else 'none'}"
        )
        for r in flagged:
            if r is slowest:
                continue
            print(f"\n-- {r['label']} ({r['kw']})")
            for sql, params, plan in r["plans"]:
                print(f"SQL : {shorten(sql)}\n  " + "\n  ".join(plan))


def classify(url: str, sql: str, plan: list[str]) -> list[str]:
    """Short labels for the notable steps of a plan.

    TABLE SCAN: every row of user is read. "count: all via idx": COUNT(*) walks a whole
    index (O(n) but only index pages). "walk idx X": the page query reads user in index
    order and filters until the page is full; fast when most rows match, slow when few do.
    "sort": the matches are sorted in a temporary B-tree (fine when few rows match).
    """
    flags = []
    is_count = "COUNT(" in sql.upper()
    for line in scans(url, plan, sql=sql):
        line = line.strip()
        if not is_sqlite(url):
            flags.append("TABLE SCAN (Seq Scan)")
        elif " USING " not in line:
            flags.append("TABLE SCAN")
        elif is_count:
            flags.append("count: all via idx")
        else:
            flags.append("walk idx " + line.split("INDEX ")[-1].split()[0])
    if any("TEMP B-TREE" in line for line in plan):
        flags.append("sort")
    if not is_sqlite(url) and any(
        "Sort" in line and "Incremental Sort" not in line and "Sort Key" not in line
        for line in plan
    ):
        flags.append("sort")
    return flags


def shorten(sql: str) -> str:
    """The column list of SELECT t1.a, t1.b, … is long and says nothing about the plan."""
    return re.sub(r"SELECT (.{120}).*? FROM", r"SELECT \1… FROM", sql, count=1)


def http_pages(app, results, actors, runs: int) -> None:
    """Time GET /admin/users?… (htmx fragment) signed in as each actor."""
    clients = {}
    for who, actor in actors.items():
        if actor is None:
            continue
        client = app.test_client()
        page = client.get("/login")
        token = CSRF_RE.search(page.get_data(as_text=True)).group(1)
        r = client.post(
            "/login", data={"identifier": actor.username, "password": PASSWORD, "csrf_token": token}
        )
        if r.status_code != 303:
            raise SystemExit(f"could not sign in as {who}: {r.status_code}")
        clients[who] = client
    for r in results:
        client = clients[r["who"]]
        query = {HTTP_PARAMS[k]: v for k, v in r["kw"].items() if k in HTTP_PARAMS}
        headers = {"HX-Request": "true"}
        first = client.get("/admin/users", query_string=query, headers=headers)
        if first.status_code != 200:
            print(f"GET /admin/users {query}: {first.status_code}")
            continue
        times, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.thread_time()
            client.get("/admin/users", query_string=query, headers=headers)
            cpu.append(time.thread_time() - c0)
            times.append(time.perf_counter() - t0)
        r["http"] = times
        r["http_cpu"] = cpu


if __name__ == "__main__":
    main()
