"""Issue 11: one test (or a few) per finding of the independent attack, each named after its
number. Every one of them failed on the code as it was before the fix."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest

from portal.models import AuditEvent, LoginThrottle, User, utcnow

from ..helpers import (
    PASSWORD,
    age_session,
    audit_actions,
    body,
    csrf_of,
    db_get,
    in_request,
    login,
    people,
    post,
    says,
)
from ..settings_form import submit_settings


def _user(app, username) -> User:
    with in_request(app):
        return User.get(User.username_key == username.lower())


# --- Finding 1: step-up for privilege, recovery channel and lock-out actions ----------------

STEP_UP_EDIT = {
    "username": "alice",
    "email": "alice@example.test",
    "provider": "identity",
    "role": "user",
    "team": "",
}


def test_finding_01_creating_an_admin_needs_step_up(app, client, make_user):
    people(make_user)
    login(client, "admin")
    age_session(app)
    data = {
        "username": "mallory",
        "email": "mallory@example.test",
        "provider": "identity",
        "role": "admin",
        "team": "",
    }
    r = post(client, "/admin/users/new", data, htmx=True)
    assert r.status_code == 401 and "reauth_password" in body(r)
    with in_request(app):
        assert not User.select().where(User.username_key == "mallory").exists()
    # A plain user still needs no password (nothing privileged is created).
    r = post(
        client,
        "/admin/users/new",
        {**data, "username": "plain", "role": "user", "email": "plain@example.test"},
        htmx=True,
    )
    assert r.status_code == 200
    r = post(client, "/admin/users/new", {**data, "reauth_password": PASSWORD}, htmx=True)
    assert r.status_code == 200
    assert _user(app, "mallory").role == "admin"


def test_finding_01_csv_import_of_an_admin_needs_step_up(app, client, make_user):
    people(make_user)
    login(client, "admin")
    age_session(app)
    csv_text = "username,email,role\nmallory,mallory@example.test,admin\n"
    page = client.get("/admin/users/import")
    assert 'name="reauth_password"' in body(page)  # asked up front: a file cannot be re-posted
    r = client.post(
        "/admin/users/import",
        data={"csrf_token": csrf_of(page), "file": (io.BytesIO(csv_text.encode()), "u.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 401 and "administrator" in body(r)
    with in_request(app):
        assert not User.select().where(User.username_key == "mallory").exists()
    r = client.post(
        "/admin/users/import",
        data={
            "csrf_token": csrf_of(page),
            "reauth_password": PASSWORD,
            "file": (io.BytesIO(csv_text.encode()), "u.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 200
    assert _user(app, "mallory").role == "admin"
    # Rows that create no administrator need no password.
    r = client.post(
        "/admin/users/import",
        data={
            "csrf_token": csrf_of(page),
            "file": (io.BytesIO(b"username,email\nplainuser,p@example.test\n"), "u.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 200


def test_finding_01_email_change_needs_step_up_and_tells_the_old_address(
    app, client, make_user, outbox
):
    p = people(make_user)
    other_admin = make_user("root2", role="admin")
    login(client, "admin")
    age_session(app)
    for target, name in ((other_admin, "root2"), (p["admin"], "admin")):  # another's and own
        data = {
            "username": name,
            "email": "attacker@evil.test",
            "provider": "identity",
            "role": "admin",
            "team": "",
        }
        r = post(client, f"/admin/users/{target.id}/edit", data, htmx=True)
        assert r.status_code == 401 and "reauth_password" in body(r)
        assert db_get(app, User, User.id == target.id).email == f"{name}@example.test"
    data = {
        "username": "root2",
        "email": "new-root2@example.test",
        "provider": "identity",
        "role": "admin",
        "team": "",
    }
    r = post(
        client,
        f"/admin/users/{other_admin.id}/edit",
        {**data, "reauth_password": PASSWORD},
        htmx=True,
    )
    assert r.status_code == 200
    assert db_get(app, User, User.id == other_admin.id).email == "new-root2@example.test"
    outbox.deliver()
    notices = [m for m in outbox if m.recipients == ["root2@example.test"]]
    assert len(notices) == 1 and "email" in notices[0].subject.lower()
    assert "new-root2@example.test" not in notices[0].body  # the attacker's address stays out


@pytest.mark.parametrize("action", ["unlock", "disable", "enable", "sessions/end"])
def test_finding_01_row_actions_need_step_up(app, client, make_user, action):
    p = people(make_user)
    with in_request(app):
        User.update(hard_locked=True, disabled=(action == "enable")).where(
            User.id == p["carol"].id
        ).execute()
    login(client, "admin")
    age_session(app)
    r = post(client, f"/admin/users/{p['carol'].id}/{action}", htmx=True)
    assert r.status_code == 401 and "reauth_password" in body(r)
    carol = db_get(app, User, User.id == p["carol"].id)
    assert carol.hard_locked and carol.disabled == (action == "enable")
    assert not [e for e in audit_actions(app) if e.action.startswith("admin.")]
    r = post(
        client, f"/admin/users/{p['carol'].id}/{action}", {"reauth_password": PASSWORD}, htmx=True
    )
    assert r.status_code == 200


def test_finding_01_disable_through_the_edit_form_needs_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    age_session(app)
    r = post(
        client, f"/admin/users/{p['alice'].id}/edit", {**STEP_UP_EDIT, "disabled": "y"}, htmx=True
    )
    assert r.status_code == 401
    assert not db_get(app, User, User.id == p["alice"].id).disabled


def test_finding_01_reach_is_checked_before_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "alice")  # a plain user
    age_session(app)
    for url in (
        f"/admin/users/{p['bob'].id}/reset",
        f"/admin/users/{p['bob'].id}/password",
        "/admin/users/bulk/unlock",
        f"/admin/users/{p['bob'].id}/unlock",
    ):
        r = post(client, url, {"ids": str(p["bob"].id)}, htmx=True)
        assert r.status_code == 403, url
    # A manager on an account out of reach: 403 too, not the password dialog.
    client2 = app.test_client()
    login(client2, "mgrA")
    age_session(app)
    r = post(client2, f"/admin/users/{p['bob'].id}/reset", htmx=True)
    assert r.status_code == 403


# --- Finding 2: one throttle wherever a password is verified, counted atomically ----------


def _wrong(client, identifier, n=1):
    response = None
    for _ in range(n):
        response = login(client, identifier, "wrong password number x")
    return response


def _forget_device(client):
    """A stolen session cookie comes without the owner's device cookie."""
    for name in ("passgate_device", "__Host-passgate_device"):
        client.delete_cookie(name)


def test_finding_02_failures_are_counted_atomically(app, make_user):
    from portal import throttle

    make_user("alice")
    rules = throttle.Rules(free=100, base_seconds=1, max_seconds=1, hard_limit=1000)
    with in_request(app):
        # Two requests read the row, then both record a failure: both must count.
        first, second = (
            User.get(User.username_key == "alice"),
            User.get(User.username_key == "alice"),
        )
        throttle.save_failure(first, rules)
        throttle.save_failure(second, rules)
        assert User.get(User.username_key == "alice").failed_count == 2
        one, two = throttle.identifier_state("ghost"), throttle.identifier_state("ghost")
        throttle.save_failure(one, rules)
        throttle.save_failure(two, rules)
        assert LoginThrottle.get(LoginThrottle.key == one.key).failed_count == 2


def test_finding_02_concurrent_wrong_current_passwords_are_all_counted(
    make_app, make_user, tmp_path
):
    from ..helpers import prepare_database

    app = make_app(LOCKOUT_FREE_FAILURES=20, LOCKOUT_HARD_LIMIT=100)
    prepare_database(app)
    make_user("alice")
    clients = [app.test_client() for _ in range(4)]
    for c in clients:
        login(c, "alice")
    tokens = [csrf_of(c.get("/password/change")) for c in clients]
    barrier = threading.Barrier(len(clients))

    def attack(c, token):
        barrier.wait()
        for _ in range(3):
            c.post(
                "/password/change",
                data={
                    "current_password": "not the password at all",
                    "password": "x",
                    "confirm": "x",
                    "csrf_token": token,
                },
            )

    threads = [threading.Thread(target=attack, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _user(app, "alice").failed_count == 12


def test_finding_02_reauth_is_refused_while_the_account_is_throttled(app, client, make_user):
    make_user("boss", role="admin")
    login(client, "boss")
    _forget_device(client)
    _wrong(app.test_client(), "boss", 5)  # someone else throttles the account
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_of(client.get("/admin/settings"))}
    r = client.post("/admin/reauth", data={"reauth_password": PASSWORD}, headers=headers)
    assert r.status_code == 429 and "HX-Reauthenticated" not in r.headers
    assert says(body(r), "THROTTLE_WAIT")
    # The inline step-up field goes through the same throttle.
    age_session(app)
    r = client.post(
        "/admin/users/%d/unlock" % _user(app, "boss").id,
        data={"reauth_password": PASSWORD},
        headers=headers,
    )
    assert r.status_code == 429


def test_finding_02_password_change_is_throttled(app, client, make_user):
    make_user("alice")
    login(client, "alice")
    _forget_device(client)
    token = csrf_of(client.get("/password/change"))
    data = {
        "current_password": "not the password at all",
        "password": "x",
        "confirm": "x",
        "csrf_token": token,
    }
    for _ in range(5):
        assert client.post("/password/change", data=data).status_code == 422
    assert _user(app, "alice").failed_count == 5
    new = "quiet meadow copper 4471 kite"
    r = client.post(
        "/password/change",
        data={**data, "current_password": PASSWORD, "password": new, "confirm": new},
    )
    assert r.status_code == 429 and says(body(r), "THROTTLE_WAIT")
    assert _user(app, "alice").failed_count == 5  # refused during the wait, not counted
    assert login(app.test_client(), "alice", new).status_code == 401


def test_finding_02_per_ip_limits_on_reauth_and_change(make_app, make_user):
    from ..helpers import prepare_database

    app = make_app(
        LIMIT_REAUTH="3 per minute", LIMIT_PASSWORD_CHANGE="3 per minute", LOCKOUT_FREE_FAILURES=20
    )
    prepare_database(app)
    make_user("boss", role="admin")
    client = app.test_client()
    login(client, "boss")
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_of(client.get("/admin/settings"))}
    codes = [
        client.post(
            "/admin/reauth", data={"reauth_password": "wrong password x"}, headers=headers
        ).status_code
        for _ in range(4)
    ]
    assert codes == [422, 422, 422, 429]
    token = csrf_of(client.get("/password/change"))
    codes = [
        client.post(
            "/password/change",
            data={
                "current_password": "wrong password x",
                "password": "x",
                "confirm": "x",
                "csrf_token": token,
            },
        ).status_code
        for _ in range(4)
    ]
    assert codes == [422, 422, 422, 429]


# --- Finding 3: the throttle does not tell which username and email belong together ---------


def _answer(response, identifier):
    from ..helpers import normalize

    return (
        response.status_code,
        normalize(body(response)).replace(f'value="{identifier}"', 'value=""'),
    )


@pytest.mark.parametrize("order", ["username_then_email", "email_then_username"])
def test_finding_03_username_and_email_pairing_is_not_revealed(app, make_user, order):
    make_user("alice2", email="alice2@example.test")
    answers = {}
    for kind, (name, email) in {
        "real": ("alice2", "alice2@example.test"),
        "unknown": ("bob9", "bob9@example.test"),
    }.items():
        first, second = (name, email) if order == "username_then_email" else (email, name)
        client = app.test_client()
        _wrong(client, first, 5)
        answers[kind] = _answer(_wrong(client, second), second)
    assert answers["real"] == answers["unknown"]
    assert not says(answers["real"][1], "SIGNIN_PAUSED")
    # Each typed identifier is still throttled on its own, known or not.
    for typed in (
        ("alice2", "bob9")
        if order == "username_then_email"
        else ("alice2@example.test", "bob9@example.test")
    ):
        assert says(body(_wrong(app.test_client(), typed, 1)), "SIGNIN_PAUSED")


def test_finding_03_account_is_still_protected_across_its_identifiers(app, make_user):
    make_user("alice2", email="alice2@example.test")
    client = app.test_client()
    _wrong(client, "alice2", 5)
    # The other identifier cannot be used to keep guessing: the right password is refused.
    assert login(app.test_client(), "alice2@example.test").status_code == 401


# --- Finding 4: the lock hurts the attacker, not the owner ---------------------------------


def _expire_sessions(app):
    from portal.models import UserSession

    with in_request(app):
        UserSession.delete().execute()


def test_finding_04_known_device_signs_in_during_a_lock(app, make_user):
    make_user("boss", role="admin")
    owner = app.test_client()
    assert login(owner, "boss").status_code == 303
    assert owner.get_cookie("passgate_device") is not None
    _expire_sessions(app)  # the owner comes back later (an explicit sign-out forgets the device)
    attacker = app.test_client()
    _wrong(attacker, "boss", 5)
    with in_request(app):
        User.update(hard_locked=True).where(User.username_key == "boss").execute()
    assert login(attacker, "boss").status_code == 401  # even with the right password
    assert login(app.test_client(), "boss").status_code == 401  # a new device too
    assert login(owner, "boss").status_code == 303  # the owner's device goes through


def test_finding_04_known_device_has_its_own_throttle(app, make_user):
    make_user("boss", role="admin")
    owner = app.test_client()
    login(owner, "boss")
    _expire_sessions(app)
    assert says(body(_wrong(owner, "boss", 6)), "SIGNIN_PAUSED")
    assert login(owner, "boss").status_code == 401
    # A forged or foreign device cookie is worth nothing.
    other = app.test_client()
    other.set_cookie("passgate_device", "forged.value.here")
    _wrong(app.test_client(), "boss", 5)
    assert login(other, "boss").status_code == 401


def test_finding_04_recovery_works_during_a_lock(app, make_user, outbox):
    import re

    make_user("alice")
    _wrong(app.test_client(), "alice", 5)
    with in_request(app):
        User.update(hard_locked=True).where(User.username_key == "alice").execute()
    client = app.test_client()
    page = client.get("/password/forgot")
    client.post("/password/forgot", data={"identifier": "alice", "csrf_token": csrf_of(page)})
    outbox.deliver()
    link = re.search(r"http://localhost(/password/reset/\S+)", outbox[-1].body).group(1)
    client.get(link)
    new = "quiet meadow copper 4471 kite"
    page = client.get("/password/reset")
    r = client.post(
        "/password/reset", data={"password": new, "confirm": new, "csrf_token": csrf_of(page)}
    )
    assert r.status_code == 303
    assert login(app.test_client(), "alice", new).status_code == 303


def test_finding_04_cli_unlock(app, make_user, tmp_path):
    from click.testing import CliRunner

    from portal.cli import main

    from ..helpers import PG_URL

    make_user("alice")
    _wrong(app.test_client(), "alice", 5)
    with in_request(app):
        User.update(hard_locked=True).where(User.username_key == "alice").execute()
    env = {
        "PASSGATE_SECRET_KEY": "test-secret-key-not-for-production",
        "PASSGATE_DATABASE_URL": PG_URL or f"sqlite:///{tmp_path}/passgate.db",
        "PASSGATE_BASE_URL": "http://localhost",
        "PASSGATE_INSTANCE": str(tmp_path / "i"),
    }
    result = CliRunner().invoke(main, ["unlock", "ALICE"], env=env)
    assert result.exit_code == 0 and "alice" in result.output
    assert login(app.test_client(), "alice").status_code == 303
    with in_request(app):
        event = AuditEvent.select().where(AuditEvent.action == "admin.unlock").get()
        assert "cli" in event.detail
    unknown = CliRunner().invoke(main, ["unlock", "nobody"], env=env)
    assert unknown.exit_code != 0 and "nobody" in unknown.output


# --- Finding 5: managers read only the audit events of accounts within their reach ----------


def test_finding_05_manager_does_not_read_admin_or_peer_manager_events(app, client, make_user):
    from portal import audit

    make_user("chief", role="admin", team="Alpha")  # an administrator in the manager's team
    make_user("peer", role="manager", team="Alpha")  # a peer manager, same team
    make_user("mgra", role="manager", team="Alpha")
    make_user("alice", team="Alpha")
    for name in ("chief", "peer", "alice"):
        login(app.test_client(), name)
    with in_request(app):
        chief = User.get(User.username_key == "chief")
        audit.record("reauth", outcome="failure", actor=chief, target=chief, ip="203.0.113.9")
    login(client, "mgra")
    page = body(client.get("/admin/audit"))
    export = body(client.get("/admin/audit/export.csv"))
    for text in (page, export):
        assert "alice" in text  # a member of the team: in reach
        assert "chief" not in text and "peer" not in text and "203.0.113.9" not in text
    # Filtering by name does not reach them either.
    assert says(body(client.get("/admin/audit?target=chief")), "AUDIT_NO_MATCH")
    assert len(body(client.get("/admin/audit/export.csv?target=peer")).splitlines()) == 1


# --- Finding 6: every audit filter is validated (422 with a message, never a 500) ----------


@pytest.mark.parametrize(
    "query",
    [
        "date_to=9999-12-31",
        "date_from=0001-01-01",
        "date_from=9999-12-31&date_to=9999-12-31",
        "action=login%00.success",
        "actor=%00",
        "outcome=x%01",
    ],
)
def test_finding_06_audit_filters_are_validated(app, client, make_user, query):
    make_user("admin", role="admin")
    login(client, "admin")
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == 422
    assert "field-error" in body(page) or "flash-error" in body(page)
    export = client.get(f"/admin/audit/export.csv?{query}")
    assert export.status_code == 422
    # Nothing is recorded as exported when nothing is.
    assert not [e for e in audit_actions(app) if e.action == "audit.export"]


def test_finding_06_date_range_message_in_french(app, client, make_user):
    make_user("admin", role="admin", language="fr")
    login(client, "admin")
    page = client.get("/admin/audit?date_to=9999-12-31")
    assert page.status_code == 422 and "Saisissez une date" in body(page)


# --- Finding 7: link lifetimes are bounded (recovery <= 24 h, invitations <= 7 days) ---------


@pytest.mark.parametrize(
    "key, value",
    [
        ("RESET_LINK_TTL", "100000"),
        ("RESET_LINK_TTL", "1441"),
        ("INVITE_LINK_TTL", "10081"),
        ("RESET_LINK_TTL", "soon"),
        ("INVITE_LINK_TTL", "0"),
    ],
)
def test_finding_07_startup_refuses_unbounded_link_lifetimes(make_app, monkeypatch, key, value):
    monkeypatch.setenv(f"PASSGATE_{key}", value)
    with pytest.raises(SystemExit) as exc:
        make_app()
    assert f"PASSGATE_{key}" in str(exc.value) and "end-of-day" in str(exc.value)


def test_finding_07_startup_accepts_bounded_values(make_app, monkeypatch):
    monkeypatch.setenv("PASSGATE_RESET_LINK_TTL", "1440")
    monkeypatch.setenv("PASSGATE_INVITE_LINK_TTL", "end-of-day")
    assert make_app().config["RESET_LINK_TTL"] == "1440"


def test_finding_07_stored_values_are_capped(app):
    from portal import settings

    with in_request(app):
        settings.save({"RESET_LINK_TTL": "100000", "INVITE_LINK_TTL": "999999"})
        now = utcnow()
        assert settings.link_expiry("reset", now) == now + timedelta(hours=24)
        assert settings.link_expiry("invite", now) == now + timedelta(days=7)


@pytest.mark.parametrize(
    "language, field, value, message",
    [
        ("en", "reset_link_minutes", "1441", "at most 24 hours"),
        ("en", "invite_link_minutes", "10081", "at most 7 days"),
        ("fr", "reset_link_minutes", "100000", "au plus 24 heures"),
        ("fr", "invite_link_minutes", "10081", "au plus 7 jours"),
    ],
)
def test_finding_07_settings_form_says_the_bound(
    app, client, make_user, language, field, value, message
):
    make_user("admin", role="admin", language=language)
    login(client, "admin")
    response = submit_settings(client, {field: value})
    assert response.status_code == 422 and message in body(response)


# --- Finding 8: repeated anonymous refusals are aggregated (one row per source per minute) ---


def _refusals(app, action):
    with in_request(app):
        return [
            (e.ip, e.repeats)
            for e in AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id)
        ]


def _by_source(app, action):
    """{ip: count}; at most one row per source (two if the test crossed a minute boundary)."""
    rows = _refusals(app, action)
    for ip in {ip for ip, _n in rows}:
        assert len([1 for i, _n in rows if i == ip]) <= 2
    return {ip: sum(n for i, n in rows if i == ip) for ip, _n in rows}


def test_finding_08_csrf_failures_are_aggregated(app):
    client = app.test_client()
    for _ in range(40):
        assert client.post("/login", data={"identifier": "x", "password": "y"}).status_code == 400
    other = app.test_client()
    for _ in range(3):
        other.post(
            "/password/forgot",
            data={"identifier": "x"},
            environ_base={"REMOTE_ADDR": "198.51.100.7"},
        )
    assert _by_source(app, "csrf.failure") == {"127.0.0.1": 40, "198.51.100.7": 3}
    # A new minute starts a new row.
    with in_request(app):
        AuditEvent.update(created_at=utcnow() - timedelta(minutes=2)).execute()
    client.post("/login", data={})
    assert _refusals(app, "csrf.failure")[-1] == ("127.0.0.1", 1)


def test_finding_08_rate_limit_hits_are_aggregated_and_shown_with_their_count(make_app, make_user):
    from ..helpers import prepare_database

    app = make_app(LIMIT_LOGIN="2 per minute")
    prepare_database(app)
    client = app.test_client()
    codes = [login(client, "ghost", "whatever password").status_code for _ in range(30)]
    assert codes.count(429) == 28
    assert _by_source(app, "ratelimit.hit") == {"127.0.0.1": 28}
    make_user("admin", role="admin")
    admin = app.test_client()
    admin.environ_base["REMOTE_ADDR"] = "192.0.2.1"  # another source, under the limit
    login(admin, "admin")
    page = body(admin.get("/admin/audit?action=ratelimit.hit"))
    assert "28" in page and "times" in page


# --- Finding 9: ?lang= saves the account's language only on a same-site request -------------


@pytest.mark.parametrize(
    "headers, saved",
    [
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({}, False),  # no Fetch Metadata: cannot tell, so nothing is written
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"Sec-Fetch-Site": "none"}, True),  # typed in the address bar
    ],
)
def test_finding_09_language_saved_only_from_the_same_site(app, client, make_user, headers, saved):
    make_user("alice")
    login(client, "alice")
    response = client.get("/?lang=fr", headers=headers)
    assert response.status_code == 200
    assert (_user(app, "alice").language == "fr") is saved


def test_finding_09_a_post_saves_the_language(app, client, make_user):
    make_user("alice")
    login(client, "alice")
    token = csrf_of(client.get("/password/change"))
    client.post("/password/change?lang=fr", data={"csrf_token": token})
    assert _user(app, "alice").language == "fr"


# --- Finding 10: usernames confusable with an existing one are refused ----------------------


@pytest.mark.parametrize(
    "name",
    [
        "\u0430lice",  # Cyrillic а
        "\u03b1lice",  # Greek α
        "al\u0456ce",  # Cyrillic і
        "a1ice",
        "AIice",
        "aIice",  # digit one, capital I for l
        "alice\u200b",  # zero-width space
        "\uff41lice",  # fullwidth a (NFKC would fold it: refused as a duplicate or confusable)
    ],
)
def test_finding_10_confusable_usernames_are_refused(app, client, make_user, name):
    make_user("alice")
    make_user("admin", role="admin")
    login(client, "admin")
    r = post(
        client,
        "/admin/users/new",
        {"username": name, "email": "", "provider": "identity", "role": "user", "team": ""},
    )
    assert r.status_code == 422
    assert f'value="{name}"' in body(r)  # what was typed is kept
    with in_request(app):
        assert User.select().count() == 2


def test_finding_10_rn_and_m_and_zero_and_o(app, make_user):
    from portal.accounts import AccountError, create_user

    make_user("marco")
    make_user("bob0")
    with in_request(app):
        for name in ("rnarco", "bobo", "BOBO", "b0b0"):
            with pytest.raises(AccountError):
                create_user(name, password=None)
        # Clearly different names, accents included, are fine.
        for name in ("marcel", "zoë", "jérôme.dupont", "anne-marie", "j_smith2"):
            assert create_user(name)[0].username == name


def test_finding_10_messages_and_other_ways_in(app, client, make_user):
    from portal.accounts import AccountError, create_user
    from portal.import_export.service import validate

    make_user("alice")
    with in_request(app):
        with pytest.raises(AccountError) as exc:
            create_user("\u0430lice")
        assert says(str(exc.value), "USERNAME_CONFUSABLE") or "letters" in str(exc.value)
        with pytest.raises(AccountError) as exc:
            create_user("\u0430\u0431\u0432")  # Cyrillic only: not in the safe set
        assert "letters" in str(exc.value)
        result, _rows = validate("username\nalic3\na1ice\n")
        assert [line for line, _c, _m in result.errors] == [3]
        result, _rows = validate("username\nbobby\nbobbу\n")  # Cyrillic у on line 3
        assert [line for line, _c, _m in result.errors] == [3]
    # Renaming is checked too, in French for a French admin.
    make_user("root", role="admin", language="fr")
    bob = make_user("bob")
    login(client, "root")
    r = post(
        client,
        f"/admin/users/{bob.id}/edit",
        {
            "username": "a1ice",
            "email": "bob@example.test",
            "provider": "identity",
            "role": "user",
            "team": "",
        },
    )
    assert r.status_code == 422 and "ressemble trop" in body(r)


def test_finding_10_migration_fills_in_existing_skeletons(tmp_path):
    from peewee import SqliteDatabase
    from playhouse.migrations import Runner

    from portal.schema import MIGRATIONS

    db = SqliteDatabase(str(tmp_path / "old.db"))
    runner = Runner(db, directory=MIGRATIONS)
    runner.up(target="0005_audit_repeats")
    db.execute_sql(
        'INSERT INTO "user" (username, username_key, first_name, last_name, first_name_key, '
        "last_name_key, role, provider, disabled, must_change, security_stamp, failed_count, "
        "hard_locked, created_at) VALUES ('AIice', 'aiice', '', '', '', '', 'user', 'identity', "
        "0, 0, 'x', 0, 0, '2026-01-01 00:00:00')"
    )
    runner.up()
    assert db.execute_sql('SELECT username_skeleton FROM "user"').fetchone() == ("alice",)
