"""Behind a reverse proxy: ``PASSGATE_TRUSTED_PROXIES=N`` takes the client address from the
N-th ``X-Forwarded-For`` entry from the right (the one the trusted proxy appended), so a
value the client forged further left changes neither the audited address nor the per-IP
rate-limit key. With 0 the header is ignored altogether: the TCP peer is the client.
"""

from __future__ import annotations

import pytest

from portal.db import database
from portal.models import AuditEvent, UserSession

from ..conftest import login

PROXY = "10.0.0.2"  # the reverse proxy: the TCP peer Passgate sees
CLIENT = "203.0.113.7"  # the real client, as the proxy appends it
OTHER_CLIENT = "203.0.113.8"
FORGED = "6.6.6.6"  # what a client types into its own X-Forwarded-For


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
        ips = [e.ip for e in AuditEvent.select().where(AuditEvent.action != "user.create")
               .order_by(AuditEvent.id)]
        ips += [s.ip for s in UserSession.select()]
        database.close()
    return ips


@pytest.mark.parametrize("trusted, expected", [(1, CLIENT), (0, PROXY)])
def test_forged_forwarded_for_does_not_change_the_audited_address(make_app, make_user,
                                                                  trusted, expected):
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
        codes.append(login(via_proxy(app, value), f"nobody{n}", "wrong password again 1").status_code)
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
