"""Shared fixtures.

The database engine follows ``PASSGATE_TEST_DATABASE_URL``: unset, every test gets its own
SQLite file; set to a PostgreSQL URL (the CI's second leg), each test process uses its own
database (that one in a serial run, ``<name>_gw0``, ``<name>_gw1``… under pytest-xdist,
created when missing: ``tests.helpers.PG_URL``), migrated once, and every test starts from
empty tables.
"""

from __future__ import annotations

import pytest

from portal import create_app
from portal.db import database

from .helpers import PASSWORD, SMTPSink, base_overrides, in_request, prepare_database


@pytest.fixture
def make_app(tmp_path):
    """Build an app with extra overrides (the database is shared within one test)."""

    def build(**overrides):
        app = create_app(
            {**base_overrides(tmp_path), **overrides}, instance_path=str(tmp_path / "instance")
        )
        return app

    return build


@pytest.fixture
def app(make_app):
    app = make_app()
    prepare_database(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An app + request context with an open connection (for calling services directly)."""
    with in_request(app):
        yield app


@pytest.fixture
def make_user(app):
    """Create a user through the real service; returns the User."""
    from portal.accounts import create_user

    def make(username, *, password=PASSWORD, role="user", email=None, team=None, **kw):
        with app.test_request_context():
            database.connect(reuse_if_open=True)
            if email is None and "@" not in username:
                email = f"{username}@example.test"
            user, temp = create_user(
                username, role=role, email=email or None, team=team, password=password, **kw
            )
            user.temp = temp
            database.close()
            return user

    return make


@pytest.fixture
def outbox(app):
    """Deliver queued mail through Flask-Mail with sending suppressed; collect messages."""
    from portal import mail

    class Outbox(list):
        def deliver(self):
            from portal import worker

            with app.app_context():
                database.connect(reuse_if_open=True)
                worker.run_once()
                database.close()
            return self

    box = Outbox()
    with mail.mail.record_messages() as messages:
        original = box.deliver

        def deliver():
            original()
            box[:] = list(messages)
            return box

        box.deliver = deliver
        yield box


@pytest.fixture
def smtp_server():
    server = SMTPSink().start()
    yield server
    server.stop()


class SlowCallInTransaction(AssertionError):
    """bcrypt or SMTP was called while this thread held a database transaction."""


@pytest.fixture(autouse=True)
def no_slow_call_inside_a_transaction(monkeypatch):
    """Every test doubles as a check of the write discipline: a transaction that spans a
    bcrypt hash/verify, an SMTP delivery or an LDAP operation holds SQLite's one write lock for hundreds of
    milliseconds (HTTP 500/503 under load), so each such call fails the test."""
    import bcrypt as real_bcrypt

    from portal import mail, passwords
    from portal.db import in_transaction

    def guarded(name, fn):
        def call(*args, **kwargs):
            if in_transaction():
                raise SlowCallInTransaction(f"{name} called inside a database transaction")
            return fn(*args, **kwargs)

        return call

    class GuardedBcrypt:
        hashpw = staticmethod(guarded("bcrypt.hashpw", real_bcrypt.hashpw))
        checkpw = staticmethod(guarded("bcrypt.checkpw", real_bcrypt.checkpw))
        gensalt = staticmethod(real_bcrypt.gensalt)

    monkeypatch.setattr(passwords, "bcrypt", GuardedBcrypt)
    monkeypatch.setattr(mail, "_send", guarded("mail._send", mail._send))
    import ldap3

    for name in ("bind", "search", "modify", "extended"):  # the directory's calls
        monkeypatch.setattr(
            ldap3.Connection,
            name,
            guarded(f"ldap3.Connection.{name}", getattr(ldap3.Connection, name)),
        )
