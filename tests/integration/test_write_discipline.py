"""Write discipline: a busy or unreachable database is a 503 with Retry-After in the
user's language, never a 500 and never half-written; races on unique values are form
errors. (The autouse fixture in conftest also fails any test that runs bcrypt or SMTP
inside a transaction.)"""

from __future__ import annotations

import socket
import sqlite3
import threading

import peewee
import pytest

from portal import accounts
from portal.db import database
from portal.models import AuditEvent, ResetToken, User
from portal.schema import migrate

from ..helpers import (
    PASSWORD,
    csrf_of,
    forgot,
    link_from,
    login,
    path_of,
    people,
    post,
    post_form,
    says,
)

NEW = "amber falcon orchard 2231 tide"


def _count(app, model, *where) -> int:
    with app.app_context():
        database.connect(reuse_if_open=True)
        query = model.select()
        if where:
            query = query.where(*where)
        n = query.count()
        database.close()
        return n


@pytest.fixture
def sqlite_app(make_app, make_user, tmp_path):
    """Its own SQLite file on both CI legs: the write-lock behaviour is SQLite's."""
    path = tmp_path / "busy.db"
    app = make_app(DATABASE_URL=f"sqlite:///{path}", DATABASE_BUSY_TIMEOUT_MS=150)
    with app.app_context():
        migrate()
        database.close()
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        accounts.create_user("alice", email="alice@example.test", password=PASSWORD)
        database.close()
    app.db_path = path
    return app


def _hold_write_lock(path):
    """Another process's writer: holds SQLite's one write lock until released."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_busy_sqlite_is_a_503_with_retry_after_in_the_users_language(sqlite_app):
    client = sqlite_app.test_client()
    page = client.get("/login?lang=fr")
    holder = _hold_write_lock(sqlite_app.db_path)
    try:
        response = client.post(
            "/login",
            data={"identifier": "alice", "password": PASSWORD, "csrf_token": csrf_of(page)},
        )
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Rien n’a été perdu" in response.get_data(as_text=True)
    # Nothing half-written: no audit row, no session, no throttle change.
    assert _count(sqlite_app, AuditEvent, AuditEvent.action == "login.success") == 0
    # Once the lock is free, the same sign-in works.
    assert login(client, "alice").status_code == 303
    assert _count(sqlite_app, AuditEvent, AuditEvent.action == "login.success") == 1


def test_unreachable_database_is_a_503_not_a_500(make_app, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    if "postgresql" in (make_app().config["DATABASE_URL"]):
        url = f"postgresql://postgres@127.0.0.1:{port}/test"
    else:
        (tmp_path / "a-folder").mkdir()
        url = f"sqlite:///{tmp_path}/a-folder"  # a folder is not a database file
    app = make_app(DATABASE_URL=url)
    response = app.test_client().get("/login", headers={"Accept-Language": "fr"})
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "Le service est très sollicité" in response.get_data(as_text=True)


def test_a_failure_after_the_link_is_consumed_leaves_everything_as_it_was(
    app, client, make_user, outbox, monkeypatch
):
    make_user("alice")
    forgot(client, "alice")
    client.get(path_of(link_from(outbox.deliver(), "alice@example.test")))
    from portal import sessions

    real = sessions.end_all

    def fail(user):
        raise peewee.OperationalError("database is locked")

    monkeypatch.setattr(sessions, "end_all", fail)
    response = post_form(client, "/password/reset", {"password": NEW, "confirm": NEW})
    assert response.status_code == 503
    # The transaction rolled back as a whole: the link is unused, the password unchanged.
    assert _count(app, ResetToken, ResetToken.used_at.is_null(False)) == 0
    assert login(app.test_client(), "alice").status_code == 303
    monkeypatch.setattr(sessions, "end_all", real)
    assert (
        post_form(client, "/password/reset", {"password": NEW, "confirm": NEW}).status_code == 303
    )
    assert login(app.test_client(), "alice", NEW).status_code == 303


def test_two_identical_adds_racing_give_one_user_and_one_form_error(
    app, client, make_user, monkeypatch
):
    people(make_user)
    login(client, "admin")
    # Both requests pass the friendly pre-check (as when they arrive at the same moment);
    # the unique index decides and the loser gets the form error, not a 500.
    monkeypatch.setattr(accounts, "find", lambda identifier: None)
    monkeypatch.setattr(accounts, "check_new_username", lambda username, **kw: None)
    data = {
        "username": "dora",
        "email": "dora@example.test",
        "first_name": "Dora",
        "last_name": "Diaz",
        "role": "user",
        "provider": "identity",
    }
    first = post(client, "/admin/users/new", data, htmx=True)
    second = post(client, "/admin/users/new", data, htmx=True)
    assert first.status_code == 200
    assert second.status_code == 422
    assert says(second.get_data(as_text=True), "USER_EXISTS")
    assert _count(app, User, User.username_key == "dora") == 1


def test_concurrent_creates_of_one_username_never_raise(app, make_user):
    """Eight threads create the same account at once, on the real engine."""
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def create():
        with app.test_request_context():
            database.connect(reuse_if_open=True)
            barrier.wait()
            try:
                accounts.create_user("erin", email="erin@example.test", password=PASSWORD)
                outcomes.append("created")
            except accounts.AccountError as exc:
                outcomes.append(exc.field)
            finally:
                database.close()

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["created"] + ["username"] * 7
    assert _count(app, User, User.username_key == "erin") == 1


class _Deadlock(Exception):
    pgcode = "40P01"  # what psycopg2 reports for deadlock_detected


def test_a_deadlock_or_serialization_failure_is_retried(app, client, make_user, monkeypatch):
    from portal.auth import views

    make_user("alice")
    real = views.authenticate
    calls = []

    def once_aborted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise peewee.OperationalError(_Deadlock("deadlock detected"))
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "authenticate", once_aborted)
    assert login(client, "alice").status_code == 303
    assert len(calls) == 2


def test_a_conflict_that_persists_is_a_503(app, client, make_user, monkeypatch):
    from portal.auth import views

    make_user("alice")

    def always_aborted(*args, **kwargs):
        raise peewee.OperationalError(_Deadlock("deadlock detected"))

    monkeypatch.setattr(views, "authenticate", always_aborted)
    response = login(client, "alice")
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_a_worker_dying_while_it_answers_a_request_leaves_the_request_for_the_next(
    app, client, make_user, monkeypatch
):
    from portal import links
    from portal.models import OutboxMail, RecoveryRequest
    from portal.recovery.service import process_pending

    make_user("alice")
    forgot(client, "alice")
    real = links.issue

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")  # what kill -9 would leave: nothing committed

    monkeypatch.setattr(links, "issue", crash)
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        with pytest.raises(SystemExit):
            process_pending()
        assert RecoveryRequest.get().processed_at is None
        assert OutboxMail.select().count() == 0
        monkeypatch.setattr(links, "issue", real)
        assert process_pending() == 1
        assert OutboxMail.select().where(OutboxMail.kind == "reset").count() == 1
        database.close()


def test_a_locked_rate_limit_file_is_a_503_too(app, client, monkeypatch):
    import sqlite3

    from portal import ratelimit_store

    def locked(self, key, limit, expiry, amount=1):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ratelimit_store.SQLiteStorage, "acquire_entry", locked)
    response = post_form(client, "/password/forgot", {"identifier": "someone"})
    assert response.status_code == 503 and response.headers["Retry-After"]
