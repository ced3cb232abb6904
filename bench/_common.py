"""Shared helpers for the benchmark scripts in ``bench/`` (not a test module).

Every script builds its own throw-away database: a temporary SQLite file by default, or,
with ``--database-url postgresql://…``, a private schema (``bench_<random>``) that is
created first and dropped at the end, so the ``public`` schema used by the test suite is
never touched.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from datetime import datetime, timedelta
from urllib.parse import quote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SECRET_KEY = "bench-secret-key-not-for-production"
PASSWORD = "violet lantern harbour 1987"  # satisfies the default policy

FIRST_NAMES = [
    "Alice",
    "Bruno",
    "Chloé",
    "David",
    "Emma",
    "François",
    "Gabriel",
    "Hélène",
    "Inès",
    "Jules",
    "Karim",
    "Léa",
    "Manon",
    "Nathan",
    "Olivia",
    "Pierre",
    "Quentin",
    "Rose",
    "Samuel",
    "Théo",
    "Ursula",
    "Victor",
    "Wendy",
    "Xavier",
    "Yasmine",
    "Zoé",
    "Amir",
    "Björn",
    "Camille",
    "Dmitri",
    "Elif",
    "Farah",
    "Giulia",
    "Hugo",
    "Ingrid",
    "Jonas",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefèvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Anderson",
    "Taylor",
    "Nakamura",
    "Okafor",
    "Kowalski",
    "Novak",
    "Schmidt",
    "Müller",
    "Rossi",
    "Silva",
]


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--database-url",
        default=None,
        help="postgresql://… to run on PostgreSQL in a private, dropped schema "
        "(default: a temporary SQLite file)",
    )
    return p


@contextlib.contextmanager
def database_url(url: str | None):
    """Yield a DATABASE_URL for a fresh, empty database; clean it up afterwards."""
    if not url or url.startswith("sqlite"):
        tmp = tempfile.mkdtemp(prefix="passgate-bench-")
        try:
            yield f"sqlite:///{tmp}/bench.db"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    import psycopg2

    schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote('-c search_path=' + schema)}"
    finally:
        from portal.db import database

        with contextlib.suppress(Exception):
            if database.obj is not None and not database.is_closed():
                database.close()
        admin.cursor().execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_app(url: str, **overrides):
    """A Passgate app on ``url`` with rate limits off (the benchmarks hammer one IP)."""
    from portal import create_app

    config = {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": "http://localhost",
        "RATELIMIT_ENABLED": False,
        "MAIL_BACKEND": "console",
        **overrides,
    }
    instance = tempfile.mkdtemp(prefix="passgate-bench-instance-")
    return create_app(config, instance_path=instance)


def migrate(app) -> None:
    from portal.access import clear_cache
    from portal.db import database
    from portal.schema import migrate as run

    clear_cache()
    with app.app_context():
        database.connect(reuse_if_open=True)
        run()
        database.close()


def seed(
    app,
    n_users: int,
    *,
    n_teams: int = 20,
    batch: int = 500,
    seed_value: int = 1,
    varied: bool = True,
    progress: bool = True,
) -> dict:
    """Bulk-insert ``n_users`` users (``user000001`` … with ``@example.test`` emails).

    One bcrypt hash of ``PASSWORD`` is made once and reused for every row. With ``varied``
    the rows carry a realistic spread of states (locked, disabled, invited, must-change,
    directory accounts, last sign-in dates, a few managers) for the admin search.
    Returns {"teams": [ids], "managers": [ids], "hash": str}.
    """
    from portal import passwords
    from portal.db import database
    from portal.models import Team, User, fold, utcnow

    rng = random.Random(seed_value)
    started = time.perf_counter()
    with app.app_context():
        database.connect(reuse_if_open=True)
        pw_hash = passwords.hash_password(PASSWORD)
        with database.atomic():
            team_ids = []
            for i in range(1, n_teams + 1):
                name = f"Team {i:02d}"
                team_ids.append(
                    Team.insert(name=name, name_key=fold(name), created_at=utcnow()).execute()
                )
        now = utcnow()
        fields = [
            User.username,
            User.username_key,
            User.email,
            User.email_key,
            User.first_name,
            User.last_name,
            User.first_name_key,
            User.last_name_key,
            User.role,
            User.team,
            User.provider,
            User.disabled,
            User.password_hash,
            User.password_changed_at,
            User.must_change,
            User.temp_password_expires_at,
            User.security_stamp,
            User.failed_count,
            User.last_failed_at,
            User.locked_until,
            User.hard_locked,
            User.last_login_at,
            User.last_reset_at,
            User.language,
            User.created_at,
        ]
        # One INSERT statement, executed with executemany: peewee's insert_many spends most
        # of its time building SQL for every row, which made seeding 100k rows take a minute.
        sqlite = is_sqlite(app.config["DATABASE_URL"])
        mark = "?" if sqlite else "%s"
        sql = 'INSERT INTO "user" ({}) VALUES ({})'.format(
            ", ".join(f'"{f.column_name}"' for f in fields), ", ".join([mark] * len(fields))
        )
        rows = []
        for i in range(1, n_users + 1):
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(LAST_NAMES)
            username = f"user{i:06d}"
            email = f"{first}.{last}.{i}@example.test".lower() if (not varied or i % 20) else None
            if email is not None:
                # Mailbox names are ASCII (Passgate refuses others: they cannot be mailed).
                email = unicodedata.normalize("NFKD", fold(email)).encode("ascii", "ignore")
                email = email.decode().replace(" ", "")
            role, disabled, pw, must_change, locked_until, hard, provider = (
                "user",
                False,
                pw_hash,
                False,
                None,
                False,
                "identity",
            )
            last_login = None
            if varied:
                r = rng.random()
                if r < 0.02:
                    disabled = True
                elif r < 0.04:
                    locked_until = now + timedelta(minutes=rng.randint(1, 60))
                elif r < 0.05:
                    hard = True
                elif r < 0.08:
                    pw = None  # invitation pending
                elif r < 0.11:
                    must_change = True
                if rng.random() < 0.05:
                    provider = "sso"
                if i % 500 == 0:
                    role = "manager"
                if rng.random() < 0.8:
                    last_login = now - timedelta(seconds=rng.randint(0, 90 * 86400))
            rows.append(
                (
                    username,
                    fold(username),
                    email,
                    fold(email),
                    first,
                    last,
                    fold(first),
                    fold(last),
                    role,
                    team_ids[i % n_teams],
                    provider,
                    disabled,
                    pw,
                    now,
                    must_change,
                    None,
                    secrets.token_hex(16),
                    0,
                    None,
                    locked_until,
                    hard,
                    last_login,
                    None,
                    None,
                    now - timedelta(seconds=n_users - i),
                )
            )
            if len(rows) >= batch:
                _insert(database, sql, rows, sqlite)
                rows = []
        if rows:
            _insert(database, sql, rows, sqlite)
        managers = [u.id for u in User.select(User.id).where(User.role == "manager")]
        database.execute_sql("ANALYZE")  # fresh statistics, as after a real import
        database.close()
    if progress:
        print(
            f"seeded {n_users:,} users in {n_teams} teams in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return {"teams": team_ids, "managers": managers, "hash": pw_hash}


def _insert(database, sql: str, rows: list[tuple], sqlite: bool) -> None:
    with database.atomic():
        cursor = database.cursor()
        if sqlite:
            # peewee stores SQLite datetimes as str(datetime); do the same.
            rows = [tuple(str(v) if isinstance(v, datetime) else v for v in r) for r in rows]
            cursor.executemany(sql, rows)
        else:
            from psycopg2.extras import execute_batch

            execute_batch(cursor, sql, rows, page_size=len(rows))


def pct(values: list[float], p: float) -> float:
    """Percentile by nearest rank (p in 0..100)."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f} ms"


def explain(url: str, sql: str, params) -> list[str]:
    """The query plan as text lines (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL)."""
    from portal.db import database

    if is_sqlite(url):
        rows = database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return [str(r[-1]) for r in rows]
    rows = database.execute_sql("EXPLAIN " + sql, params).fetchall()
    return [r[0] for r in rows]


def aliases(sql: str, table: str = "user") -> set[str]:
    """The names ``table`` goes by in ``sql`` (peewee aliases tables as t1, t2…)."""
    names = {table}
    names.update(re.findall(rf'"{table}" AS "(\w+)"', sql))
    return names


def scans(url: str, plan: list[str], table: str = "user", sql: str = "") -> list[str]:
    """Plan lines that walk the whole ``table`` instead of seeking in an index.

    On SQLite ``SCAN user`` is a table scan; ``SCAN user USING [COVERING] INDEX x`` walks
    an index in order (cheap only when a LIMIT stops it early). On PostgreSQL a
    ``Seq Scan on "user"``.
    """
    names = "|".join(sorted(aliases(sql, table)))
    if is_sqlite(url):
        return [line for line in plan if re.match(rf"SCAN ({names})\b", line.strip())]
    return [line for line in plan if re.search(rf'Seq Scan on "?{table}"?\b', line)]


def load_note() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return "load average " + " ".join(fh.read().split()[:3])
    except OSError:
        return ""
