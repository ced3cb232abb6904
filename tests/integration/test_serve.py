"""``passgate serve`` as a real process: it answers HTTP and delivers queued mail itself.
Also the separate ``mail-worker`` and rate limits shared through Redis."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.request

from portal.db import database

from ..helpers import PASSWORD, REDIS_URL, cli, free_port, prepare_database, wait_for


def test_serve_answers_and_delivers_mail(server_env, smtp_server, make_user):
    make_user("alice")
    port = free_port()
    env = {**server_env, "PASSGATE_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(
        cli("serve", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        jar = urllib.request.HTTPCookieProcessor()
        opener = urllib.request.build_opener(jar)
        page = opener.open(f"http://127.0.0.1:{port}/password/forgot").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = f"identifier=alice&csrf_token={token}".encode()
        response = opener.open(f"http://127.0.0.1:{port}/password/forgot", data=data)
        assert response.url.endswith("/password/forgot/sent")
        deadline = time.time() + 15
        while not smtp_server.messages and time.time() < deadline:
            time.sleep(0.1)
        ((rcpts, msg),) = smtp_server.messages
        assert rcpts == ["alice@example.test"]
        assert f"http://127.0.0.1:{port}/password/reset/" in smtp_server.text_of(msg)
    finally:
        proc.terminate()
        proc.wait(10)


def test_mail_worker_once_delivers_the_queue(server_env, smtp_server, app):
    from portal import mail

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        mail.queue("test", "ops@example.test")
    result = subprocess.run(
        cli("mail-worker", "--once"), env=server_env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert [r for r, _ in smtp_server.messages] == [["ops@example.test"]]


def test_rate_limits_are_shared_through_redis(make_app):
    import redis

    # This test process's own Redis database (PASSGATE_TEST_REDIS_URL, + the xdist worker).
    url = REDIS_URL
    client = redis.Redis.from_url(url)
    client.ping()  # Redis must be running (it is in CI); a failure here is a real failure
    client.flushdb()
    overrides = {"REDIS_URL": url, "LIMIT_FORGOT": "3 per minute"}
    first, second = make_app(**overrides), make_app(**overrides)
    prepare_database(first)
    from ..helpers import post_form

    codes = [
        post_form(inst.test_client(), "/password/forgot", {"identifier": "x"}).status_code
        for inst in (first, second, first, second)
    ]
    assert codes == [303, 303, 303, 429]
    client.flushdb()


def test_live_policy_check_fragment(client, make_user):
    from ..helpers import csrf_of, login

    make_user("alice", first_name="Alice")
    login(client, "alice")
    token = csrf_of(client.get("/password/change"))
    short = client.post(
        "/password/check",
        data={"password": "short"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    body = short.get_data(as_text=True)
    assert short.status_code == 200 and "<html" not in body
    assert re.search(r'class="bad"[^>]*data-rule="min_length"', body)
    good = client.post(
        "/password/check",
        data={"password": PASSWORD, "confirm": PASSWORD},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert re.search(r'class="ok"[^>]*data-rule="min_length"', good.get_data(as_text=True))
    personal = client.post(
        "/password/check",
        data={"password": "alicealicealice1"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert re.search(r'class="bad"[^>]*data-rule="not_personal"', personal.get_data(as_text=True))
    assert client.post("/password/check", data={"password": "x"}).status_code == 400  # CSRF


def test_live_check_uses_the_admins_target_as_context(client, make_user):
    from ..helpers import csrf_of, login

    make_user("boss", role="admin")
    target = make_user("margaux", first_name="Margaux")
    login(client, "boss")
    token = csrf_of(client.get("/"))
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    data = {"password": "margauxmargaux12"}
    own = client.post("/password/check", data=data, headers=headers).get_data(as_text=True)
    theirs = client.post(
        "/password/check", data={**data, "for_user": str(target.id)}, headers=headers
    ).get_data(as_text=True)
    assert not re.search(r'class="bad"[^>]*data-rule="not_personal"', own)
    assert re.search(r'class="bad"[^>]*data-rule="not_personal"', theirs)
