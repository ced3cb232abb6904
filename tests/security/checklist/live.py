"""A live Passgate for the checklist suite: real ``passgate serve`` processes on loopback,
an SMTP sink and seeded accounts (the browser is ``client.py``, shared flows
``flows.py``).

Two servers share one database (SQLite file, or the leg's PostgreSQL):

* ``main``: bcrypt cost 4, per-IP limits raised (the tests are about other things), the
  background worker delivering mail to the sink, sign-in waits of 2 s (test profile);
* ``strict``: the default per-IP limits (B5, C11, C12, H1's 429), bcrypt cost 10 (B2's
  timing), no mail worker.

Both run with ``PASSGATE_BASE_URL=https://…``: the deployment behind a TLS-terminating
proxy (README "Behind a reverse proxy"), so cookies are ``__Host-``/``Secure`` and HSTS
is sent; the tests speak plain HTTP to the loopback port as that proxy does.
"""

from __future__ import annotations

import asyncio
import atexit
import email
import itertools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from aiosmtpd.controller import Controller

from portal import create_app
from portal.access import clear_cache
from portal.accounts import create_user
from portal.db import database, truncate_all
from portal.models import DEFAULT_ROLES, MODELS, ManagedTeam, Role, User, utcnow
from portal.schema import migrate

from ...helpers import ensure_database
from ...load import server as procs
from ...load.smtp import Sink
from .client import LINK_RE, PASSWORD, Client


@dataclass
class Account:
    id: int
    username: str
    email: str | None
    password: str | None
    temp: str | None = None


@dataclass
class Live:
    """The running servers, the sink and the seeding app (same database)."""

    main: procs.Server
    strict: procs.Server
    sink: Sink
    app: object
    env: dict
    tmp: object = None
    names: itertools.count = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app10(self):
        """A seeding app hashing at cost 10, like the strict server (B2's timing)."""
        if not hasattr(self, "_app10"):
            self._app10 = seeding_app(self.tmp, self.env["PASSGATE_DATABASE_URL"], rounds=10)
        return self._app10

    def client(self, ip: str | None = None, *, strict: bool = False) -> Client:
        return Client((self.strict if strict else self.main).port, ip)

    @contextmanager
    def db(self):
        """A connection of the test process to the servers' database (grey-box checks);
        kept open between calls (closed by ``stop``), no transaction left open."""
        with self.app.test_request_context():
            database.initialize(self.app.extensions["peewee"])
            database.connect(reuse_if_open=True)
            yield

    def account(
        self,
        prefix: str = "user",
        *,
        role: str = "user",
        team: str | None = None,
        email: bool = True,
        password: str | None = PASSWORD,
        manages: str | None = None,
        app=None,
        **details,
    ) -> Account:
        """A fresh account (unique name), created through the real service."""
        with self.lock:
            name = f"{prefix}{next(self.names)}"
        address = f"{name}@example.test" if email else None
        app = app or self.app
        with app.test_request_context():
            database.initialize(app.extensions["peewee"])
            database.connect(reuse_if_open=True)
            user, temp = create_user(
                name, role=role, email=address, team=team, password=password, **details
            )
            if manages:
                team_row = User.get_by_id(self.account_id(manages)).team
                ManagedTeam.create(manager=user.id, team=team_row.id)
        return Account(user.id, name, address, password, temp)

    def account_id(self, team_member_or_team: str) -> int:
        return User.get(User.username_key == team_member_or_team.casefold()).id

    def user(self, user_id: int) -> User:
        with self.db():
            return User.get_by_id(user_id)

    def update_user(self, user_id: int, **fields) -> None:
        with self.db():
            User.update(**fields).where(User.id == user_id).execute()

    def age(self, model, where, **deltas: float) -> None:
        """Move timestamps of the matching rows into the past (seconds), instead of waiting
        for the clock: the server compares them with its own ``now``."""
        with self.db():
            for row in model.select().where(where):
                changes = {
                    name: getattr(row, name) - timedelta(seconds=seconds)
                    for name, seconds in deltas.items()
                }
                model.update(**changes).where(model._meta.primary_key == row._pk).execute()

    # Mail -----------------------------------------------------------------------------

    def mails_to(self, address: str) -> list:
        return [msg for rcpts, msg in list(self.sink.messages) if address in rcpts]

    def wait_mails(self, address: str, count: int = 1, timeout: float = 15) -> list:
        """The first ``count`` mails to ``address`` (waits for them)."""
        return self.sink.wait_until(
            lambda _m: (found := self.mails_to(address)) and len(found) >= count and found,
            timeout,
            f"{count} mail(s) to {address}",
        )[:count]

    def text(self, msg) -> str:
        return self.sink.text_of(msg)

    def html(self, msg) -> str:
        for part in msg.walk():
            if part.get_content_type() == "text/html":
                return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        return ""

    def links(self, address: str, count: int = 1, timeout: float = 15) -> list[str]:
        """The reset-link paths mailed to ``address`` (waits until ``count`` exist)."""

        def found(_m):
            paths = [
                m.group(1)
                for msg in self.mails_to(address)
                for m in LINK_RE.finditer(self.text(msg))
            ]
            return len(paths) >= count and paths

        return self.sink.wait_until(found, timeout, f"{count} link(s) to {address}")

    def request_link(self, account: Account, client: Client | None = None) -> str:
        """Ask for a recovery link for ``account`` and return the newest mailed path."""
        before = len(self.links_now(account.email))
        (client or self.client()).form("/password/forgot", {"identifier": account.username})
        return self.links(account.email, before + 1)[before]

    def links_now(self, address: str) -> list[str]:
        return [
            m.group(1) for msg in self.mails_to(address) for m in LINK_RE.finditer(self.text(msg))
        ]

    def logs(self) -> str:
        return self.main.log() + self.strict.log()


class SlowSink(Sink):
    """The load tests' sink, delaying (1 s) only the mail to ``slow_recipients`` (D2)."""

    def __init__(self):
        super().__init__()
        self.slow_recipients: set[str] = set()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.slow_recipients.intersection(envelope.rcpt_tos):
                    await asyncio.sleep(1.0)
                msg = email.message_from_bytes(envelope.content)
                with sink.changed:
                    sink.messages.append((list(envelope.rcpt_tos), msg))
                    sink.changed.notify_all()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)


# Server start ---------------------------------------------------------------------------


def seeding_app(tmp_path, database_url: str, rounds: int = 4):
    return create_app(
        {
            "SECRET_KEY": procs.SECRET_KEY,
            "DATABASE_URL": database_url,
            "BASE_URL": "https://127.0.0.1:5000",
            "BCRYPT_ROUNDS": rounds,
            "RATELIMIT_ENABLED": False,
        },
        instance_path=str(tmp_path / f"seed-instance-{rounds}"),
    )


def prepare_database(app, postgres: bool) -> None:
    """A migrated schema with empty tables (PostgreSQL: this test process's database,
    created if missing, reset)."""
    clear_cache()
    if postgres:
        ensure_database(app.config["DATABASE_URL"])
    with app.app_context():
        database.initialize(app.extensions["peewee"])
        database.connect(reuse_if_open=True)
        if postgres:
            database.execute_sql("DROP SCHEMA public CASCADE")
            database.execute_sql("CREATE SCHEMA public")
        migrate()
        if postgres:
            truncate_all(MODELS)
            for name, perms, scope, rank in DEFAULT_ROLES:
                Role.create(name=name, permissions=perms, scope=scope, rank=rank)
        database.close()


def start(tmp_path, database_url: str, postgres: bool) -> Live:
    app = seeding_app(tmp_path, database_url)
    prepare_database(app, postgres)
    sink = SlowSink().start()
    env = procs.base_env(
        tmp_path / "main",
        database_url,
        sink.port,
        PASSGATE_RESET_MAILS_PER_WINDOW="3",
        PASSGATE_LOCKOUT_BASE_SECONDS="2",
        PASSGATE_MAIL_WORKER_INTERVAL="0.1",
    )
    main_port, strict_port = procs.free_port(), procs.free_port()
    main = procs.start_server(
        {**env, "PASSGATE_BASE_URL": f"https://127.0.0.1:{main_port}"},
        main_port,
        ("--workers", "2", "--threads", "6"),
        wait=False,
    )
    strict_env = {key: value for key, value in env.items() if not key.startswith("PASSGATE_LIMIT_")}
    strict_env.update(
        PASSGATE_INSTANCE=str(tmp_path / "strict" / "instance"),
        PASSGATE_BCRYPT_ROUNDS="10",
        PASSGATE_LOCKOUT_FREE_FAILURES="1000",
        PASSGATE_BASE_URL=f"https://127.0.0.1:{strict_port}",
    )
    strict = procs.start_server(
        strict_env,
        strict_port,
        ("--workers", "1", "--threads", "4", "--no-mail-worker"),
        wait=False,
    )
    for server in (main, strict):
        # Ours until ``stop``: tests/load's per-test cleanup (stop_all) must not end them.
        procs._started.remove(server)
        atexit.register(server.stop, 5)
    main.wait_ready()
    strict.wait_ready()
    return Live(main, strict, sink, app, env, tmp_path)


def stop(live: Live) -> None:
    for app in (live.app, getattr(live, "_app10", None)):
        if app is not None and not app.extensions["peewee"].is_closed():
            app.extensions["peewee"].close()
    for server in (live.main, live.strict):
        server.stop(timeout=10)
    live.sink.stop()


def utc_now():
    return utcnow()


def wait_until(predicate, timeout: float = 10, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)
