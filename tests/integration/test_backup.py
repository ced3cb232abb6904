"""``passgate backup`` / ``passgate restore``: a consistent SQLite copy while writers run,
a restore that serves the same accounts, and a pointer to pg_dump for PostgreSQL.

Backup is an SQLite feature, so these tests use their own SQLite files on both CI legs.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import stat
import time

import pytest
from click.testing import CliRunner

from portal import create_app
from portal.cli import main
from portal.db import database

from ..helpers import PASSWORD, base_overrides, login

SECRET = "test-secret-key-not-for-production"


def sqlite_app(tmp_path, db_file=None, instance=None, **overrides):
    """An app on its own SQLite file, schema migrated (the module-global proxy now points
    at it: use one app at a time)."""
    from portal.access import clear_cache
    from portal.schema import migrate

    config = base_overrides(tmp_path)
    if db_file is None:
        del config["DATABASE_URL"]  # the instance folder's passgate.db
    else:
        config["DATABASE_URL"] = f"sqlite:///{db_file}"
    app = create_app({**config, **overrides}, instance_path=str(instance or tmp_path / "instance"))
    clear_cache()
    with app.app_context():
        migrate()
        database.close()
    return app


def run_cli(db_file, *args):
    env = {
        "PASSGATE_SECRET_KEY": SECRET,
        "PASSGATE_DATABASE_URL": f"sqlite:///{db_file}",
        "PASSGATE_BASE_URL": "http://localhost",
        "PASSGATE_INSTANCE": os.path.dirname(db_file),
    }
    return CliRunner().invoke(main, list(args), env=env)


def add_user(app, username, password=PASSWORD):
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        user, _temp = create_user(username, email=f"{username}@example.test", password=password)
        database.close()
    return user


def signs_in(app, username, password=PASSWORD) -> bool:
    response = login(app.test_client(), username, password)
    assert response.status_code in (303, 401), response.status_code
    return response.status_code == 303


# --- writer process: committed transactions, each a user and its audit event ----------


def _writer(db_file, pw_hash, committed, stop, failure):
    """Insert users w000001, w000002, … each with its audit event in ONE transaction;
    publish the number of the last committed one. Bounded: 60 s or 100,000 rows."""
    from peewee import SqliteDatabase

    from portal.models import AuditEvent, User

    try:
        db = SqliteDatabase(
            db_file,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": 5000,
                "synchronous": "normal",
                "foreign_keys": 1,
            },
        )
        database.initialize(db)
        database.connect()
        deadline = time.monotonic() + 60
        number = 0
        while not stop.is_set() and time.monotonic() < deadline and number < 100_000:
            number += 1
            name = f"w{number:06d}"
            with database.atomic():
                user = User.create(
                    username=name, username_key=name, password_hash=pw_hash, security_stamp="s" * 32
                )
                AuditEvent.create(
                    action="user.create", target=user, target_name=name, detail=str(number)
                )
            committed.value = number
    except BaseException as exc:  # reported to the test, which fails on it
        failure.value = f"{type(exc).__name__}: {exc}"[:200].encode()


def _bulk_audit(db_file, rows):
    """Make the database a few MB so that a copy takes a while."""
    conn = sqlite3.connect(db_file)
    conn.executemany(
        "INSERT INTO audit_event (created_at, action, outcome, actor_name, target_name, ip, "
        "detail, repeats) VALUES ('2026-01-01 00:00:00', 'seed', 'success', '', '', "
        "'127.0.0.1', ?, 1)",
        (("x" * 200,) for _ in range(rows)),
    )
    conn.commit()
    conn.close()


def test_backup_while_another_process_writes_is_a_consistent_snapshot(tmp_path):
    db_file = str(tmp_path / "live.db")
    app = sqlite_app(tmp_path, db_file)
    from portal import passwords

    with app.app_context():
        pw_hash = passwords.hash_password(PASSWORD)
    _bulk_audit(db_file, 40_000)

    ctx = multiprocessing.get_context("spawn")
    committed = ctx.Value("q", 0)
    failure = ctx.Array("c", 256)
    stop = ctx.Event()
    writer = ctx.Process(target=_writer, args=(db_file, pw_hash, committed, stop, failure))
    writer.start()
    copies = []
    try:
        deadline = time.monotonic() + 30
        while committed.value < 20 and time.monotonic() < deadline and writer.is_alive():
            time.sleep(0.01)
        assert committed.value >= 20, failure.value.decode()
        for n in range(3):
            target = str(tmp_path / f"copy{n}.db")
            before = committed.value
            result = run_cli(db_file, "backup", target)
            after = committed.value
            assert result.exit_code == 0, result.output
            assert "integrity ok" in result.output
            copies.append((target, before, after))
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join(30)
    assert failure.value.decode() == ""  # the writer never failed (no "database is locked")
    final = committed.value
    assert final > copies[-1][2]  # it went on writing after the last backup
    assert any(after > before for _t, before, after in copies)  # and during the backups

    for target, before, after in copies:
        assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
        assert not os.path.exists(target + "-wal")  # one self-contained file
        conn = sqlite3.connect(target)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        names = [
            r[0]
            for r in conn.execute(
                "SELECT username FROM user WHERE username LIKE 'w%' ORDER BY username"
            )
        ]
        k = len(names)
        # Every transaction committed before the backup started is there; the copy is a
        # snapshot: users 1..k without gaps, k at most what was committed when it ended.
        assert before <= k <= after, (before, k, after)
        assert names == [f"w{i:06d}" for i in range(1, k + 1)]
        pairs = conn.execute(
            "SELECT COUNT(*) FROM audit_event a JOIN user u ON a.target_id = u.id "
            "WHERE a.action = 'user.create' AND a.detail = substr(u.username, 2) + 0"
        ).fetchone()
        assert pairs == (k,)  # no user without its audit event, none the other way round
        assert conn.execute(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'seed'"
        ).fetchone() == (40_000,)
        conn.close()

    # A copy taken under load serves sign-ins with the passwords of that time.
    target, before, _after = copies[-1]
    copy_app = sqlite_app(tmp_path, target)
    assert signs_in(copy_app, f"w{before:06d}")
    assert not signs_in(copy_app, f"w{before:06d}", "wrong password for sure 123")


def test_backup_refuses_to_overwrite_unless_forced(tmp_path):
    db_file = str(tmp_path / "live.db")
    sqlite_app(tmp_path, db_file)
    target = tmp_path / "copy.db"
    target.write_text("precious")
    os.chmod(target, 0o644)
    refused = run_cli(db_file, "backup", str(target))
    assert refused.exit_code != 0
    assert "already exists" in refused.output and "--force" in refused.output
    assert target.read_text() == "precious"
    forced = run_cli(db_file, "backup", "--force", str(target))
    assert forced.exit_code == 0, forced.output
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sqlite3.connect(target).execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".copy.db")]
    assert leftovers == []


def test_backup_of_a_missing_database_creates_nothing(tmp_path):
    missing = str(tmp_path / "nowhere.db")
    result = run_cli(missing, "backup", str(tmp_path / "copy.db"))
    assert result.exit_code != 0 and "no database at" in result.output
    assert not os.path.exists(missing) and not os.path.exists(tmp_path / "copy.db")


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_postgresql_gets_a_one_line_pointer_without_the_password(tmp_path, command):
    url = "postgresql://passgate:s3cret-Pa55@db.example.test:5433/passgate_prod"
    (tmp_path / "dump.db").write_bytes(b"")
    env = {
        "PASSGATE_SECRET_KEY": SECRET,
        "PASSGATE_DATABASE_URL": url,
        "PASSGATE_INSTANCE": str(tmp_path / "instance"),
    }
    result = CliRunner().invoke(main, [command, str(tmp_path / "dump.db")], env=env)
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1
    tool = "pg_dump" if command == "backup" else "pg_restore"
    assert tool in result.output
    assert "passgate_prod" in result.output and "-U passgate" in result.output
    assert "-h db.example.test -p 5433" in result.output
    assert "s3cret" not in result.output
    assert str(tmp_path / "dump.db") in result.output  # the file that was asked for
    assert (tmp_path / "dump.db").read_bytes() == b""


def test_restore_serves_the_same_users_and_passwords(tmp_path):
    from portal.accounts import replace_password
    from portal.models import User

    instance = tmp_path / "instance"
    db_file = str(instance / "passgate.db")
    app = sqlite_app(tmp_path, instance=instance)
    add_user(app, "alice")
    add_user(app, "bob")
    backup_file = str(tmp_path / "nightly.db")
    result = run_cli(db_file, "backup", backup_file)
    assert result.exit_code == 0, result.output
    assert "2 user(s)" in result.output

    # After the backup: alice changes her password, carol arrives.
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        replace_password(
            User.get(User.username == "alice"),
            "a completely new passphrase 42",
            how="admin",
            action="admin.set_password",
        )
        database.close()
    add_user(app, "carol")

    # 1. The documented manual path: a fresh instance folder with the file copied in.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.copyfile(backup_file, fresh / "passgate.db")
    fresh_app = sqlite_app(tmp_path, instance=fresh)
    assert signs_in(fresh_app, "alice") and signs_in(fresh_app, "bob")
    assert not signs_in(fresh_app, "alice", "a completely new passphrase 42")
    assert not signs_in(fresh_app, "carol")

    # 2. `passgate restore` refuses while the database is open elsewhere (a server)...
    server = sqlite3.connect(db_file)
    server.execute("PRAGMA journal_mode = wal")
    server.execute("SELECT COUNT(*) FROM user").fetchone()
    refused = run_cli(db_file, "restore", backup_file)
    assert refused.exit_code != 0 and "in use" in refused.output
    assert server.execute("SELECT COUNT(*) FROM user WHERE username = 'carol'").fetchone() == (1,)
    server.close()

    # ... and once it is stopped, puts the backup in place and keeps the previous file.
    restored = run_cli(db_file, "restore", backup_file)
    assert restored.exit_code == 0, restored.output
    kept = [n for n in os.listdir(instance) if n.startswith("passgate.db.before-restore-")]
    assert len(kept) == 1 and kept[0] in restored.output
    assert not os.path.exists(db_file + "-wal")
    assert stat.S_IMODE(os.stat(db_file).st_mode) == 0o600
    back = sqlite_app(tmp_path, instance=instance)
    assert signs_in(back, "alice") and signs_in(back, "bob")
    assert not signs_in(back, "carol")
    previous = sqlite3.connect(instance / kept[0])
    assert previous.execute("SELECT COUNT(*) FROM user WHERE username = 'carol'").fetchone() == (1,)


def test_restore_refuses_a_file_that_is_not_a_passgate_backup(tmp_path):
    db_file = str(tmp_path / "live.db")
    sqlite_app(tmp_path, db_file)
    before = open(db_file, "rb").read()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    for path, reason in ((junk, "not an SQLite database"), (other, "not a Passgate database")):
        result = run_cli(db_file, "restore", str(path))
        assert result.exit_code != 0 and reason in result.output, result.output
    assert open(db_file, "rb").read() == before
    assert [n for n in os.listdir(tmp_path) if "restore" in n] == []


def test_unwritable_destination_is_a_one_line_error(tmp_path):
    db_file = str(tmp_path / "live.db")
    sqlite_app(tmp_path, db_file)
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a missing folder
            target = str(tmp_path / "missing" / "copy.db")
        else:
            target = str(locked / "copy.db")
        result = run_cli(db_file, "backup", target)
    finally:
        os.chmod(locked, 0o700)
    assert result.exit_code != 0
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_corrupt_database_is_reported_not_copied(tmp_path):
    db_file = tmp_path / "live.db"
    db_file.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    result = run_cli(str(db_file), "backup", str(tmp_path / "copy.db"))
    assert result.exit_code != 0 and "Error: database:" in result.output
    assert not os.path.exists(tmp_path / "copy.db")
    assert [n for n in os.listdir(tmp_path) if n.startswith(".copy.db")] == []


def test_restore_into_a_new_instance_folder(tmp_path):
    db_file = str(tmp_path / "old" / "passgate.db")
    os.makedirs(os.path.dirname(db_file))
    app = sqlite_app(tmp_path, db_file)
    add_user(app, "alice")
    backup_file = str(tmp_path / "b.db")
    assert run_cli(db_file, "backup", backup_file).exit_code == 0
    new_db = str(tmp_path / "new" / "instance" / "passgate.db")
    result = run_cli(new_db, "restore", backup_file)
    assert result.exit_code == 0, result.output
    assert "kept as" not in result.output
    assert os.listdir(os.path.dirname(new_db)) == ["passgate.db"]
    assert signs_in(sqlite_app(tmp_path, new_db), "alice")
