"""Item 6: several instances. Two ``passgate serve`` processes on different ports over the
same PostgreSQL and Redis (always PostgreSQL here, on the SQLite leg too), and two
``passgate mail-worker`` processes at once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from portal import mail
from portal.models import User

from ..helpers import PASSWORD
from .client import HX, Browser, Stats, source_address
from .helpers import (
    REDIS_URL,
    audit_counts,
    connected,
    create_users,
    last_audit_id,
    wait_all_sent,
)
from .server import assert_clean_log, base_env, start_mail_worker, start_server
from .smtp import Sink

pytestmark = pytest.mark.load


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()  # Redis must run (it does here and in CI): a failure is a real failure
    client.flushdb()
    yield client
    client.flushdb()


def two_servers(pg_app, tmp_path, sink, **extra):
    """Instances A and B: same database, Redis and secret key; own instance folders; mail
    left to a separate `passgate mail-worker` (the several-instance setup of the README)."""
    servers = []
    for name in ("a", "b"):
        env = base_env(
            tmp_path,
            pg_app.config["DATABASE_URL"],
            sink.port,
            PASSGATE_REDIS_URL=REDIS_URL,
            PASSGATE_INSTANCE=str(tmp_path / f"instance-{name}"),
            **extra,
        )
        servers.append(start_server(env, extra_args=("--no-mail-worker",), wait=False))
    for server in servers:
        server.wait_ready()
    return servers, env


def signed_in(browser: Browser, port: int) -> bool:
    r = browser.get("/", port=port)
    assert r.status in (200, 302), (r.status, r.text[:200])
    return r.status == 200


def copy_of(browser: Browser, source_ip: str) -> Browser:
    """Another browser holding the same cookies (a copied session cookie)."""
    other = Browser(browser.port, source_ip)
    other.cookies = dict(browser.cookies)
    return other


def test_sessions_logouts_and_resets_span_instances(pg_app, tmp_path, sink, redis_db):
    ids = create_users(pg_app, ["alice"], first_name="Alice")
    create_users(pg_app, ["boss"], role="admin")
    (a, b), env = two_servers(pg_app, tmp_path, sink)
    worker = start_mail_worker(env)
    stats = Stats()

    # A session made on A works on B; a logout on B ends it on A too (even a copied cookie).
    alice = Browser(a.port, source_address(0), stats=stats)
    assert alice.sign_in("alice", PASSWORD).location == "/"
    assert signed_in(alice, b.port) and signed_in(alice, a.port)
    stolen = copy_of(alice, source_address(1))
    home_b = alice.get("/", port=b.port)
    assert alice.post("/logout", {"csrf_token": home_b.csrf()}, port=b.port).status == 303
    assert not signed_in(stolen, a.port) and not signed_in(stolen, b.port)

    # A reset through B (mailed link) ends the sessions made on A and on B.
    on_a = Browser(a.port, source_address(2), stats=stats)
    on_b = Browser(b.port, source_address(3), stats=stats)
    assert on_a.sign_in("alice", PASSWORD).location == "/"
    assert on_b.sign_in("alice", PASSWORD).location == "/"
    helper = Browser(b.port, source_address(4), stats=stats)
    r = helper.form_post("/password/forgot", "/password/forgot", {"identifier": "alice"})
    assert r.location == "/password/forgot/sent"
    link = sink.wait_until(lambda _m: sink.links_to("alice@example.test"), 20, "the reset mail")[0]
    assert helper.get(link).location == "/password/reset"
    page = helper.get("/password/reset")
    new = "two instances one password 42"
    r = helper.post("/password/reset", {"password": new, "confirm": new, "csrf_token": page.csrf()})
    assert (r.status, r.location) == (303, "/login")
    assert not signed_in(on_a, a.port) and not signed_in(on_b, b.port)

    # An administrator's Reset & Unlock on A ends a session made on B.
    on_b = Browser(b.port, source_address(5), stats=stats)
    assert on_b.sign_in("alice", new).location == "/"
    boss = Browser(a.port, source_address(6), stats=stats)
    assert boss.sign_in("boss", PASSWORD).location == "/"
    csrf = boss.get("/admin/users").csrf()
    r = boss.post(f"/admin/users/{ids['alice']}/reset", {"csrf_token": csrf}, headers=HX)
    assert r.status == 200 and "Password has been reset" in r.text
    assert not signed_in(on_b, b.port)

    worker.stop()
    for server in (a, b):
        server.stop()
        assert_clean_log(server.log())
    assert not any(code >= 500 for code in stats.statuses), stats.server_errors


def test_failed_sign_ins_on_both_instances_count_toward_one_lock(pg_app, tmp_path, sink, redis_db):
    ids = create_users(pg_app, ["carol", "dave"])
    audit_from = last_audit_id(pg_app)
    (a, b), _env = two_servers(pg_app, tmp_path, sink, PASSGATE_LIMIT_FORGOT="3 per minute")
    stats = Stats()

    # One after the other, alternating A and B: the 5th failure locks (LOCKOUT_FREE_FAILURES).
    for attempt in range(5):
        browser = Browser((a, b)[attempt % 2].port, source_address(attempt), stats=stats)
        assert browser.sign_in("carol", "wrong password " * 2).status == 401
    for server in (a, b):  # locked everywhere, even with the right password
        r = Browser(server.port, source_address(9), stats=stats).sign_in("carol", PASSWORD)
        assert r.status == 401 and "Too many attempts: wait" in r.text, r.text[-1500:]

    # At the same moment on both: every failure is counted (no lost update).
    barrier = threading.Barrier(8)

    def wrong(index: int) -> None:
        browser = Browser((a, b)[index % 2].port, source_address(20 + index), stats=stats)
        page = browser.get("/login")
        barrier.wait(30)
        r = browser.post(
            "/login",
            {"identifier": "dave", "password": "not it, not it", "csrf_token": page.csrf()},
        )
        assert r.status == 401

    threads = [threading.Thread(target=wrong, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    # Per-IP limits live in Redis: 3 recovery requests per minute from one address in all.
    codes = [
        Browser((a, b)[i % 2].port, source_address(40), stats=stats)
        .form_post("/password/forgot", "/password/forgot", {"identifier": "x"})
        .status
        for i in range(4)
    ]
    assert codes == [303, 303, 303, 429]

    with connected(pg_app):
        carol = User.get_by_id(ids["carol"])
        dave = User.get_by_id(ids["dave"])
    assert carol.failed_count == 5 and carol.locked_until is not None
    counts = audit_counts(pg_app, audit_from)
    # carol's two refused attempts with the right password; the rest are dave's.
    dave_refused = counts["login.failure:throttled"] - 2
    # Each of dave's 8 simultaneous failures was either counted or refused as throttled
    # (none lost), and he is locked like carol: 5 consecutive failures.
    assert (dave.failed_count + dave_refused, dave.failed_count >= 5) == (8, True), (
        dave.failed_count,
        counts,
    )
    assert dave.locked_until is not None
    assert counts["account.lock"] == 2, counts  # carol, then dave at his 5th failure
    for server in (a, b):
        server.stop()
        assert_clean_log(server.log())
    assert not any(code >= 500 for code in stats.statuses), stats.server_errors


def test_two_mail_workers_deliver_every_mail_exactly_once(pg_app, tmp_path, redis_db):
    count = 250  # more than one worker's batch, so that both have work
    with connected(pg_app):
        for i in range(count):
            mail.queue("test", f"crowd{i:03d}@example.test")
    sink = Sink(delay=0.005).start()
    try:
        workers = []
        for name in ("a", "b"):
            env = base_env(
                tmp_path,
                pg_app.config["DATABASE_URL"],
                sink.port,
                PASSGATE_INSTANCE=str(tmp_path / f"instance-{name}"),
                PASSGATE_MAIL_DEFAULT_SENDER=f"Worker {name} <{name}@example.test>",
            )
            workers.append(start_mail_worker(env, name=f"mail-worker-{name}"))
        sink.wait_until(lambda m: len(m) >= count, 60, f"{count} mails")
        wait_all_sent(pg_app, 30)
        time.sleep(0.6)  # both workers pass over the queue again: no late second copy
        for worker in workers:
            worker.stop()
            assert_clean_log(worker.log())
    finally:
        sink.stop()
    received = Counter(sink.recipients())
    assert received == Counter({f"crowd{i:03d}@example.test": 1 for i in range(count)})
    senders = Counter(msg["From"].split("<")[1].rstrip(">") for _r, msg in sink.messages)
    print(f"\ndelivered by worker: {dict(senders)}")
    assert audit_counts(pg_app)["mail.sent"] == count
