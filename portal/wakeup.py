"""Wake the background worker now instead of at its next interval, across processes.

The worker (one per server, whichever HTTP worker process holds the lock) listens on a
UNIX datagram socket in the instance folder; any process that queued something sends one
byte to it. Losing a wake-up costs at most one interval (MAIL_WORKER_INTERVAL).
"""

from __future__ import annotations

import os
import select
import socket
import threading

_local = threading.Event()  # the worker in this very process (tests, single process)


def socket_path(instance_path: str) -> str:
    return os.path.join(instance_path, "worker.sock")


def signal(instance_path: str | None) -> None:
    """Nudge the worker; never raises, never blocks."""
    _local.set()
    if not instance_path or not hasattr(socket, "AF_UNIX"):
        return
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.sendto(b"!", socket_path(instance_path))
    except OSError:  # no worker listening, or its queue is full: it wakes on its own
        pass


class Listener:
    """The worker's end: ``wait(timeout)`` returns early when nudged."""

    def __init__(self, instance_path: str | None):
        self.sock = None
        if instance_path and hasattr(socket, "AF_UNIX"):
            path = socket_path(instance_path)
            os.makedirs(instance_path, exist_ok=True)
            try:
                os.unlink(path)  # left by a worker that died (we hold the worker lock)
            except FileNotFoundError:
                pass
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
            self.sock.setblocking(False)

    def wait(self, timeout: float) -> None:
        if _local.is_set():
            _local.clear()
            return
        if self.sock is None:
            _local.wait(timeout)
            _local.clear()
            return
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if ready:
            self._drain()
        _local.clear()

    def _drain(self) -> None:
        try:
            while self.sock.recv(64):
                pass
        except OSError:
            pass

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
