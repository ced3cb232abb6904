"""Database connection handling and the few engine-specific details.

This is the one module that knows SQLite from PostgreSQL.
"""

from __future__ import annotations

from peewee import DatabaseProxy, SqliteDatabase
from playhouse.db_url import connect

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -16000,
}


def open_database(url: str):
    """Create a peewee database from a URL (``sqlite:///path`` or ``postgresql://…``)."""
    if url.startswith("sqlite"):
        db = connect(url, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    else:
        db = connect(url, autorollback=True)
    return db


def init_app(app) -> None:
    """Bind the proxy to the configured database and open/close a connection per request."""
    db = open_database(app.config["DATABASE_URL"])
    database.initialize(db)
    app.extensions["peewee"] = db

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not database.is_closed():
            database.close()


def is_sqlite() -> bool:
    """True when the bound database is SQLite."""
    return isinstance(database.obj, SqliteDatabase)


def truncate_all(models) -> None:
    """Empty every table (tests). DELETE beats TRUNCATE on tiny tables by far."""
    with database.atomic():
        for model in reversed(models):
            model.delete().execute()
