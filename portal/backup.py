"""``passgate backup`` and ``passgate restore``: a consistent copy of the SQLite database.

Backup uses SQLite's online backup API in one step: the copy is read inside a single read
transaction, so it is the database as of one instant (every transaction committed before
it, none of those committed after). In WAL mode, which Passgate always uses, readers do
not block writers: the running server keeps signing people in while the copy is made.
The copy is written to a private temporary file (mode 0600) next to the destination,
checked with ``PRAGMA integrity_check``, switched to a self-contained rollback journal
(no ``-wal`` file to carry around), and only then given its final name.

PostgreSQL is backed up with its own tools (``pg_dump``); ``pointer()`` says how, without
ever repeating the password from the URL.

Restore replaces the configured SQLite database with a backup file. It refuses while any
other connection has the database open: leaving WAL mode needs exclusive access, so
``PRAGMA journal_mode=DELETE`` on the live database doubles as the "is it in use?" test
(a running ``passgate serve`` or ``mail-worker`` keeps connections open). The previous
database is kept next to it as ``<name>.before-restore-<UTC time>``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

MIGRATIONS_TABLE = "schema_migration"


class BackupError(Exception):
    """A one-line, operator-facing reason (the CLI prints it and exits non-zero)."""


@dataclass
class Result:
    source: str
    destination: str
    size: int
    users: int


def sqlite_path(url: str) -> str | None:
    """The file path of a ``sqlite:///…`` URL; None for any other engine."""
    scheme, _sep, rest = url.partition("://")
    if not scheme.split("+")[0] == "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        raise BackupError("the database is in memory: there is nothing to back up")
    return os.path.abspath(path)


def pointer(url: str, action: str = "backup", file: str = "FILE") -> str:
    """One line telling how to back up (or restore) a PostgreSQL database: pg_dump.

    Host, port, user and database come from the URL; the password never appears.
    """
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/")) or "DBNAME"
    options = []
    if parts.hostname:
        options.append(f"-h {parts.hostname}")
    if parts.port:
        options.append(f"-p {parts.port}")
    if parts.username:
        options.append(f"-U {unquote(parts.username)}")
    opts = " ".join(options) + (" " if options else "")
    if action == "restore":
        return (
            f"PostgreSQL: restore with pg_restore (stop Passgate first), e.g. "
            f"`pg_restore {opts}--clean --if-exists -d {dbname} {shlex.quote(file)}`."
        )
    return (
        f"PostgreSQL: passgate backup copies SQLite only; use pg_dump, e.g. "
        f"`pg_dump {opts}-Fc -f {shlex.quote(file)} {dbname}` (the password comes from ~/.pgpass or "
        f"PGPASSWORD, never from the command line)."
    )


def _private_file(path: str) -> None:
    """Create ``path`` empty with mode 0600 (fails if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask
    os.close(fd)


def _temp_name(final: str, tag: str) -> str:
    folder, name = os.path.split(final)
    return os.path.join(folder, f".{name}.{tag}-{os.getpid()}-{os.urandom(4).hex()}")


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _sidecars(path: str) -> tuple[str, str, str]:
    return path + "-wal", path + "-shm", path + "-journal"


def _check_copy(conn: sqlite3.Connection, what: str) -> int:
    """Integrity check and Passgate schema check; returns the number of users."""
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise BackupError(f"{what} failed the integrity check: {problems[0]}")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if MIGRATIONS_TABLE not in tables or "user" not in tables:
        raise BackupError(f"{what} is not a Passgate database (no user table)")
    return conn.execute('SELECT COUNT(*) FROM "user"').fetchone()[0]


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(temp: str, final: str, force: bool) -> None:
    """Give ``temp`` its final name: atomically, and never over a file unless ``force``."""
    _fsync(temp)
    if force:
        os.replace(temp, final)
    else:
        try:
            os.link(temp, final)  # fails if ``final`` appeared meanwhile
        except FileExistsError:
            raise BackupError(f"{final} already exists (use --force to replace it)") from None
        os.unlink(temp)
    with contextlib.suppress(OSError):
        _fsync(os.path.dirname(final) or ".")


def _one_line(call, *args):
    """Run ``call``; file-system and SQLite errors become a one-line BackupError."""
    try:
        return call(*args)
    except sqlite3.Error as exc:
        raise BackupError(f"database: {exc}") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise BackupError(f"{where}{exc.strerror or exc}") from None


def backup(url: str, destination: str, *, force: bool = False) -> Result:
    """Copy the SQLite database at ``url`` to ``destination`` while it stays in use."""
    return _one_line(_backup, url, destination, force)


def restore(url: str, backup_file: str) -> tuple[Result, str | None]:
    """Replace the SQLite database at ``url`` with ``backup_file``.

    Returns the result and the path where the previous database was kept (None if there
    was none). Refuses while the database is open elsewhere.
    """
    return _one_line(_restore, url, backup_file)


def _paths(url: str, action: str, file: str) -> tuple[str, str]:
    """The SQLite file of ``url`` and ``file`` made absolute; for another engine, the
    error tells what to use instead."""
    database = sqlite_path(url)
    if database is None:
        raise BackupError(pointer(url, action, file))
    return database, os.path.abspath(file)


def _backup(url: str, destination: str, force: bool) -> Result:
    source, destination = _paths(url, "backup", destination)
    if not os.path.isfile(source):
        raise BackupError(f"no database at {source}")
    if os.path.isdir(destination):
        raise BackupError(f"{destination} is a folder; give a file name")
    if not os.path.isdir(os.path.dirname(destination)):
        raise BackupError(f"no folder {os.path.dirname(destination)}")
    if os.path.exists(destination) and not force:
        raise BackupError(f"{destination} already exists (use --force to replace it)")
    if os.path.exists(destination) and os.path.samefile(source, destination):
        raise BackupError("the backup file cannot be the database itself")
    temp = _temp_name(destination, "backup")
    _private_file(temp)
    try:
        # mode=rw: never create an empty database where the real one is missing.
        src = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
        dst = sqlite3.connect(temp)
        try:
            src.execute("PRAGMA busy_timeout = 30000")
            # pages=-1: one step, one read transaction, one consistent snapshot. Copying
            # in slices would restart whenever the server writes in between.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            users = _check_copy(dst, "the copy")
        finally:
            dst.close()
            src.close()
        _remove(*_sidecars(temp))
        size = os.path.getsize(temp)
        _publish(temp, destination, force)
    except BaseException:
        _remove(temp, *_sidecars(temp))
        raise
    return Result(source, destination, size, users)


def _restore(url: str, backup_file: str) -> tuple[Result, str | None]:
    target, backup_file = _paths(url, "restore", backup_file)
    if not os.path.isfile(backup_file):
        raise BackupError(f"no file {backup_file}")
    if os.path.exists(target) and os.path.samefile(target, backup_file):
        raise BackupError("the backup file is the database itself")
    with open(backup_file, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise BackupError(f"{backup_file} is not an SQLite database")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temp = _temp_name(target, "restore")
    _private_file(temp)
    live = None
    kept = None
    try:
        # Copy first (through SQLite, so a backup left in WAL mode is read whole), check it.
        src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True, timeout=5)
        dst = sqlite3.connect(temp)
        try:
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode = DELETE")
            users = _check_copy(dst, backup_file)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{backup_file}: {exc}") from None
        finally:
            dst.close()
            src.close()
        _remove(*_sidecars(temp))
        if os.path.exists(target):
            live = sqlite3.connect(
                f"file:{target}?mode=rw", uri=True, timeout=0, isolation_level=None
            )
            try:
                # Leaving WAL needs every other connection closed: the "in use" test. It
                # also checkpoints the WAL into the file, so no -wal is left to be replayed
                # onto the restored database.
                mode = live.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
                if mode != "delete":
                    raise sqlite3.OperationalError("database is locked")
                live.execute("BEGIN EXCLUSIVE")  # nobody starts using it meanwhile
            except sqlite3.OperationalError:
                raise BackupError(
                    f"{target} is in use: stop passgate serve and any "
                    f"mail-worker, then run restore again"
                ) from None
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            kept = f"{target}.before-restore-{stamp}"
            os.replace(target, kept)
            os.chmod(kept, 0o600)  # it holds password hashes too
        _fsync(temp)
        os.replace(temp, target)
        _remove(*_sidecars(target))
        with contextlib.suppress(OSError):
            _fsync(os.path.dirname(target))
    except BaseException:
        _remove(temp, *_sidecars(temp))
        if kept and not os.path.exists(target):
            os.replace(kept, target)  # put the previous database back
        raise
    finally:
        if live is not None:
            live.close()
    return Result(backup_file, target, os.path.getsize(target), users), kept
