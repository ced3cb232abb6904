"""Helpers shared by the tests (fixtures stay in conftest.py; tests import these from
here, never from conftest or from another test module)."""

from __future__ import annotations

import email
import io
import os
import re
import socket
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg2
from aiosmtpd.controller import Controller
from flask_babel import force_locale
from markupsafe import escape
from psycopg2 import errors as pg_errors
from psycopg2 import sql as pg_sql

from portal import mail, messages
from portal.access import clear_cache
from portal.db import database, truncate_all
from portal.models import DEFAULT_ROLES, MODELS, AuditEvent, Role, UserSession, utcnow
from portal.schema import migrate

# --- services: one PostgreSQL database and one Redis database per test process ----------


def xdist_worker() -> int | None:
    """pytest-xdist's worker number (gw0 → 0; xdist sets the variable before any conftest
    is imported), None in a serial run."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") else None


def per_worker_database(url: str) -> str:
    """``url`` itself in a serial run; under pytest-xdist the worker's own database
    ``<name>_gw0``, ``<name>_gw1``… on the same server (created by ``ensure_database``):
    every test empties the tables, so two processes must never share one database."""
    worker = xdist_worker()
    if not url or worker is None:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_gw{worker}"))


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` when it does not exist yet (through the
    server's ``postgres`` maintenance database). A server that is not running fails here,
    loudly: the PostgreSQL leg needs it."""
    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    connection = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                try:
                    cursor.execute(pg_sql.SQL("CREATE DATABASE {}").format(pg_sql.Identifier(name)))
                except pg_errors.DuplicateDatabase:
                    pass  # created meanwhile by another run
    finally:
        connection.close()


def redis_url() -> str:
    """This process's Redis database: ``PASSGATE_TEST_REDIS_URL`` (default db 10) in a
    serial run; under pytest-xdist that number plus the worker's (gw1 → 11), so two
    workers never empty each other's counters (tests call FLUSHDB)."""
    base = os.environ.get("PASSGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
    worker = xdist_worker()
    if worker is None:
        return base
    parts = urlsplit(base)
    number = int(parts.path.strip("/") or 0) + worker
    return urlunsplit(parts._replace(path=f"/{number}"))


# The PostgreSQL leg's database (this worker's own), "" on the SQLite leg.
PG_URL = per_worker_database(os.environ.get("PASSGATE_TEST_DATABASE_URL", ""))
REDIS_URL = redis_url()
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


_pg_migrated: set[str] = set()  # PostgreSQL databases migrated by this process


def prepare_database(app) -> None:
    """Migrate the test database (SQLite: the test's own file; PostgreSQL: once, then
    empty tables and the seeded roles before every test)."""
    clear_cache()
    with app.app_context():
        if app.config["DATABASE_URL"].startswith("postgresql"):
            empty_postgres(app.config["DATABASE_URL"])
        else:
            migrate()
        database.close()


def empty_postgres(url: str) -> None:
    """The database created if missing and its schema migrated once per process, then
    empty tables and the seeded roles."""
    if url not in _pg_migrated:
        ensure_database(url)
    database.connect(reuse_if_open=True)
    if url not in _pg_migrated:
        database.execute_sql("DROP SCHEMA public CASCADE")
        database.execute_sql("CREATE SCHEMA public")
        migrate()
        _pg_migrated.add(url)
    truncate_all(MODELS)
    for name, perms, scope, rank in DEFAULT_ROLES:
        Role.create(name=name, permissions=perms, scope=scope, rank=rank)


def csrf_of(response) -> str:
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, "no CSRF token in page"
    return match.group(1)


def login(client, identifier, password=PASSWORD, **extra):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"identifier": identifier, "password": password, "csrf_token": csrf_of(page), **extra},
    )


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


# --- messages: assert by key (portal/messages.py), never by English sentence -------------


def message_pattern(key: str, **values) -> re.Pattern:
    """The message ``key`` (English) as it appears in a page: values given are filled in,
    any other placeholder matches anything; every plural form is accepted."""
    entry = messages.MESSAGES[key]
    forms = entry if isinstance(entry, tuple) else (entry,)
    alternatives = []
    for form in forms:
        parts = re.split(r"(%\([a-z_]+\)[sd])", form)
        out = []
        for part in parts:
            name = re.fullmatch(r"%\(([a-z_]+)\)[sd]", part)
            if name is None:
                out.append(_escaped(part))
            elif name.group(1) in values:
                out.append(_escaped(str(values[name.group(1)])))
            else:
                out.append(".+?")
        alternatives.append("".join(out))
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


def _escaped(text: str) -> str:
    """``text`` as plain text or as HTML-escaped text (pages escape quotes)."""
    plain, html = re.escape(text), re.escape(str(escape(text)))
    return plain if plain == html else f"(?:{plain}|{html})"


def says(body: str, key: str, **values) -> bool:
    """Does ``body`` show the message ``key`` (see ``message_pattern``)?"""
    return message_pattern(key, **values).search(body) is not None


def subject(app, kind: str, language: str = "en") -> str:
    """The subject of a mail of ``kind`` (portal.mail.SUBJECTS, the organisation's name in)."""
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        try:
            return mail.subject_of(kind, language)
        finally:
            database.close()


def english(app, value) -> str:
    """A text keyed in its own module's table (a list label, an audit action's label, a
    policy rule's text) as an English page shows it: ``value`` is a lazy string or a
    function of no arguments."""
    with app.test_request_context(), force_locale("en"):
        return str(value() if callable(value) else value)


# --- admin screens --------------------------------------------------------------------

HX = {"HX-Request": "true"}
NEW_PASSWORD = "quiet meadow copper 4471 kite"


def people(make_user) -> dict:
    """admin; mgrA (manager of team A); alice, carol (team A); bob (team B); mgrB."""
    return {
        "admin": make_user("admin", role="admin", first_name="Ada", last_name="Admin"),
        "mgrA": make_user("mgrA", role="manager", team="A"),
        "mgrB": make_user("mgrB", role="manager", team="B"),
        "alice": make_user("alice", team="A", first_name="Alice", last_name="Archer"),
        "carol": make_user("carol", team="A", first_name="Carol", last_name="Cole"),
        "bob": make_user("bob", team="B", first_name="Bob", last_name="Baker"),
    }


def token(client) -> str:
    return csrf_of(client.get("/admin/users"))


def post(client, url, data=None, htmx=False, csrf=None):
    data = dict(data or {})
    headers = dict(HX) if htmx else {}
    data.setdefault("csrf_token", csrf or token(client))
    return client.post(url, data=data, headers=headers)


@contextmanager
def in_request(app):
    """A request context with an open connection, for calling services directly."""
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        try:
            yield
        finally:
            database.close()


def db_get(app, model, *where):
    with app.app_context():
        database.connect(reuse_if_open=True)
        row = model.get(*where)
        database.close()
        return row


def audit_actions(app, action=None) -> list[AuditEvent]:
    with app.app_context():
        database.connect(reuse_if_open=True)
        query = AuditEvent.select().order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        rows = list(query)
        database.close()
        return rows


def age_session(app, minutes=60):
    """Make every session's last password entry old (step-up needed)."""
    with app.app_context():
        database.connect(reuse_if_open=True)
        UserSession.update(authenticated_at=utcnow() - timedelta(minutes=minutes)).execute()
        database.close()


def body(response) -> str:
    return response.get_data(as_text=True)


def upload(client, text, name="users.csv"):
    page = client.get("/admin/users/import")
    return client.post(
        "/admin/users/import",
        data={"csrf_token": csrf_of(page), "file": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
    )


# --- recovery -------------------------------------------------------------------------

LINK_RE = re.compile(r"http://localhost/password/reset/([A-Za-z0-9_\-]+)")


def forgot(client, identifier):
    return post_form(client, "/password/forgot", {"identifier": identifier})


def link_from(messages, to):
    for message in messages:
        if message.recipients == [to]:
            return LINK_RE.search(message.body).group(0)
    raise AssertionError(f"no mail to {to}")


def path_of(link):
    return link.replace("http://localhost", "")


# --- real processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 15) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def cli(*args):
    return [sys.executable, "-c", "from portal.cli import main; main()", *args]
