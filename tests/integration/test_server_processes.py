"""``passgate serve`` as an operator runs it: several HTTP worker processes and one
background worker process (whose work moves into an HTTP worker if it dies), per-IP
limits shared by the processes, graceful SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from portal.db import database
from portal.models import OutboxMail

from ..helpers import PASSWORD, cli, free_port, wait_for

LEADER_RE = re.compile(r"background worker running in process (\d+)")


class Server:
    def __init__(self, env, *args):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(env["PASSGATE_INSTANCE"], f"serve-{self.port}.log")
        os.makedirs(env["PASSGATE_INSTANCE"], exist_ok=True)
        self.log = open(self.log_path, "w")  # noqa: SIM115 — closed in stop()
        env = {**env, "PASSGATE_BASE_URL": self.url}
        self.proc = subprocess.Popen(
            cli("serve", "--port", str(self.port), *args),
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self.url + "/healthz", 30)

    def children(self) -> list[int]:
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as fh:
            return [int(pid) for pid in fh.read().split()]

    def output(self) -> str:
        with open(self.log_path) as fh:
            return fh.read()

    def leaders(self) -> list[int]:
        return [int(pid) for pid in LEADER_RE.findall(self.output())]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(40)
        finally:
            self.log.close()


@pytest.fixture
def serve(request):
    base_env = request.getfixturevalue("server_env")
    started = []

    def start(*args, **env):
        server = Server({**base_env, **env}, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)


def until(predicate, seconds=20.0, step=0.1):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def forgot(url, identifier):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    page = opener.open(url + "/password/forgot").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = f"identifier={identifier}&csrf_token={token}".encode()
    try:
        return opener.open(url + "/password/forgot", data=data).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_one_background_worker_among_the_processes_delivers_each_mail_once(
    serve, smtp_server, make_user
):
    for i in range(12):
        make_user(f"user{i}")
    server = serve("--workers", "2", "--threads", "2", PASSGATE_LIMIT_FORGOT="100 per minute")
    # The master's children: two HTTP workers and the background worker.
    assert until(lambda: len(server.children()) == 3)
    for i in range(12):
        assert forgot(server.url, f"user{i}") == 200
    assert until(lambda: len(smtp_server.messages) >= 12)
    time.sleep(1)  # a second worker would now send duplicates
    recipients = sorted(r for rcpts, _ in smtp_server.messages for r in rcpts)
    assert recipients == sorted(f"user{i}@example.test" for i in range(12))
    leaders = server.leaders()
    assert len(leaders) == 1 and leaders[0] in server.children()
    assert "Booting worker with pid: %d" % leaders[0] not in server.output()  # not HTTP
    assert server.stop() == 0
    assert not os.path.exists(f"/proc/{leaders[0]}")  # stopped with the server


def test_the_background_worker_moves_when_its_process_is_killed(serve, smtp_server, make_user):
    make_user("alice")
    server = serve("--workers", "2", "--threads", "2")
    first = until(server.leaders)[0]
    os.kill(first, signal.SIGKILL)
    # An HTTP worker process takes the worker lock over.
    assert until(lambda: len(server.leaders()) == 2, seconds=30)
    second = server.leaders()[1]
    assert second != first and "Booting worker with pid: %d" % second in server.output()
    # ... and when that HTTP worker dies too, gunicorn's replacement or its sibling does.
    os.kill(second, signal.SIGKILL)
    assert until(lambda: len(server.leaders()) == 3, seconds=30)
    third = server.leaders()[2]
    assert third not in (first, second) and third in server.children()
    assert forgot(server.url, "alice") == 200
    assert until(lambda: smtp_server.messages)
    assert [r for r, _ in smtp_server.messages] == [["alice@example.test"]]


def test_per_ip_limits_are_shared_by_the_worker_processes(serve):
    server = serve("--workers", "2", "--threads", "1", PASSGATE_LIMIT_FORGOT="3 per minute")
    codes = [forgot(server.url, f"nobody{i}") for i in range(6)]
    # Each POST is a new connection, spread over both processes: still 3 in all.
    assert codes == [200, 200, 200, 429, 429, 429]


def test_sigterm_lets_requests_in_flight_finish_and_leaves_mail_queued(serve, app, make_user):
    make_user("alice")
    # bcrypt at cost 14 makes a sign-in last about a second.
    server = serve(
        "--workers",
        "2",
        "--threads",
        "2",
        PASSGATE_BCRYPT_ROUNDS="14",
        PASSGATE_MAIL_SERVER="127.0.0.1",
        PASSGATE_MAIL_PORT=str(free_port()),
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(), NoRedirect)
    page = opener.open(server.url + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    result = {}

    def sign_in():
        data = urllib.parse.urlencode(
            {"identifier": "alice", "password": PASSWORD, "csrf_token": token}
        ).encode()
        try:
            result["status"] = opener.open(server.url + "/login", data=data).status
        except urllib.error.HTTPError as exc:
            result["status"] = exc.code

    thread = threading.Thread(target=sign_in)
    thread.start()
    time.sleep(0.3)
    assert server.stop() == 0  # SIGTERM: graceful
    thread.join(10)
    assert result.get("status") == 303  # the sign-in finished: redirected home
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert not OutboxMail.select().where(OutboxMail.status == "sending").exists()
