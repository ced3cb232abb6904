"""A live Passgate for the checklist suite: real ``passgate serve`` processes on loopback,
an SMTP sink, seeded accounts, and a small HTTP client (http.client: raw headers, its own
cookie jar, its own source address) that scrapes CSRF tokens.

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
import base64
import email
import http.client
import itertools
import json
import re
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

from portal import create_app
from portal.db import database, truncate_all
from portal.models import DEFAULT_ROLES, MODELS, ManagedTeam, Role, User, utcnow

from ...load import server as procs
from ...load.smtp import Sink

PASSWORD = "violet lantern harbour 1987"  # meets the default policy
NEW_PASSWORD = "copper meadow tangent 4471"
OTHER_PASSWORD = "quiet orchard signal 2208"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
LINK_RE = re.compile(r"https?://[^/\s]+(/password/reset/([A-Za-z0-9_\-]+))")
GENERIC_LOGIN_ERROR = "Your username, email or password was incorrect."
HX = {"HX-Request": "true"}
SESSION_COOKIE = "__Host-session"


def cookie_payload(value: str) -> dict:
    """What anyone holding Flask's signed cookie can read (it is signed, not encrypted)."""
    data = value.split(".")[1 if value.startswith(".") else 0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    if value.startswith("."):
        raw = zlib.decompress(raw)
    return json.loads(raw)


def normalize(body: str) -> str:
    """The body with CSRF values masked, for byte-for-byte comparisons."""
    body = CSRF_RE.sub('name="csrf_token" value="X"', body)
    return CSRF_META_RE.sub('name="csrf-token" content="X"', body)


@dataclass
class Response:
    status: int
    headers: dict
    cookies: list[str]
    text: str

    @property
    def location(self) -> str:
        raw = self.headers.get("location", "")
        parts = urlsplit(raw)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def csrf(self) -> str:
        match = CSRF_RE.search(self.text) or CSRF_META_RE.search(self.text)
        assert match, f"no CSRF token in the page ({self.status})"
        return match.group(1)


_ips = itertools.count(10)


def next_ip() -> str:
    """A loopback source address of its own: 127.0.1.10, 127.0.1.11, … (per-IP limits)."""
    n = next(_ips)
    return f"127.{1 + n // 250}.{n % 250 + 2}.{n % 7 + 2}"


class Client:
    """One browser: cookies, a source address, no redirect following."""

    def __init__(self, port: int, ip: str | None = None):
        self.port = port
        self.ip = ip or next_ip()
        self.cookies: dict[str, str] = {}
        self.csrf_token: str | None = None

    def request(self, method: str, path: str, data=None, headers: dict | None = None, *,
                body: bytes | None = None, target: str | None = None) -> Response:
        sent = {"Host": f"127.0.0.1:{self.port}", "Accept-Language": "en", **(headers or {})}
        if data is not None:
            body = urlencode(data, doseq=True).encode()
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                          source_address=(self.ip, 0))
        try:
            conn.putrequest(method, target or path, skip_host=True, skip_accept_encoding=True)
            for key, value in sent.items():
                conn.putheader(key, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
            set_cookies = raw.headers.get_all("Set-Cookie") or []
            response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()},
                                set_cookies, text)
        finally:
            conn.close()
        self._keep(set_cookies)
        return response

    def _keep(self, headers: list[str]) -> None:
        for header in headers:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                gone = morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if gone or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data, **kw) -> Response:
        return self.request("POST", path, data, **kw)

    def form(self, path: str, data: dict, page: str | None = None,
             headers: dict | None = None) -> Response:
        """POST ``data`` with a CSRF token scraped from ``page`` (default: ``path``)."""
        token = self.get(page or path).csrf()
        return self.post(path, {**data, "csrf_token": token}, headers=headers)

    def token(self) -> str:
        """A CSRF token valid for this browser's session (from the sign-in page, or home)."""
        page = self.get("/login")
        if page.status != 200:
            page = self.get("/")
        return page.csrf()

    @property
    def session(self) -> str | None:
        return self.cookies.get(SESSION_COOKIE)

    def login(self, identifier: str, password: str = PASSWORD, **extra) -> Response:
        return self.form("/login", {"identifier": identifier, "password": password, **extra})

    def logout(self) -> Response:
        return self.post("/logout", {"csrf_token": self.get("/").csrf()})

    def change_password(self, current: str, new: str, confirm: str | None = None) -> Response:
        return self.form("/password/change", {"current_password": current, "password": new,
                                              "confirm": new if confirm is None else confirm})


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

    def account(self, prefix: str = "user", *, role: str = "user", team: str | None = None,
                email: bool = True, password: str | None = PASSWORD, manages: str | None = None,
                app=None, **details) -> Account:
        """A fresh account (unique name), created through the real service."""
        from portal.accounts import create_user

        with self.lock:
            name = f"{prefix}{next(self.names)}"
        address = f"{name}@example.test" if email else None
        app = app or self.app
        with app.test_request_context():
            database.initialize(app.extensions["peewee"])
            database.connect(reuse_if_open=True)
            user, temp = create_user(name, role=role, email=address, team=team,
                                     password=password, **details)
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
                changes = {name: getattr(row, name) - timedelta(seconds=seconds)
                           for name, seconds in deltas.items()}
                model.update(**changes).where(model._meta.primary_key == row._pk).execute()

    # Mail -----------------------------------------------------------------------------

    def mails_to(self, address: str) -> list:
        return [msg for rcpts, msg in list(self.sink.messages) if address in rcpts]

    def wait_mails(self, address: str, count: int = 1, timeout: float = 15) -> list:
        """The first ``count`` mails to ``address`` (waits for them)."""
        return self.sink.wait_until(
            lambda _m: (found := self.mails_to(address)) and len(found) >= count and found,
            timeout, f"{count} mail(s) to {address}")[:count]

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
            paths = [m.group(1) for msg in self.mails_to(address)
                     for m in LINK_RE.finditer(self.text(msg))]
            return len(paths) >= count and paths
        return self.sink.wait_until(found, timeout, f"{count} link(s) to {address}")

    def request_link(self, account: Account, client: Client | None = None) -> str:
        """Ask for a recovery link for ``account`` and return the newest mailed path."""
        before = len(self.links_now(account.email))
        (client or self.client()).form("/password/forgot", {"identifier": account.username})
        return self.links(account.email, before + 1)[before]

    def links_now(self, address: str) -> list[str]:
        return [m.group(1) for msg in self.mails_to(address)
                for m in LINK_RE.finditer(self.text(msg))]

    def logs(self) -> str:
        return self.main.log() + self.strict.log()


class SlowSink(Sink):
    """The load tests' sink, delaying (1 s) only the mail to ``slow_recipients`` (D2)."""

    def __init__(self):
        super().__init__()
        from aiosmtpd.controller import Controller

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
    return create_app({"SECRET_KEY": procs.SECRET_KEY, "DATABASE_URL": database_url,
                       "BASE_URL": "https://127.0.0.1:5000", "BCRYPT_ROUNDS": rounds,
                       "RATELIMIT_ENABLED": False},
                      instance_path=str(tmp_path / f"seed-instance-{rounds}"))


def prepare_database(app, postgres: bool) -> None:
    """A migrated schema with empty tables (PostgreSQL: this leg's database, reset)."""
    from portal.access import clear_cache
    from portal.schema import migrate

    clear_cache()
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
    env = procs.base_env(tmp_path / "main", database_url, sink.port,
                         PASSGATE_RESET_MAILS_PER_WINDOW="3",
                         PASSGATE_LOCKOUT_BASE_SECONDS="2",
                         PASSGATE_MAIL_WORKER_INTERVAL="0.1")
    main_port, strict_port = procs.free_port(), procs.free_port()
    main = procs.start_server({**env, "PASSGATE_BASE_URL": f"https://127.0.0.1:{main_port}"},
                              main_port, ("--workers", "2", "--threads", "6"), wait=False)
    strict_env = {key: value for key, value in env.items()
                  if not key.startswith("PASSGATE_LIMIT_")}
    strict_env.update(PASSGATE_INSTANCE=str(tmp_path / "strict" / "instance"),
                      PASSGATE_BCRYPT_ROUNDS="10", PASSGATE_LOCKOUT_FREE_FAILURES="1000",
                      PASSGATE_BASE_URL=f"https://127.0.0.1:{strict_port}")
    strict = procs.start_server(strict_env, strict_port,
                                ("--workers", "1", "--threads", "4", "--no-mail-worker"),
                                wait=False)
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


# Flows used by several sections -------------------------------------------------------

TEMP_RE = re.compile(r'id="temp-password"[^>]*>(.*?)</output>', re.S)


def temp_password(page: str) -> str:
    match = TEMP_RE.search(page)
    assert match, "no temporary password in the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def admin_reset(browser: Client, user_id: int, **headers) -> tuple[Response, str | None]:
    """Reset & Unlock as an administrator; the response and the temporary password."""
    response = browser.form(f"/admin/users/{user_id}/reset", {"reason": ""},
                            page=f"/admin/users/{user_id}/reset", headers=headers or None)
    temp = temp_password(response.text) if response.status == 200 else None
    return response, temp


def admin_set_password(browser: Client, user_id: int, password: str,
                       must_change: bool = True) -> Response:
    data = {"password": password, "confirm": password}
    if must_change:
        data["must_change"] = "y"
    return browser.form(f"/admin/users/{user_id}/password", data)


def reset_with_link(client: Client, link: str, password: str,
                    confirm: str | None = None) -> Response:
    """Open the mailed link (302 to the token-free page) and post a new password."""
    landing = client.get(link)
    assert landing.status == 302, landing.status
    return client.form("/password/reset", {"password": password,
                                           "confirm": password if confirm is None else confirm})


def signs_in(live: Live, identifier: str, password: str) -> bool:
    """Does a fresh browser sign in with this password (303 away from /login)?"""
    response = live.client().login(identifier, password)
    return response.status == 303


def form_values(page: str, action: str | None = None) -> dict:
    """The values a browser would submit from the first form (or the one posting to
    ``action``): inputs, checked boxes, selected options, text areas."""
    forms = re.findall(r"<form\b[^>]*>.*?</form>", page, re.S)
    if action:
        forms = [f for f in forms if f'action="{action}"' in f]
    assert forms, "no such form"
    html = forms[0]
    values: dict = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        value = (re.search(r'value="([^"]*)"', tag) or [None, ""])[1]
        if kind in ("checkbox", "radio"):
            if "checked" in tag:
                values[name.group(1)] = value or "y"
        elif kind not in ("submit", "button"):
            values[name.group(1)] = unescape(value)
    for name, body in re.findall(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option[^>]*value="([^"]*)"[^>]*selected', body) \
            or re.search(r'<option[^>]*value="([^"]*)"', body)
        values[name] = unescape(chosen.group(1)) if chosen else ""
    for name, body in re.findall(r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>',
                                 html, re.S):
        values[name] = unescape(body)
    return values


def seed_link(live: Live, account: Account, *, expires_in: float = 1800) -> str:
    """A recovery link put straight into the database (as the worker would issue it, minus
    the mail): for tests that need many links at once (C4)."""
    from portal import tokens
    from portal.models import ResetToken

    raw, digest = tokens.new_token()
    with live.db():
        user = User.get_by_id(account.id)
        ResetToken.create(user=user.id, token_hash=digest, purpose="reset",
                          stamp=user.security_stamp,
                          expires_at=utcnow() + timedelta(seconds=expires_in))
    return f"/password/reset/{raw}"
