"""Database connection handling and the few engine-specific details.

This is the one module that knows SQLite from PostgreSQL.
"""

from __future__ import annotations

import functools
import os
import random
import sqlite3
import time

from peewee import (
    OP,
    AutoField,
    DatabaseProxy,
    Expression,
    InterfaceError,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
)
from playhouse.db_url import connect
from playhouse.pool import MaxConnectionsExceeded

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
}


def open_database(url: str, pool: bool = False, busy_timeout_ms: int = 5000):
    """Create a peewee database from a URL (``sqlite:///path`` or ``postgresql://…``).

    With ``pool`` (the long-running server), connections are kept and reused: opening one
    per request costs the PRAGMAs or the PostgreSQL handshake, and closing the last SQLite
    connection checkpoints the WAL with an fsync.
    """
    scheme, rest = url.split("://", 1)
    if pool and "+pool" not in scheme:
        url = f"{scheme}+pool://{rest}"
    options = {"max_connections": 32, "stale_timeout": 300} if pool else {}
    if scheme.startswith("sqlite"):
        path = rest[1:]
        if path and path != ":memory:":
            # First run: create the folder that will hold the database file.
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # Every transaction takes the write lock when it begins (BEGIN IMMEDIATE): a
        # deferred transaction that has read cannot become a writer once another
        # connection committed (SQLITE_BUSY_SNAPSHOT), and busy_timeout never retries
        # that. Waiting for the lock up front is bounded by busy_timeout instead.
        pragmas = {**SQLITE_PRAGMAS, "busy_timeout": int(busy_timeout_ms)}
        return connect(
            url, pragmas=pragmas, check_same_thread=False, lock_type="IMMEDIATE", **options
        )
    return connect(url, **options)


def write():
    """A short write transaction (``with write(): …``).

    Never call bcrypt, SMTP, LDAP or anything slow inside it: on SQLite it holds the one
    write lock of the database for its whole duration.
    """
    return database.atomic()


def insert_rows(model, rows: list[dict]) -> None:
    """Insert many rows with one prepared statement (``executemany``): for bulk work,
    where building SQL per row through the ORM would cost more than the inserts."""
    if not rows:
        return
    # Every column, with the model's defaults (peewee applies them in Python, not in SQL).
    fields = [f for f in model._meta.sorted_fields if not isinstance(f, AutoField)]
    defaults = {f.name: f.default for f in fields if f.name not in rows[0]}
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join([database.param] * len(fields))
    # nosec below: table and column names come from the model, every value is bound.
    sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'  # nosec B608

    def value(field, row):
        if field.name in row:
            return field.db_value(row[field.name])
        default = defaults[field.name]
        return field.db_value(default() if callable(default) else default)

    database.cursor().executemany(sql, [tuple(value(f, row) for f in fields) for row in rows])


def in_transaction() -> bool:
    """True inside a transaction on this thread (tests guard slow calls with it)."""
    try:
        return database.in_transaction()
    except AttributeError:  # the proxy is not bound to a database yet
        return False


# Errors that mean "the database cannot serve this now", not "this request is wrong":
# SQLite still busy after busy_timeout, PostgreSQL down, restarting or unreachable, a
# serialization failure or deadlock (rolled back), the connection pool exhausted.
def is_unavailable(exc: BaseException) -> bool:
    # sqlite3.OperationalError: the per-IP limits' own SQLite file, still locked after its
    # timeout (the main database's errors arrive wrapped by peewee).
    return isinstance(
        exc, (OperationalError, InterfaceError, MaxConnectionsExceeded, sqlite3.OperationalError)
    )


# PostgreSQL rolled the transaction back because of a concurrent one: trying again is safe.
RETRYABLE_PGCODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
RETRIES = 3


def is_retryable(exc: BaseException) -> bool:
    seen = {id(exc)}
    while exc is not None:
        for candidate in (exc, getattr(exc, "orig", None), *getattr(exc, "args", ())):
            if getattr(candidate, "pgcode", None) in RETRYABLE_PGCODES:
                return True
        exc = exc.__cause__ or exc.__context__
        if exc is None or id(exc) in seen:
            return False
        seen.add(id(exc))
    return False


def retry_conflicts(view):
    """Run a view again (up to ``RETRIES`` times, after a short random pause) when
    PostgreSQL aborted its transaction for a serialization failure or a deadlock; the
    aborted transaction left nothing behind. Still failing: the 503 handler answers."""

    @functools.wraps(view)
    def run(*args, **kwargs):
        for attempt in range(RETRIES):
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                if attempt == RETRIES - 1 or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # nosec B311 (jitter)
        raise AssertionError("unreachable")

    return run


def discard_broken_connections() -> None:
    """After a connection failure: drop the current and the idle pooled connections, so
    the next requests open fresh ones once the database is back (PostgreSQL restart)."""
    db = database.obj
    try:
        if hasattr(db, "manual_close"):
            db.manual_close()  # closes the driver connection, never returns it to the pool
        elif not db.is_closed():
            db.close()
    except Exception:  # noqa: BLE001 — the connection is already broken
        db._state.reset()
    if hasattr(db, "close_idle"):
        db.close_idle()


def init_app(app) -> None:
    """Bind the proxy to the configured database and open/close a connection per request."""
    db = open_database(
        app.config["DATABASE_URL"],
        pool=app.config.get("DATABASE_POOL", False),
        busy_timeout_ms=app.config["DATABASE_BUSY_TIMEOUT_MS"],
    )
    database.initialize(db)
    app.extensions["peewee"] = db

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if database.is_closed():
            return
        try:
            database.close()
        except Exception:  # noqa: BLE001 — a broken connection (database restarted)
            discard_broken_connections()


def is_sqlite() -> bool:
    """True when the bound database is SQLite."""
    return isinstance(database.obj, SqliteDatabase)


def truncate_all(models) -> None:
    """Empty every table (tests). DELETE beats TRUNCATE on tiny tables by far."""
    with database.atomic():
        for model in reversed(models):
            model.delete().execute()


# Prefix search on the casefolded *_key columns (user list, audit filters).
PREFIX_COLUMNS = (
    ("user", "username_key"),
    ("user", "email_key"),
    ("user", "first_name_key"),
    ("user", "last_name_key"),
)
# The largest code point sorts after every key that starts with the prefix
# (SQLite compares UTF-8 bytes; U+10FFFF encodes as F4 8F BF BF).
KEY_CEILING = "\U0010ffff"


def starts_with(column, key: str):
    """``column`` starts with ``key``, answered from an index on both engines.

    SQLite compares text by code point, so a range works with the ordinary index.
    PostgreSQL compares with the database collation, so it uses ``LIKE 'key%'`` with the
    ``text_pattern_ops`` indexes created by ``create_prefix_indexes``.
    """
    if is_sqlite():
        return (column >= key) & (column < key + KEY_CEILING)
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Expression(column, OP.LIKE, escaped + "%")


def create_prefix_indexes(db) -> None:
    """PostgreSQL only: pattern-ops indexes that serve ``LIKE 'prefix%'``."""
    if not isinstance(db, PostgresqlDatabase):
        return
    for table, column in PREFIX_COLUMNS:
        db.execute_sql(
            f'CREATE INDEX IF NOT EXISTS "{table}_{column}_prefix" '
            f'ON "{table}" ("{column}" text_pattern_ops)'
        )
