"""Checklist section G: access control, against a live server."""

from __future__ import annotations

import re
import time

from peewee import fn

from portal.models import AuditEvent, User, UserSession

from .client import HX, NEW_PASSWORD, PASSWORD, cookie_payload
from .flows import admin_reset, routes, signs_in


def _fingerprint(live, user_id: int) -> tuple:
    user = live.user(user_id)
    return (
        user.password_hash,
        user.disabled,
        user.role,
        user.email,
        user.must_change,
        user.hard_locked,
        user.team_id,
    )


def test_G1_deny_by_default(live):
    victim = live.account("gone")
    before = _fingerprint(live, victim.id)
    browser = live.client()
    token = browser.get("/login").csrf()  # a valid anonymous token: CSRF is not what stops it
    for path, methods, _endpoint in routes(live, victim.id):
        if "GET" in methods:
            response = browser.get(path)
            assert response.status == 302 and response.location.startswith("/login"), path
            fragment = browser.get(path, headers=HX)
            assert fragment.status == 401 and fragment.headers["hx-redirect"].startswith(
                "/login"
            ), path
        if "POST" in methods:
            response = browser.post(
                path, {"csrf_token": token, "ids": [victim.id], "confirm_count": "1"}
            )
            assert response.status in (401, 403), (path, response.status)
    assert _fingerprint(live, victim.id) == before


def test_G2_users_cannot_reach_admin_functions(live):
    alice = live.account("gtwo")
    victim = live.account("gtwov")
    before = _fingerprint(live, victim.id)
    browser = live.client()
    browser.login(alice.username)
    token = browser.get("/").csrf()
    home = browser.get("/").text
    assert "/admin" not in home  # no admin links
    for path, methods, _endpoint in routes(live, victim.id):
        if not path.startswith("/admin") or path == "/admin/reauth":
            continue  # re-authentication only confirms one's own password (below)
        for headers in ({}, HX):
            if "GET" in methods:
                assert browser.get(path, headers=headers).status in (403, 404), path
            if "POST" in methods:
                response = browser.post(
                    path,
                    {
                        "csrf_token": token,
                        "ids": [victim.id],
                        "confirm_count": "1",
                        "reauth_password": PASSWORD,
                    },
                    headers=headers,
                )
                assert response.status in (403, 404), (path, response.status)
    assert _fingerprint(live, victim.id) == before
    # /admin/reauth confirms alice's own password (throttled like a sign-in) and unlocks
    # nothing: the admin screens stay closed right after it.
    assert (
        browser.post("/admin/reauth", {"csrf_token": token, "reauth_password": PASSWORD}).status
        == 200
    )
    assert browser.get("/admin/users").status == 403
    assert browser.post(f"/admin/users/{victim.id}/disable", {"csrf_token": token}).status == 403


def _manager(live):
    alice = live.account("gmember", team="Team A")
    bob = live.account("gbob", team="Team B")
    boss = live.account("gadmin", role="admin")
    manager = live.account("gmgr", role="manager", team="Team A", manages=alice.username)
    browser = live.client()
    assert browser.login(manager.username).status == 303
    return alice, bob, boss, manager, browser


def test_G3_managers_are_confined_to_their_team(live):
    alice, bob, boss, manager, browser = _manager(live)
    token = browser.get("/admin/users").csrf()
    for target in (bob, boss):
        before = _fingerprint(live, target.id)
        for path in (
            f"/admin/users/{target.id}",
            f"/admin/users/{target.id}/edit",
            f"/admin/users/{target.id}/password",
            f"/admin/users/{target.id}/reset",
        ):
            assert browser.get(path).status in (403, 404), path
        for path in (
            f"/admin/users/{target.id}/reset",
            f"/admin/users/{target.id}/password",
            f"/admin/users/{target.id}/sessions/end",
            f"/admin/users/{target.id}/disable",
            f"/admin/users/{target.id}/unlock",
        ):
            response = browser.post(
                path,
                {
                    "csrf_token": token,
                    "password": NEW_PASSWORD,
                    "confirm": NEW_PASSWORD,
                    "reauth_password": PASSWORD,
                },
            )
            assert response.status in (403, 404), path
        assert _fingerprint(live, target.id) == before
    bulk = browser.post(
        "/admin/users/bulk/recovery",
        {"csrf_token": token, "ids": [alice.id, bob.id], "reauth_password": PASSWORD},
    )
    assert bulk.status == 403  # refused as a whole: alice gets nothing either
    with live.db():
        denied = (
            AuditEvent.select()
            .where((AuditEvent.actor == manager.id) & (AuditEvent.action == "access.denied"))
            .count()
        )
        top = User.select(fn.MAX(User.id)).scalar()
    assert denied >= 11
    # Walking ids: every id outside the team answers alike (403).
    for user_id in range(max(1, top - 40), top + 5):
        status = browser.get(f"/admin/users/{user_id}").status
        assert status == (200 if user_id == alice.id else 403), user_id
    listing = browser.get("/admin/users?q=g").text
    assert alice.username in listing and bob.username not in listing
    assert boss.username not in listing
    audit = browser.get("/admin/audit").text
    assert bob.username not in audit and boss.username not in audit
    assert browser.get("/admin/users/export.csv").text.count(bob.username) == 0
    time.sleep(0.3)
    assert [live.mails_to(a.email) for a in (alice, bob, boss)] == [[], [], []]


def test_G4_no_privilege_escalation_or_mass_assignment(live):
    alice, bob, boss, manager, browser = _manager(live)
    other_manager = live.account("gmgrb", role="manager", team="Team A")
    path = f"/admin/users/{alice.id}/edit"
    page = browser.get(path).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    bob_team = live.user(bob.id).team_id
    response = browser.post(
        path,
        {
            "csrf_token": token,
            "username": alice.username,
            "email": alice.email,
            "first_name": "Changed",
            "last_name": "",
            "role": "admin",
            "is_admin": "1",
            "team_id": str(bob_team),
            "provider": "identity",
            "language": "",
            "reauth_password": PASSWORD,
        },
    )
    user = live.user(alice.id)
    assert user.role == "user" and user.team_id != bob_team
    assert response.status in (400, 403, 422) or user.first_name == "Changed"
    for target in (manager, other_manager, boss):  # oneself, a peer, an administrator
        assert browser.get(f"/admin/users/{target.id}/edit").status in (403, 404)
        response = browser.post(
            f"/admin/users/{target.id}/edit",
            {
                "csrf_token": token,
                "username": target.username,
                "role": "admin",
                "reauth_password": PASSWORD,
            },
        )
        assert response.status in (403, 404)
        assert live.user(target.id).role in ("manager", "admin")
    assert live.user(manager.id).role == "manager"


def test_G5_step_up_for_admin_actions(live, admin):
    account, browser = admin
    victim = live.account("gfive")
    before = _fingerprint(live, victim.id)
    live.age(UserSession, UserSession.user == account.id, authenticated_at=11 * 60)
    response, _temp = admin_reset(browser, victim.id)
    assert response.status == 401 and 'name="reauth_password"' in response.text
    assert _fingerprint(live, victim.id) == before
    token = browser.get("/admin/users").csrf()
    wrong = browser.post(
        "/admin/reauth", {"csrf_token": token, "reauth_password": "not my password at all"}
    )
    assert wrong.status == 422
    assert live.user(account.id).failed_count == 1  # counts toward the sign-in throttle
    right = browser.post("/admin/reauth", {"csrf_token": token, "reauth_password": PASSWORD})
    assert right.status == 200
    response, temp = admin_reset(browser, victim.id)
    assert response.status == 200 and temp
    # Bulk actions that take something away need the typed count.
    refused = browser.post("/admin/users/bulk/reset", {"csrf_token": token, "ids": [victim.id]})
    assert refused.status == 422 and signs_in(live, victim.username, temp)


def test_G6_authorization_on_every_request(live):
    alice, _bob, _boss, manager, browser = _manager(live)
    assert browser.get(f"/admin/users/{alice.id}").status == 200
    live.update_user(manager.id, role="user")
    assert browser.get(f"/admin/users/{alice.id}").status == 403
    assert browser.get("/admin/users").status == 403


SECRETS = re.compile(r"\$2[aby]\$|\b[0-9a-f]{64}\b")


def test_G7_only_needed_fields(live, admin):
    account, browser = admin
    victim = live.account("gseven")
    live.request_link(victim)
    pages = [
        browser.get(p)
        for p in (
            "/admin/users",
            f"/admin/users/{victim.id}",
            f"/admin/users/{victim.id}/edit",
            "/admin/audit",
            "/admin/users/export.csv",
            "/admin/audit/export.csv",
        )
    ]
    pages += [browser.get(p, headers=HX) for p in ("/admin/users", f"/admin/users/{victim.id}")]
    sid = cookie_payload(browser.session)["sid"]
    with live.db():
        session_hashes = [s.id_hash for s in UserSession.select()]
    for page in pages:
        assert page.status == 200
        assert not SECRETS.search(page.text), SECRETS.search(page.text)
        assert sid not in page.text
        assert not any(h in page.text for h in session_hashes)


def test_G8_self_service_acts_only_on_oneself(live):
    alice, bob = live.account("geight"), live.account("geightb")
    browser = live.client()
    browser.login(alice.username)
    token = browser.get("/password/change").csrf()
    response = browser.post(
        "/password/change",
        {
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "user_id": bob.id,
            "for_user": bob.id,
        },
    )
    assert response.status == 303
    assert signs_in(live, bob.username, PASSWORD)
    assert signs_in(live, alice.username, NEW_PASSWORD)
