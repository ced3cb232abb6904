"""The background worker: housekeeping → directory sync → resolve forgot-password
requests → deliver mail.

``passgate serve`` runs exactly one of it, however many HTTP worker processes there are:
each process starts a ``Leader`` thread and the one that holds the lock file
``<instance>/worker.lock`` does the work; if that process dies, the lock is released and
another takes over within ``LEADER_RETRY_SECONDS``. ``passgate mail-worker`` runs the same
loop on its own (several instances: every row is claimed, so two workers never send the
same mail twice).
"""

from __future__ import annotations

import logging
import os
import threading

from . import housekeeping, invitations, mail
from .db import database
from .providers import sync
from .recovery.service import process_pending
from .wakeup import Listener, signal

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process, no election needed
    fcntl = None

log = logging.getLogger("passgate.worker")
LEADER_RETRY_SECONDS = 5.0


def run_once() -> dict:
    """One pass: housekeeping, directory sync (when due), pending recovery requests,
    invitation reminders (when due), due mail. Returns counts."""
    housekeeping.run()
    sync.run_if_due()
    counts = {"requests": process_pending(), "reminders": invitations.send_reminders()}
    counts.update(mail.deliver_due())
    return counts


def run(app, *, once: bool = False, stop: threading.Event | None = None) -> None:
    """Work until ``stop`` is set (or once)."""
    stop = stop or threading.Event()
    listener = None if once else Listener(app.instance_path)
    try:
        while not stop.is_set():
            with app.app_context():
                try:
                    database.connect(reuse_if_open=True)
                    run_once()
                except Exception:  # noqa: BLE001 — the next pass retries
                    log.exception("worker pass failed")
                finally:
                    if not database.is_closed():
                        database.close()
            if once:
                return
            listener.wait(app.config["MAIL_WORKER_INTERVAL"])
    finally:
        if listener is not None:
            listener.close()


class Leader:
    """Run the worker in this process while it holds the instance's worker lock."""

    def __init__(self, app):
        self.app = app
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._lead, name="passgate-worker", daemon=True)

    def start(self) -> Leader:
        self.thread.start()
        return self

    def shutdown(self, timeout: float = 10.0) -> None:
        """Finish the mail being sent, claim nothing new (queued mail stays queued)."""
        self.stop.set()
        signal(self.app.instance_path)
        self.thread.join(timeout)

    def _lead(self) -> None:
        if fcntl is None:
            run(self.app, stop=self.stop)
            return
        os.makedirs(self.app.instance_path, exist_ok=True)
        fd = os.open(
            os.path.join(self.app.instance_path, "worker.lock"), os.O_RDWR | os.O_CREAT, 0o600
        )
        try:
            while not self.stop.is_set():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self.stop.wait(LEADER_RETRY_SECONDS)
                    continue
                log.info("background worker running in process %s", os.getpid())
                try:
                    run(self.app, stop=self.stop)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
