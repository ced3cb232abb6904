"""Browser end-to-end harness: Debian's Chromium driven by Playwright, a live Passgate
server per test, and a real SMTP server (aiosmtpd) per session.

Every page opened through ``new_page``/``page`` is watched: a Content-Security-Policy
violation reported in the console, a message from passgate.js refusing inline htmx
JavaScript, or an uncaught JS error fails the test that caused it.
"""

from __future__ import annotations

import email
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from werkzeug.serving import make_server

from portal import create_app
from portal.db import database
from tests.helpers import PASSWORD, base_overrides, prepare_database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Console text that means the page broke the CSP (or tried to: passgate.js refuses
# hx-on / trigger filters / js: values and says so on the console).
CSP_MARKERS = (
    "Content Security Policy",
    "Refused to",
    "inline JavaScript in htmx attributes is disabled",
    # htmx catches JS errors (a bad selector, a failed swap) and logs them as htmx:error.
    "htmx:error",
)
# The console message Chromium prints is terse; the DOM event says which file and line.
CSP_EVENT_SCRIPT = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("Content Security Policy violation: " + e.violatedDirective + " blocked "
                + (e.blockedURI || "inline") + " at " + (e.sourceFile || "?") + ":" + e.lineNumber);
}, true);
"""
MAIL_WAIT_SECONDS = 10.0

__all__ = ["PASSWORD"]


def pytest_collection_modifyitems(items):
    """Every test under tests/e2e is an e2e test (the files mark themselves too)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.e2e)


# --------------------------------------------------------------------------- SMTP


class MailSink:
    """aiosmtpd handler keeping every received message: (envelope recipients, parsed)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        with self._cond:
            self.messages.append(([r.lower() for r in envelope.rcpt_tos], parsed))
            self._cond.notify_all()
        return "250 Message accepted"

    def to(self, address: str) -> list[Message]:
        with self._cond:
            return [m for rcpts, m in self.messages if address.lower() in rcpts]

    def wait_for(
        self, address: str, *, count: int = 1, timeout: float = MAIL_WAIT_SECONDS
    ) -> Message:
        """The ``count``-th message to ``address``, waiting for it up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for rcpts, m in self.messages if address.lower() in rcpts]
                if len(got) >= count:
                    return got[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r, m["Subject"]) for r, m in self.messages]
                    raise AssertionError(
                        f"no mail #{count} to {address} within {timeout:.0f} s; received: {seen}"
                    )
                self._cond.wait(min(left, 0.2))


def text_of(message: Message) -> str:
    """The text/plain part of a message, decoded."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no text/plain part in {message['Subject']!r}")


def reset_link(message: Message, base_url: str) -> str:
    """The recovery link in a message's text part."""
    pattern = re.escape(base_url) + r"/password/reset/[A-Za-z0-9_\-]+"
    found = re.findall(pattern, text_of(message))
    assert found, f"no {base_url}/password/reset/<token> link in:\n{text_of(message)}"
    return found[0]


@pytest.fixture(scope="session")
def smtp():
    sink = MailSink()
    # aiosmtpd probes the port it was given at start-up, so it needs a real one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


# --------------------------------------------------------------------------- server


@dataclass
class Live:
    """A running Passgate: ``url``, its Flask ``app`` and the mail sink."""

    app: object
    url: str
    smtp: MailSink
    users: dict = field(default_factory=dict)

    def make_user(self, username, *, password=PASSWORD, role="user", email=None, team=None, **kw):
        """Create a user through the real service; returns the User (``.temp`` set)."""
        from portal.accounts import create_user

        with self.app.test_request_context():
            database.connect(reuse_if_open=True)
            try:
                user, temp = create_user(
                    username, role=role, email=email or None, team=team, password=password, **kw
                )
            finally:
                database.close()
        user.temp = temp
        return user

    def db(self):
        """Context manager: app context with an open connection, for direct DB work."""
        app = self.app

        class _Ctx:
            def __enter__(self_inner):
                self_inner.ctx = app.app_context()
                self_inner.ctx.push()
                database.connect(reuse_if_open=True)
                return database

            def __exit__(self_inner, *exc):
                if not database.is_closed():
                    database.close()
                self_inner.ctx.pop()

        return _Ctx()

    def link(self, address: str, count: int = 1) -> str:
        return reset_link(self.smtp.wait_for(address, count=count), self.url)


@pytest.fixture
def live(tmp_path, smtp):
    """A Passgate server on a free port, with its mail worker, for one test."""
    from portal import worker

    holder: dict = {}

    def dispatch(environ, start_response):
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", 0, dispatch, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    overrides = {
        **base_overrides(tmp_path),
        "TESTING": False,  # Flask-Mail really sends
        "BASE_URL": url,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp.port,
        "MAIL_RETRY_BASE_SECONDS": 1,
        "MAIL_WORKER_INTERVAL": 0.2,
        "BCRYPT_ROUNDS": 4,
        "LIMIT_LOGIN": "1000 per minute",
        "LIMIT_FORGOT": "1000 per minute",
        "LIMIT_RESET_TOKEN": "1000 per minute",
        "LIMIT_POLICY_CHECK": "1000 per minute",
        "RESET_MAILS_PER_WINDOW": 100,
    }
    app = create_app(overrides, instance_path=str(tmp_path / "instance"))
    prepare_database(app)
    holder["app"] = app
    thread = threading.Thread(target=server.serve_forever, name="passgate-e2e-http", daemon=True)
    thread.start()
    leader = worker.Leader(app).start()
    yield Live(app=app, url=url, smtp=smtp)
    leader.shutdown()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(apt-get install chromium); CI installs it. Never `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    pw.stop()


@dataclass
class Watch:
    """What the browser reported during one test."""

    problems: list = field(default_factory=list)
    console: list = field(default_factory=list)


@pytest.fixture
def watch(request):
    w = Watch()
    request.node._e2e_watch = w
    return w


@pytest.fixture
def new_page(browser, watch):
    """Factory: a page in a fresh browser context, watched for CSP violations and JS errors."""
    contexts = []

    def make(**context_options):
        context = browser.new_context(**context_options)
        context.set_default_timeout(10_000)
        context.add_init_script(CSP_EVENT_SCRIPT)
        contexts.append(context)
        page = context.new_page()

        def on_console(msg):
            text = msg.text
            watch.console.append(f"{msg.type}: {text}")
            if any(marker in text for marker in CSP_MARKERS):
                watch.problems.append(f"console {msg.type} on {page.url}: {text}")

        def on_error(exc):
            watch.problems.append(f"JS error on {page.url}: {exc}")

        page.on("console", on_console)
        page.on("pageerror", on_error)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail the test itself (not its teardown) when the browser reported a problem."""
    result = yield
    watch = getattr(item, "_e2e_watch", None)
    if watch is not None and watch.problems:
        raise AssertionError(
            "browser reported CSP violations / JS errors / htmx errors:\n  "
            + "\n  ".join(watch.problems)
        )
    return result
