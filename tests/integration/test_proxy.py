"""Behind a reverse proxy: ``PASSGATE_TRUSTED_PROXIES=N`` takes the client address from the
N-th ``X-Forwarded-For`` entry from the right (the one the trusted proxy appended), so a
value the client forged further left changes neither the audited address nor the per-IP
rate-limit key. With 0 the header is ignored altogether: the TCP peer is the client.
"""

from __future__ import annotations

import pytest

from portal.db import database
from portal.models import AuditEvent, UserSession

from ..helpers import REDIS_URL, login

PROXY = "10.0.0.2"  # the reverse proxy: the TCP peer Passgate sees
CLIENT = "203.0.113.7"  # the real client, as the proxy appends it
OTHER_CLIENT = "203.0.113.8"
FORGED = "6.6.6.6"  # what a client types into its own X-Forwarded-For
# Rate-limit counters: this test process's own Redis database (tests/helpers.py).


def via_proxy(app, forwarded_for: str | None):
    """A test client whose every request arrives from PROXY carrying ``forwarded_for``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def audited_ips(app) -> list[str]:
    """Addresses recorded by requests (audit events and sessions; set-up events have none)."""
    with app.app_context():
        database.connect(reuse_if_open=True)
        ips = [
            e.ip
            for e in AuditEvent.select()
            .where(AuditEvent.action != "user.create")
            .order_by(AuditEvent.id)
        ]
        ips += [s.ip for s in UserSession.select()]
        database.close()
    return ips


@pytest.mark.parametrize("trusted, expected", [(1, CLIENT), (0, PROXY)])
def test_forged_forwarded_for_does_not_change_the_audited_address(
    make_app, make_user, trusted, expected
):
    app = make_app(TRUSTED_PROXIES=trusted)  # same database as the ``app`` fixture's
    make_user("alice")
    # The client sent "X-Forwarded-For: 6.6.6.6"; the proxy appended the address it saw.
    client = via_proxy(app, f"{FORGED}, {CLIENT}")
    assert login(client, "alice", "not the right password at all").status_code == 401
    assert login(client, "alice").status_code == 303
    ips = audited_ips(app)
    assert len(ips) >= 3  # a failure, a success, a session
    assert set(ips) == {expected}


def test_without_a_trusted_proxy_the_header_alone_is_ignored(make_app, make_user):
    app = make_app(TRUSTED_PROXIES=0)
    make_user("alice")
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = CLIENT  # a direct connection
    client.environ_base["HTTP_X_FORWARDED_FOR"] = FORGED
    assert login(client, "alice").status_code == 303
    assert set(audited_ips(app)) == {CLIENT}


def _attempts(app, forwarded_values: list[str]) -> list[int]:
    codes = []
    for n, value in enumerate(forwarded_values):
        # A different unknown name each time: the per-account throttle stays out of it.
        codes.append(
            login(via_proxy(app, value), f"nobody{n}", "wrong password again 1").status_code
        )
    return codes


def test_forged_forwarded_for_cannot_escape_the_rate_limit(app, make_app):
    app = make_app(TRUSTED_PROXIES=1, LIMIT_LOGIN="3 per minute")
    # Each request forges a new left-hand value; the proxy-appended address stays the same.
    codes = _attempts(app, [f"198.51.100.{n}, {CLIENT}" for n in range(4)])
    assert codes == [401, 401, 401, 429]
    assert audited_ips(app)[-1] == CLIENT  # the ratelimit.hit event names the real client
    # ... while another real client behind the same proxy has its own count.
    assert _attempts(app, [f"{CLIENT}, {OTHER_CLIENT}"]) == [401]


def test_with_no_trusted_proxy_the_limit_counts_the_peer_whatever_the_header(app, make_app):
    app = make_app(TRUSTED_PROXIES=0, LIMIT_LOGIN="3 per minute")
    codes = _attempts(app, [CLIENT, OTHER_CLIENT, FORGED, f"{FORGED}, {CLIENT}"])
    assert codes == [401, 401, 401, 429]
    assert set(audited_ips(app)) == {PROXY}


def test_a_real_server_behind_one_proxy_audits_and_limits_the_client_address(
    tmp_path, app, make_user
):
    """Through ``passgate serve`` itself: its WSGI server must hand X-Forwarded-For to the
    app (waitress removes it by default), or behind nginx every visitor would share the
    proxy's address and one rate-limit bucket."""
    import os
    import re
    import subprocess
    import urllib.error
    import urllib.parse
    import urllib.request

    import redis

    from ..helpers import PASSWORD, PG_URL, cli, free_port, wait_for

    make_user("alice")
    # Counts shared through Redis, so the limit holds however many worker processes serve.
    limits = redis.Redis.from_url(REDIS_URL)
    limits.flushdb()
    port = free_port()
    env = {
        **os.environ,
        "PASSGATE_REDIS_URL": REDIS_URL,
        "PASSGATE_SECRET_KEY": "test-secret-key-not-for-production",
        "PASSGATE_DATABASE_URL": PG_URL or f"sqlite:///{tmp_path}/passgate.db",
        "PASSGATE_INSTANCE": str(tmp_path / "instance"),
        "PASSGATE_BASE_URL": f"http://127.0.0.1:{port}",
        "PASSGATE_BCRYPT_ROUNDS": "4",
        "PASSGATE_TRUSTED_PROXIES": "1",
        "PASSGATE_LIMIT_LOGIN": "2 per minute",
    }
    proc = subprocess.Popen(
        cli("serve", "--port", str(port), "--no-mail-worker"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")

        def sign_in(forwarded_for: str, password: str) -> int:
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
            page = opener.open(
                urllib.request.Request(
                    f"http://127.0.0.1:{port}/login", headers={"X-Forwarded-For": forwarded_for}
                )
            )
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode()).group(1)
            data = urllib.parse.urlencode(
                {"identifier": "alice", "password": password, "csrf_token": token}
            ).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/login",
                data=data,
                headers={"X-Forwarded-For": forwarded_for},
            )
            try:
                return opener.open(request).status
            except urllib.error.HTTPError as exc:
                return exc.code

        # The proxy appended CLIENT; the left-hand values are the client's own inventions.
        codes = [
            sign_in(f"{forged}, {CLIENT}", "not the right password at all")
            for forged in (FORGED, "198.51.100.1", "198.51.100.2")
        ]
        assert codes == [401, 401, 429]
        assert sign_in(f"{FORGED}, {OTHER_CLIENT}", PASSWORD) == 200  # own bucket; redirected home
    finally:
        proc.terminate()
        proc.wait(10)
        limits.flushdb()
    ips = audited_ips(app)
    assert ips and set(ips) == {CLIENT, OTHER_CLIENT}
    assert ips.count(OTHER_CLIENT) >= 2  # its sign-in and its session
