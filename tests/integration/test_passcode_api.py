"""POST /api/passcode/verify (F19): key authentication, yes/no answers, no enumeration,
the sign-in throttle and lockout, per-key rate limit, concurrency, 503 when busy, audit."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from portal import mail, passwords
from portal.db import database
from portal.models import AuditEvent, LoginThrottle, OutboxMail
from portal.passcodes import apikeys, service
from portal.schema import migrate

from .. import helpers
from ..helpers import PASSWORD, login, prepare_database
from .passcode_helpers import GOOD, OTHER, configure, in_ctx, new_key, set_passcode, verify


@pytest.fixture
def setup(app, make_user):
    admin = make_user("admin", role="admin")
    alice = make_user("alice")
    configure(app, LOCKOUT_FREE_FAILURES=3, LOCKOUT_HARD_LIMIT=6)
    set_passcode(app, alice)
    return {"admin": admin, "alice": alice, "key": new_key(app, admin)}


def events(app, action="passcode.verify"):
    with app.app_context():
        database.connect(reuse_if_open=True)
        rows = list(AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id))
        database.close()
        return rows


def test_right_and_wrong_passcodes_json_and_form(app, client, setup):
    key = setup["key"]
    ok = verify(client, key, "alice", GOOD)
    assert ok.status_code == 200 and ok.json == {"valid": True}
    assert ok.mimetype == "application/json" and "Set-Cookie" not in ok.headers
    assert verify(client, key, "ALICE", GOOD).json == {"valid": True}  # case-insensitive
    assert verify(client, key, "alice", OTHER).json == {"valid": False}
    assert verify(client, key, "alice", GOOD, as_json=False).json == {"valid": True}
    assert verify(client, key, "alice", "７３０５４１").json == {"valid": True}  # full-width
    outcomes = [(e.outcome, e.target_name, e.detail) for e in events(app)]
    assert outcomes[0] == ("success", "alice", '{"key": "phone system"}')
    assert outcomes[2][0] == "failure" and "bad_passcode" in outcomes[2][2]
    assert all(GOOD not in e.detail for e in events(app))


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer pgk_unknown", "Basic abc", "Bearer " + "x" * 300]
)
def test_missing_or_bad_key_is_401(app, client, setup, header):
    headers = {"Authorization": header} if header else {}
    r = client.post(
        "/api/passcode/verify", json={"username": "alice", "passcode": GOOD}, headers=headers
    )
    assert r.status_code == 401 and r.json == {"error": "invalid_api_key"}
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert events(app) == []  # the passcode was never looked at
    assert events(app, "apikey.refused")


def test_revoked_key_is_401(app, client, setup):
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        (key,) = apikeys.listing()
        apikeys.revoke(setup["admin"], key.id)
        database.close()
    assert verify(client, setup["key"], "alice", GOOD).status_code == 401


def test_a_key_of_another_scope_is_refused(app, client, setup):
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        assert apikeys.authenticate(setup["key"], scope="users.read") is None
        assert apikeys.authenticate(setup["key"]) is not None
        database.close()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "alice"},
        {"passcode": GOOD},
        {"username": "", "passcode": GOOD},
        {"username": "alice", "passcode": 730541},
        {"username": "a" * 300, "passcode": GOOD},
        {"username": "alice", "passcode": "1" * 65},
        [1, 2],
    ],
)
def test_bad_input_is_400_never_500(app, client, setup, payload):
    r = client.post(
        "/api/passcode/verify", json=payload, headers={"Authorization": f"Bearer {setup['key']}"}
    )
    assert r.status_code == 400 and r.json == {"error": "username_and_passcode_required"}


def test_malformed_json_is_400(app, client, setup):
    r = client.post(
        "/api/passcode/verify",
        data="{not json",
        headers={"Authorization": f"Bearer {setup['key']}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_passcodes_turned_off_answers_404_after_the_key(app, client, setup):
    configure(app, PASSCODES_ENABLED=False)
    r = verify(client, setup["key"], "alice", GOOD)
    assert r.status_code == 404 and r.json == {"error": "passcodes_disabled"}
    assert verify(client, "pgk_wrong", "alice", GOOD).status_code == 401


def test_no_enumeration_same_answer_and_same_work(app, client, setup, make_user, monkeypatch):
    make_user("bob")  # an account without a passcode
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(
        passwords,
        "verify_password",
        lambda pw, hashed: calls.append(hashed is None) or real(pw, hashed),
    )
    answers = {}
    for name in ("alice", "bob", "nobody-here", "admin"):
        calls.clear()
        r = verify(client, setup["key"], name, OTHER)
        answers[name] = (r.status_code, r.get_data(), r.headers.get("Retry-After"))
        assert len(calls) == 1  # one bcrypt verification on every path
    assert len(set(answers.values())) == 1
    # Every typed name has its own counter, whether or not it names an account.
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        counts = {n: service.throttle_state(n).failed_count for n in answers}
        database.close()
    assert set(counts.values()) == {1}
    reasons = [e.detail for e in events(app)]
    assert any("unknown_username" in r for r in reasons) and any(
        "no_passcode" in r for r in reasons
    )


def _fail(client, key, name, times):
    return [verify(client, key, name, OTHER) for _ in range(times)]


@pytest.mark.parametrize("name", ["alice", "nobody-here"])
def test_throttle_then_lockout_like_sign_in(app, client, setup, name):
    key = setup["key"]
    assert [r.json for r in _fail(client, key, name, 3)] == [{"valid": False}] * 3
    waiting = verify(client, key, name, GOOD)  # right passcode, but a wait is running
    assert waiting.status_code == 429 and waiting.json == {"valid": False}
    assert 1 <= int(waiting.headers["Retry-After"]) <= 30
    with app.app_context():  # the wait is over; failures go on to the hard lock
        database.connect(reuse_if_open=True)
        LoginThrottle.update(locked_until=None).execute()
        database.close()
    for _ in range(3):
        verify(client, key, name, OTHER)
        with app.app_context():
            database.connect(reuse_if_open=True)
            LoginThrottle.update(locked_until=None).execute()
            database.close()
    locked = verify(client, key, name, GOOD)
    assert locked.status_code == 429 and locked.json == {"valid": False}
    assert [e.outcome for e in events(app)].count("throttled") == 2
    if name == "alice":
        assert [e.detail for e in events(app, "passcode.lock")] == [
            '{"failures": 3, "hard": false}',
            '{"failures": 6, "hard": true}',
        ]
        # The password is untouched: guessing passcodes never locks the web sign-in.
        assert login(app.test_client(), "alice", PASSWORD).status_code == 303
    # One notice at the hard lock, to the owner of the account (none for an unknown name).
    notices = _mails(app, "passcode_locked")
    assert [to for to, _ in notices] == (["alice@example.test"] if name == "alice" else [])
    for _, (subject, text, html) in notices:
        assert (
            "alice" in text
            and "alice" in html
            and subject == helpers.subject(app, "passcode_locked")
        )


def _mails(app, kind):
    """(recipient, (subject, text, html)) of each queued mail of ``kind``."""
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        try:
            rows = OutboxMail.select().where(OutboxMail.kind == kind)
            return [(m.recipient, mail.render(m)) for m in rows]
        finally:
            database.close()


def test_an_administrators_reset_lifts_the_passcode_lock(app, client, setup):
    key = setup["key"]
    _fail(client, key, "alice", 3)
    assert verify(client, key, "alice", GOOD).status_code == 429
    temp = in_ctx(app, service.reset, setup["admin"], setup["alice"])
    assert verify(client, key, "alice", temp).json == {"valid": True}


def test_success_clears_the_count(app, client, setup):
    key = setup["key"]
    _fail(client, key, "alice", 2)
    assert verify(client, key, "alice", GOOD).json == {"valid": True}
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        assert service.throttle_state("alice").failed_count == 0
        database.close()


def test_disabled_account_answers_no(app, client, setup):
    with app.app_context():
        database.connect(reuse_if_open=True)
        from portal.models import User

        User.update(disabled=True).where(User.id == setup["alice"].id).execute()
        database.close()
    assert verify(client, setup["key"], "alice", GOOD).json == {"valid": False}


def test_per_key_rate_limit(make_app, make_user):
    app = make_app(LIMIT_PASSCODE_API="3 per minute", RATELIMIT_STORAGE_URI="memory://")
    prepare_database(app)
    admin = make_user("admin", role="admin")
    configure(app)
    one, two = new_key(app, admin, "one"), new_key(app, admin, "two")
    client = app.test_client()
    assert [verify(client, one, "alice", GOOD).status_code for _ in range(3)] == [200] * 3
    over = verify(client, one, "alice", GOOD)
    assert over.status_code == 429 and over.json == {"error": "rate_limited"}
    assert int(over.headers["Retry-After"]) >= 1
    assert verify(client, two, "alice", GOOD).status_code == 200  # counted per key


def test_simultaneous_wrong_passcodes_are_all_counted(app, setup):
    configure(app, LOCKOUT_FREE_FAILURES=20, LOCKOUT_HARD_LIMIT=50)
    key, threads, results = setup["key"], [], []
    start = threading.Barrier(8)

    def attempt():
        client = app.test_client()
        start.wait()
        results.append(verify(client, key, "alice", OTHER).status_code)

    for _ in range(8):
        threads.append(threading.Thread(target=attempt))
        threads[-1].start()
    for thread in threads:
        thread.join()
    assert results == [200] * 8
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        assert service.throttle_state("alice").failed_count == 8
        database.close()
    assert len([e for e in events(app) if e.outcome == "failure"]) == 8


def test_busy_database_is_503_with_retry_after(make_app, make_user, tmp_path):
    path = tmp_path / "busy.db"
    app = make_app(DATABASE_URL=f"sqlite:///{path}", DATABASE_BUSY_TIMEOUT_MS=150)
    with app.app_context():
        migrate()
        database.close()
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        from portal import accounts, settings

        admin, _temp = accounts.create_user(
            "admin", role="admin", email="a@example.test", password=PASSWORD
        )
        settings.save({"PASSCODES_ENABLED": True})
        raw = apikeys.create(admin, "phone")[1]
        database.close()
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = verify(app.test_client(), raw, "admin", GOOD)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.json == {"error": "busy"}


def test_checks_show_in_the_audit_log_with_the_key_name(app, client, setup):
    verify(client, setup["key"], "alice", OTHER)
    login(client, "admin")
    page = client.get("/admin/audit?lang=fr").get_data(as_text=True)
    assert "Code personnel vérifié (API)" in page and "code personnel incorrect" in page
    assert "phone system" in page
