"""Per-IP rate-limit counts shared by every process of one server, without Redis.

``passgate serve`` runs several worker processes; a memory storage would give each its own
counts (an attacker would get N times the limit). This storage (the interface of a
``limits`` storage, without importing ``limits``: see ``portal/ratelimit.py``) keeps the moving-window entries in a small SQLite file of their own in the instance
folder (never the main database, so a burst of refusals never competes with sign-ins for
its write lock). Several servers on different machines share counts through Redis
(``PASSGATE_REDIS_URL``) instead.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time

SCHEME = "passgate+sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS hit (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS hit_key_at ON hit (key, at);
CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, value INTEGER NOT NULL,
                                    expires_at REAL NOT NULL);
"""
PURGE_EVERY = 300.0  # seconds; entries older than a day (the longest window) go
LONGEST_WINDOW = 86400


class SQLiteStorage:
    def __init__(self, uri: str):
        self.path = uri.split("://", 1)[1]
        self._local = threading.local()
        self._last_purge = 0.0

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():  # never share across fork
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=5, isolation_level=None, check_same_thread=False
            )
            self._set_up(conn)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @staticmethod
    def _set_up(conn: sqlite3.Connection) -> None:
        """WAL and the tables. Several processes opening a new file at once race for the
        journal-mode switch, which SQLite answers "locked" without waiting: try again."""
        for attempt in range(200):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")  # counts are disposable
                conn.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.01 + 0.02 * random.random())  # nosec B311 (jitter)

    def _write(self, fn):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # --- moving window (what Passgate uses) -----------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        self._maybe_purge(now)

        def acquire(db):
            (count,) = db.execute(
                "SELECT COUNT(*) FROM hit WHERE key = ? AND at >= ?", (key, now - expiry)
            ).fetchone()
            if count + amount > limit:
                return False
            db.executemany("INSERT INTO hit (key, at) VALUES (?, ?)", [(key, now)] * amount)
            return True

        return self._write(acquire)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        oldest, count = (
            self._db()
            .execute(
                "SELECT MIN(at), COUNT(*) FROM hit WHERE key = ? AND at >= ?", (key, now - expiry)
            )
            .fetchone()
        )
        return (oldest if count else now), count

    def _maybe_purge(self, now: float) -> None:
        if now - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = now
        self._write(
            lambda db: (
                db.execute("DELETE FROM hit WHERE at < ?", (now - LONGEST_WINDOW,)),
                db.execute("DELETE FROM counter WHERE expires_at < ?", (now,)),
            )
        )

    # --- plain counters (the Storage interface; fixed-window strategies) ------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()

        def add(db):
            db.execute("DELETE FROM counter WHERE key = ? AND expires_at <= ?", (key, now))
            db.execute(
                "INSERT INTO counter (key, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                (key, amount, now + expiry),
            )
            return db.execute("SELECT value FROM counter WHERE key = ?", (key,)).fetchone()[0]

        return self._write(add)

    def get(self, key: str) -> int:
        row = (
            self._db()
            .execute(
                "SELECT value FROM counter WHERE key = ? AND expires_at > ?", (key, time.time())
            )
            .fetchone()
        )
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._db().execute("SELECT expires_at FROM counter WHERE key = ?", (key,)).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        def wipe(db):
            n = db.execute("DELETE FROM hit").rowcount
            return n + db.execute("DELETE FROM counter").rowcount

        return self._write(wipe)

    def clear(self, key: str) -> None:
        self._write(
            lambda db: (
                db.execute("DELETE FROM hit WHERE key = ?", (key,)),
                db.execute("DELETE FROM counter WHERE key = ?", (key,)),
            )
        )
