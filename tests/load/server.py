"""Real ``passgate`` processes for the load, fault and several-instance tests.

Every process is started here, in its own process group (so a server that forks workers
is stopped or killed as a whole), with its stdout and stderr in a log file the test reads
afterwards ("database is locked", tracebacks). ``stop_all()`` (an autouse fixture in
``tests/load/conftest.py``) stops whatever still runs when a test ends, pass or fail.

``SERVE_ARGS`` is the one place that decides how ``passgate serve`` is started
(e.g. ``("--workers", "2")`` once the server forks).
"""

from __future__ import annotations

import atexit
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

# Extra arguments given to every `passgate serve` the load tests start.
SERVE_ARGS: tuple[str, ...] = ()

SECRET_KEY = "test-secret-key-not-for-production"
# Generous per-IP limits: the load tests are about concurrency, not about rate limiting.
HIGH_LIMIT = "100000 per minute"


def _port_range() -> range | None:
    """``PASSGATE_TEST_PORTS=18500-18599`` keeps every port a test opens in that range
    (a shared machine); unset, the operating system picks free ports."""
    raw = os.environ.get("PASSGATE_TEST_PORTS", "").strip()
    if not raw:
        return None
    low, high = (int(part) for part in raw.split("-", 1))
    return range(low, high + 1)


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback TCP port nobody listens on (from ``PASSGATE_TEST_PORTS`` when set)."""
    ports = _port_range()
    if ports is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    candidates = [p for p in ports if p not in _handed_out] or list(ports)
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {ports}")


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from portal.cli import main; main()", *args]


def base_env(tmp_path: Path, database_url: str, smtp_port: int, **extra: str) -> dict:
    """Environment of a Passgate process: this test's database and SMTP sink, bcrypt at
    cost 4, high per-IP limits, the client address taken from the socket."""
    env = {
        **os.environ,
        "PASSGATE_SECRET_KEY": SECRET_KEY,
        "PASSGATE_DATABASE_URL": database_url,
        "PASSGATE_INSTANCE": str(tmp_path / "instance"),
        "PASSGATE_BCRYPT_ROUNDS": "4",
        "PASSGATE_MAIL_SERVER": "127.0.0.1",
        "PASSGATE_MAIL_PORT": str(smtp_port),
        "PASSGATE_MAIL_DEFAULT_SENDER": "Passgate <passgate@example.test>",
        "PASSGATE_MAIL_WORKER_INTERVAL": "0.2",
        "PASSGATE_TRUSTED_PROXIES": "0",
        "PASSGATE_LIMIT_LOGIN": HIGH_LIMIT,
        "PASSGATE_LIMIT_FORGOT": HIGH_LIMIT,
        "PASSGATE_LIMIT_RESET_TOKEN": HIGH_LIMIT,
        "PASSGATE_LIMIT_POLICY_CHECK": HIGH_LIMIT,
        "PASSGATE_LIMIT_PASSWORD_CHANGE": HIGH_LIMIT,
        "PASSGATE_LIMIT_REAUTH": HIGH_LIMIT,
        "PASSGATE_RESET_MAILS_PER_WINDOW": "100000",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PASSGATE_REDIS_URL", None)
    env.update(extra)
    return env


class Proc:
    """One started process, its log file and how to stop it."""

    def __init__(self, name: str, args: list[str], env: dict, log_path: Path):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:  # the child keeps its own descriptor
            self.popen = subprocess.Popen(
                args,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """``kill -9`` of the process and everything it started (signalled while the
        leader is still unreaped, so the group id cannot belong to anyone else)."""
        if self.popen.returncode is None:
            self._signal_group(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM (graceful), SIGKILL after ``timeout`` seconds."""
        if self.popen.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


class Server(Proc):
    def __init__(self, port: int, args: list[str], env: dict, log_path: Path):
        super().__init__(f"serve:{port}", args, env, log_path)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, seconds: float = 30) -> Server:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError(
                    f"{self.name} exited with {self.popen.returncode}:\n{self.log()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return self
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.05)
        raise AssertionError(
            f"{self.name} did not answer /healthz within {seconds}s:\n{self.log()[-3000:]}"
        )


_started: list[Proc] = []


def _log_path(env: dict, name: str) -> Path:
    folder = Path(env.get("PASSGATE_INSTANCE") or tempfile.mkdtemp(prefix="passgate-")).parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name.replace(':', '-')}-{len(_started)}.log"


def start_server(
    env: dict,
    port: int | None = None,
    extra_args: tuple[str, ...] | list[str] = (),
    *,
    wait: bool = True,
) -> Server:
    """``passgate serve`` on 127.0.0.1:``port`` (a free one when None); PASSGATE_BASE_URL
    follows the port unless ``env`` sets it. Waits for /healthz."""
    port = port or free_port()
    env = {"PASSGATE_BASE_URL": f"http://127.0.0.1:{port}", **env}
    args = cli("serve", "--host", "127.0.0.1", "--port", str(port), *SERVE_ARGS, *extra_args)
    server = Server(port, args, env, _log_path(env, f"serve-{port}"))
    _started.append(server)
    return server.wait_ready() if wait else server


def start_mail_worker(env: dict, *extra_args: str, name: str = "mail-worker") -> Proc:
    """``passgate mail-worker`` (a separate process, as with several instances)."""
    proc = Proc(name, cli("mail-worker", *extra_args), env, _log_path(env, name))
    _started.append(proc)
    return proc


_finished: list[Proc] = []


def all_logs() -> str:
    """The output of every process of the current test."""
    return "\n".join(f"--- {p.name} ---\n{p.log()}" for p in _finished + _started)


def stop_all() -> None:
    """Stop every process started so far (the autouse fixture calls it after each test);
    their logs stay readable through ``all_logs()`` until the next test starts one."""
    _finished.clear()
    while _started:
        proc = _started.pop(0)
        proc.stop(timeout=5)
        _finished.append(proc)


atexit.register(stop_all)  # pytest itself interrupted: leave nothing behind


def assert_clean_log(text: str) -> None:
    """No SQLite lock error and no unhandled exception in a server's output."""
    assert "database is locked" not in text, text[-4000:]
    assert "unhandled error" not in text, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
