"""My sessions (issue 10, item 4): the list, ending one or all other sessions (htmx and
no-JS), the admin/manager view on a user's page, and cheap last-seen writes."""

from __future__ import annotations

import re
from datetime import timedelta

from portal.account_sessions.service import describe
from portal.db import database
from portal.models import AuditEvent, UserSession, utcnow

from ..helpers import (
    HX,
    PASSWORD,
    age_session,
    audit_actions,
    body,
    csrf_of,
    login,
    people,
    says,
)

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
)
ON_WINDOWS = {"browser": "Firefox", "system": "Windows"}  # how the list names FIREFOX
ON_IOS = {"browser": "Safari", "system": "iOS"}
HANDLE_RE = re.compile(r'data-session="([0-9a-f]{32})"(?! data-current)')


def browser(app, username, ua, ip="127.0.0.1"):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": ua, "REMOTE_ADDR": ip})
    assert login(client, username).status_code == 303
    return client


def count_sessions(app, user_id) -> int:
    with app.app_context():
        database.connect(reuse_if_open=True)
        n = UserSession.select().where(UserSession.user == user_id).count()
        database.close()
        return n


def test_describe_is_coarse():
    assert describe(FIREFOX) == ("Firefox", "Windows")
    assert describe(SAFARI) == ("Safari", "iOS")
    assert describe(EDGE) == ("Edge", "Windows")
    assert describe("") == (None, None)


def test_list_marks_this_session_and_shows_the_others(app, make_user):
    p = people(make_user)
    phone = browser(app, "alice", SAFARI, "203.0.113.7")
    laptop = browser(app, "alice", FIREFOX)
    home = body(laptop.get("/"))
    assert 'href="/account/sessions"' in home
    r = laptop.get("/account/sessions")
    text = body(r)
    assert r.status_code == 200 and says(text, "MY_SESSIONS")
    rows = re.findall(r"<tr data-session=[^>]*>.*?</tr>", text, re.S)
    assert len(rows) == 2
    assert "data-current" in rows[0] and says(rows[0], "DEVICE", **ON_WINDOWS)
    assert says(rows[0], "THIS_SESSION") and not says(rows[0], "END_SESSION")
    assert says(rows[1], "DEVICE", **ON_IOS) and "203.0.113.7" in rows[1]
    assert says(rows[1], "END_SESSION")
    assert says(text, "END_OTHER_SESSIONS")
    # Nothing from the cookie or its stored hash is on the page.
    with app.app_context():
        database.connect(reuse_if_open=True)
        for row in UserSession.select():
            assert row.id_hash not in text
        database.close()
    # French.
    laptop.get("/?lang=fr")
    fr = body(laptop.get("/account/sessions"))
    assert "Mes sessions" in fr and "Cette session" in fr and "Firefox sous Windows" in fr
    assert phone.get("/").status_code == 200 and p["bob"]  # other accounts untouched


def test_end_one_with_htmx_signs_that_browser_out(app, make_user):
    p = people(make_user)
    phone = browser(app, "alice", SAFARI)
    laptop = browser(app, "alice", FIREFOX)
    page = laptop.get("/account/sessions")
    handle = HANDLE_RE.search(body(page)).group(1)
    r = laptop.post(
        f"/account/sessions/{handle}/end", data={"csrf_token": csrf_of(page)}, headers=HX
    )
    text = body(r)
    assert r.status_code == 200 and "<html" not in text and 'id="sessions-region"' in text
    assert says(text, "SESSION_ENDED") and "Safari" not in text
    assert phone.get("/").status_code == 302  # signed out
    assert laptop.get("/").status_code == 200
    event = audit_actions(app, "session.end")[-1]
    assert event.actor_id == event.target_id == p["alice"].id and "Safari" in event.detail
    # Again: it is gone (404), and the region says so.
    again = laptop.post(
        f"/account/sessions/{handle}/end", data={"csrf_token": csrf_of(page)}, headers=HX
    )
    assert again.status_code == 404 and says(body(again), "SESSION_GONE")


def test_cannot_end_own_current_or_someone_elses_session(app, make_user):
    people(make_user)
    bob = browser(app, "bob", EDGE)
    bob_handle = re.search(r'data-session="([0-9a-f]{32})"', body(bob.get("/account/sessions")))
    laptop = browser(app, "alice", FIREFOX)
    page = laptop.get("/account/sessions")
    mine = re.search(r'data-session="([0-9a-f]{32})" data-current', body(page)).group(1)
    token = csrf_of(page)
    assert (
        laptop.post(f"/account/sessions/{mine}/end", data={"csrf_token": token}).status_code == 400
    )
    r = laptop.post(f"/account/sessions/{bob_handle.group(1)}/end", data={"csrf_token": token})
    assert r.status_code == 404 and says(body(r), "SESSION_GONE")
    assert bob.get("/").status_code == 200
    # No CSRF token: refused, nothing ended.
    assert laptop.post(f"/account/sessions/{mine}/end").status_code == 400
    assert laptop.post("/account/sessions/end-others").status_code == 400
    # Signed out: to the sign-in page.
    assert app.test_client().post("/account/sessions/end-others").status_code in (400, 401)


def test_end_all_others_without_javascript(app, make_user):
    p = people(make_user)
    phone = browser(app, "alice", SAFARI)
    tablet = browser(app, "alice", EDGE)
    laptop = browser(app, "alice", FIREFOX)
    page = laptop.get("/account/sessions")
    r = laptop.post("/account/sessions/end-others", data={"csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["Location"].endswith("/account/sessions")
    after = body(laptop.get("/account/sessions"))
    assert says(after, "OTHER_SESSIONS_ENDED", num=2)
    assert phone.get("/").status_code == 302 and tablet.get("/").status_code == 302
    assert count_sessions(app, p["alice"].id) == 1
    assert not says(after, "END_OTHER_SESSIONS")
    assert '"sessions": 2' in audit_actions(app, "session.end_others")[-1].detail


def test_last_seen_is_written_at_most_once_a_minute(app, make_user):
    p = people(make_user)
    laptop = browser(app, "alice", FIREFOX)
    with app.app_context():
        database.connect(reuse_if_open=True)
        before = UserSession.get(UserSession.user == p["alice"].id).last_seen_at
        database.close()
    laptop.environ_base["REMOTE_ADDR"] = "198.51.100.4"
    laptop.get("/")
    with app.app_context():
        database.connect(reuse_if_open=True)
        row = UserSession.get(UserSession.user == p["alice"].id)
        assert row.last_seen_at == before and row.ip == "127.0.0.1"  # no write this soon
        old = utcnow() - timedelta(minutes=2)
        UserSession.update(last_seen_at=old).execute()
        database.close()
    laptop.get("/")
    with app.app_context():
        database.connect(reuse_if_open=True)
        row = UserSession.get(UserSession.user == p["alice"].id)
        assert row.last_seen_at > old and row.ip == "198.51.100.4"
        database.close()


def test_admin_and_manager_see_and_end_a_users_sessions(app, make_user):
    p = people(make_user)
    phone = browser(app, "alice", SAFARI, "203.0.113.7")
    admin = browser(app, "admin", FIREFOX)
    page = admin.get(f"/admin/users/{p['alice'].id}")
    text = body(page)
    assert (
        says(text, "ACTIVE_SESSIONS") and says(text, "DEVICE", **ON_IOS) and "203.0.113.7" in text
    )
    handle = HANDLE_RE.search(text).group(1)
    # Step-up first when the password entry is old.
    age_session(app)
    r = admin.post(
        f"/admin/users/{p['alice'].id}/sessions/{handle}/end",
        data={"csrf_token": csrf_of(page)},
        headers=HX,
    )
    assert r.status_code == 401 and phone.get("/").status_code == 200
    r = admin.post(
        f"/admin/users/{p['alice'].id}/sessions/{handle}/end",
        data={"csrf_token": csrf_of(page), "reauth_password": PASSWORD},
    )
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/admin/users/{p['alice'].id}")
    assert phone.get("/").status_code == 302
    event = audit_actions(app, "admin.end_session")[-1]
    assert event.actor_id == p["admin"].id and event.target_id == p["alice"].id
    # A manager within reach (team A) may; outside it (team B), 403; a user, 403.
    carol = browser(app, "carol", EDGE)
    mgr = browser(app, "mgrA", FIREFOX)
    page = mgr.get(f"/admin/users/{p['carol'].id}")
    handle = HANDLE_RE.search(body(page)).group(1)
    r = mgr.post(
        f"/admin/users/{p['carol'].id}/sessions/{handle}/end",
        data={"csrf_token": csrf_of(page)},
        headers=HX,
    )
    assert r.status_code == 200 and says(body(r), "SESSION_ENDED")
    assert "HX-Request" in r.headers["Vary"]  # a fragment: caches keep it apart
    assert carol.get("/").status_code == 302
    bob = browser(app, "bob", EDGE)
    bob_handle = re.search(
        r'data-session="([0-9a-f]{32})"', body(bob.get("/account/sessions"))
    ).group(1)
    r = mgr.post(
        f"/admin/users/{p['bob'].id}/sessions/{bob_handle}/end",
        data={"csrf_token": csrf_of(page)},
        headers=HX,
    )
    assert r.status_code == 403 and bob.get("/").status_code == 200
    user = browser(app, "alice", FIREFOX)
    r = user.post(
        f"/admin/users/{p['bob'].id}/sessions/{bob_handle}/end",
        data={"csrf_token": csrf_of(user.get("/account/sessions"))},
    )
    assert r.status_code == 403 and bob.get("/").status_code == 200
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert (
            not AuditEvent.select()
            .where((AuditEvent.action == "admin.end_session") & (AuditEvent.target == p["bob"].id))
            .exists()
        )
        database.close()
