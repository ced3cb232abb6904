"""Shared fixtures.

The database engine follows ``PASSGATE_TEST_DATABASE_URL``: unset, every test gets its own
SQLite file; set to a PostgreSQL URL (the CI's second leg), the schema is migrated once
and every test starts from empty tables.
"""

from __future__ import annotations

import os
import re

import pytest

from portal import create_app
from portal.db import database, truncate_all
from portal.models import DEFAULT_ROLES, MODELS, Role

PG_URL = os.environ.get("PASSGATE_TEST_DATABASE_URL", "")
PASSWORD = "violet lantern harbour 1987"  # meets the default policy
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def base_overrides(tmp_path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": PG_URL or f"sqlite:///{tmp_path}/passgate.db",
        "BASE_URL": "http://localhost",
        "BCRYPT_ROUNDS": 4,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_DEFAULT_SENDER": "Passgate <passgate@example.test>",
        "LIMIT_LOGIN": "1000 per minute",
        "LIMIT_FORGOT": "1000 per minute",
        "LIMIT_RESET_TOKEN": "1000 per minute",
        "LIMIT_REAUTH": "1000 per minute",
        "LIMIT_PASSWORD_CHANGE": "1000 per minute",
        "RESET_MAILS_PER_WINDOW": 100,
    }


_pg_migrated = False


def _prepare_database(app) -> None:
    global _pg_migrated
    from portal.access import clear_cache
    from portal.schema import migrate

    clear_cache()
    with app.app_context():
        if PG_URL:
            database.connect(reuse_if_open=True)
            if not _pg_migrated:
                database.execute_sql("DROP SCHEMA public CASCADE")
                database.execute_sql("CREATE SCHEMA public")
                migrate()
                _pg_migrated = True
            truncate_all(MODELS)
            for name, perms, scope, rank in DEFAULT_ROLES:
                Role.create(name=name, permissions=perms, scope=scope, rank=rank)
        else:
            migrate()
        database.close()


@pytest.fixture
def make_app(tmp_path):
    """Build an app with extra overrides (the database is shared within one test)."""

    def build(**overrides):
        app = create_app({**base_overrides(tmp_path), **overrides},
                         instance_path=str(tmp_path / "instance"))
        return app

    return build


@pytest.fixture
def app(make_app):
    app = make_app()
    _prepare_database(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An app + request context with an open connection (for calling services directly)."""
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        yield app
        database.close()


@pytest.fixture
def make_user(app):
    """Create a user through the real service; returns the User."""
    from portal.accounts import create_user

    def make(username, *, password=PASSWORD, role="user", email=None, team=None, **kw):
        with app.test_request_context():
            database.connect(reuse_if_open=True)
            if email is None and "@" not in username:
                email = f"{username}@example.test"
            user, temp = create_user(username, role=role, email=email or None, team=team,
                                     password=password, **kw)
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


def csrf_of(response) -> str:
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, "no CSRF token in page"
    return match.group(1)


def login(client, identifier, password=PASSWORD, **extra):
    page = client.get("/login")
    return client.post("/login", data={"identifier": identifier, "password": password,
                                       "csrf_token": csrf_of(page), **extra})


def post_form(client, url, data, page_url=None):
    """POST with a fresh CSRF token taken from ``page_url`` (default: the same URL)."""
    page = client.get(page_url or url)
    return client.post(url, data={**data, "csrf_token": csrf_of(page)})


def normalize(body: str) -> str:
    """Mask CSRF values so two responses can be compared byte for byte."""
    body = CSRF_RE.sub('name="csrf_token" value="X"', body)
    return re.sub(r'name="csrf-token" content="[^"]+"', 'name="csrf-token" content="X"', body)


class SMTPSink:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

    def __init__(self):
        import email
        import socket

        from aiosmtpd.controller import Controller

        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.content)
                sink.messages.append((list(envelope.rcpt_tos), msg))
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def text_of(self, msg) -> str:
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        return ""


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
        monkeypatch.setattr(ldap3.Connection, name,
                            guarded(f"ldap3.Connection.{name}", getattr(ldap3.Connection, name)))
