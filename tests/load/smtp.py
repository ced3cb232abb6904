"""An SMTP sink (aiosmtpd) on a chosen loopback port, optionally slow, that can be started
after the server (SMTP down, then back) and waited on."""

from __future__ import annotations

import asyncio
import email
import re
import threading
import time

from ..helpers import SMTPSink
from .server import free_port

LINK_RE = re.compile(r"https?://[^/\s]+(/password/reset/[A-Za-z0-9_\-]+)")


class Sink(SMTPSink):
    """``SMTPSink`` with a port chosen here, a per-message delay and waiting helpers."""

    def __init__(self, port: int | None = None, delay: float = 0.0):
        from aiosmtpd.controller import Controller

        self.port = port or free_port()
        self.delay = delay
        self.messages = []
        self.changed = threading.Condition()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    await asyncio.sleep(sink.delay)  # a slow relay: the batch stays in flight
                msg = email.message_from_bytes(envelope.content)
                with sink.changed:
                    sink.messages.append((list(envelope.rcpt_tos), msg))
                    sink.changed.notify_all()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.running = False

    def start(self):
        super().start()
        self.running = True
        return self

    def stop(self):
        if self.running:
            self.running = False
            super().stop()

    def wait_until(self, predicate, timeout: float, what: str = "mail"):
        """Block until ``predicate(messages)`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate(list(self.messages))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what} "
                        f"({len(self.messages)} message(s) received)"
                    )
                self.changed.wait(min(left, 0.5))

    def recipients(self) -> list[str]:
        return [rcpt for rcpts, _msg in list(self.messages) for rcpt in rcpts]

    def links_to(self, address: str) -> list[str]:
        """The reset/invitation link paths mailed to ``address``, oldest first."""
        found = []
        for rcpts, msg in list(self.messages):
            if address in rcpts:
                found += LINK_RE.findall(self.text_of(msg))
        return found
