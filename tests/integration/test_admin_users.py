"""User administration through the test client: list/search, add/edit, Reset & Unlock,
Send email, set password, row actions, step-up, manager scoping."""

from __future__ import annotations

import re

import pytest

from portal import settings
from portal.db import database
from portal.models import AuditEvent, OutboxMail, User
from portal.users.labels import STATUS_LABELS

from ..helpers import (
    HX,
    NEW_PASSWORD,
    PASSWORD,
    age_session,
    audit_actions,
    body,
    db_get,
    english,
    login,
    message_pattern,
    people,
    post,
    says,
)

TEMP_RE = re.compile(r'<input type="hidden" name="password" value="([^"]+)">')

# --- list and search -----------------------------------------------------------------------


def test_list_page_and_fragment(app, client, make_user):
    people(make_user)
    login(client, "admin")
    page = client.get("/admin/users")
    assert page.status_code == 200
    assert "<html" in body(page) and 'id="user-results"' in body(page)
    assert "HX-Request" in page.headers["Vary"]
    for name in ("alice", "bob", "mgrA", "admin"):
        assert f">{name}</a>" in body(page)
    fragment = client.get("/admin/users?q=ali", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in body(fragment) and 'id="user-results"' in body(fragment)
    assert ">alice</a>" in body(fragment) and ">bob</a>" not in body(fragment)
    # The pushed URL answers a plain request with the full page.
    plain = client.get("/admin/users?q=ali")
    assert "<html" in body(plain) and ">alice</a>" in body(plain) and ">bob</a>" not in body(plain)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("ALI", {"alice"}),  # username prefix, case-insensitive
        ("archer", {"alice"}),  # last name
        ("bob@example", {"bob"}),  # email prefix
        ("Carol Cole", {"carol"}),  # first + last
        ("lice", set()),  # no infix scans
    ],
)
def test_search_by_name_email_prefix(app, client, make_user, query, expected):
    people(make_user)
    login(client, "admin")
    names = {"alice", "bob", "carol"}
    text = body(client.get("/admin/users", query_string={"q": query}, headers=HX))
    assert {n for n in names if f">{n}</a>" in text} == expected


def test_search_by_id_and_filters_and_sort(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    text = body(client.get(f"/admin/users?q={p['bob'].id}", headers=HX))
    assert ">bob</a>" in text and ">alice</a>" not in text
    text = body(client.get("/admin/users?role=manager", headers=HX))
    assert ">mgrA</a>" in text and ">alice</a>" not in text
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(hard_locked=True).where(User.id == p["carol"].id).execute()
        team_b = User.get_by_id(p["bob"].id).team_id
    text = body(client.get("/admin/users?status=locked", headers=HX))
    locked = english(app, STATUS_LABELS["locked"])
    assert ">carol</a>" in text and ">alice</a>" not in text and locked in text
    text = body(client.get(f"/admin/users?team={team_b}", headers=HX))
    assert ">bob</a>" in text and ">alice</a>" not in text
    text = body(client.get("/admin/users?sort=username&dir=desc", headers=HX))
    assert text.index(">mgrB</a>") < text.index(">alice</a>")
    # Unknown sort columns and junk values are ignored, never a 500.
    assert (
        client.get("/admin/users?sort=password_hash&page=x&team=zz&status=%00").status_code == 200
    )


def test_pagination(app, client, make_user):
    make_user("admin", role="admin")
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        from portal.accounts import new_stamp

        User.insert_many(
            [
                {"username": f"u{i:03}", "username_key": f"u{i:03}", "security_stamp": new_stamp()}
                for i in range(120)
            ]
        ).execute()
        database.close()
    login(client, "admin")
    first = body(client.get("/admin/users", headers=HX))
    assert says(first, "USER_COUNT", num=121) and says(first, "PAGE_OF", page=1, pages=3)
    assert ">u048</a>" in first
    third = body(client.get("/admin/users?page=3", headers=HX))
    assert (
        says(third, "PAGE_OF", page=3, pages=3)
        and ">u119</a>" in third
        and ">u000</a>" not in third
    )


def test_status_badges_and_last_sign_in(app, client, make_user):
    p = people(make_user)
    make_user("newbie", password=None)  # invitation pending
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(disabled=True).where(User.id == p["bob"].id).execute()
        User.update(must_change=True).where(User.id == p["carol"].id).execute()
    login(client, "admin")
    text = body(client.get("/admin/users"))
    for status in ("active", "disabled", "must_change", "invited"):
        assert english(app, STATUS_LABELS[status]) in text
    assert "UTC" in text  # admin's last sign-in, in the organisation time zone


# --- manager scoping -----------------------------------------------------------------------


def test_manager_sees_only_own_team_users(app, client, make_user):
    p = people(make_user)
    login(client, "mgrA")
    text = body(client.get("/admin/users"))
    assert ">alice</a>" in text and ">carol</a>" in text
    for hidden in ("bob", "admin", "mgrB", "mgrA"):
        assert f">{hidden}</a>" not in text
    assert "2 users" in text
    assert (
        client.get(f"/admin/users?q={p['bob'].id}", headers=HX)
        .get_data(as_text=True)
        .count("user-row-")
        == 0
    )


def test_manager_cannot_touch_other_team_or_admin(app, client, make_user):
    p = people(make_user)
    login(client, "mgrA")
    for target in ("bob", "admin", "mgrB"):
        uid = p[target].id
        assert client.get(f"/admin/users/{uid}/edit").status_code == 403
        assert client.get(f"/admin/users/{uid}/reset").status_code == 403
        assert post(client, f"/admin/users/{uid}/reset").status_code == 403
        assert post(client, f"/admin/users/{uid}/disable").status_code == 403
    assert db_get(app, User, User.id == p["bob"].id).disabled is False
    assert len(audit_actions(app, "access.denied")) >= 12
    # Unknown ids look the same as other teams' ids to a manager.
    assert client.get("/admin/users/99999/edit").status_code == 403


def test_manager_edit_ignores_role_and_foreign_team(app, client, make_user):
    p = people(make_user)
    login(client, "mgrA")
    form = client.get(f"/admin/users/{p['alice'].id}/edit")
    assert form.status_code == 200 and 'name="role"' not in body(form)
    team_a = db_get(app, User, User.id == p["alice"].id).team_id
    team_b = db_get(app, User, User.id == p["bob"].id).team_id
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/edit",
        {
            "username": "alice",
            "email": "alice@example.test",
            "first_name": "Alicia",
            "last_name": "Archer",
            "team": str(team_a),
            "provider": "identity",
            "role": "admin",
            "is_admin": "1",
        },
    )
    assert r.status_code == 303
    alice = db_get(app, User, User.id == p["alice"].id)
    assert alice.role == "user" and alice.first_name == "Alicia"
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/edit",
        {"username": "alice", "team": str(team_b), "provider": "identity"},
    )
    assert r.status_code == 422
    assert db_get(app, User, User.id == p["alice"].id).team_id == team_a


def test_user_role_gets_403_everywhere(app, client, make_user):
    p = people(make_user)
    login(client, "alice")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users", headers=HX).status_code == 403
    assert client.get(f"/admin/users/{p['bob'].id}/edit").status_code == 403


def test_anonymous_is_sent_to_login(client, make_user):
    assert client.get("/admin/users?q=alice").status_code == 302
    assert client.get("/admin/users?q=ghost").status_code == 302


# --- add / edit ------------------------------------------------------------------------------


def test_add_user_with_email_sends_invitation(app, client, make_user, outbox):
    people(make_user)
    login(client, "admin")
    dialog = client.get("/admin/users/new", headers=HX)
    assert dialog.status_code == 200 and body(dialog).lstrip().startswith("<dialog")
    assert client.get("/admin/users/new").status_code == 200
    r = post(
        client,
        "/admin/users/new",
        {
            "username": "dave",
            "email": "dave@example.test",
            "first_name": "Dave",
            "last_name": "Dunn",
            "role": "user",
            "provider": "identity",
        },
        htmx=True,
    )
    assert r.status_code == 200 and "invitation" in body(r)
    assert "users-changed" in r.headers["HX-Trigger"]
    dave = db_get(app, User, User.username_key == "dave")
    assert dave.password_hash is None and dave.status == "invited"
    outbox.deliver()
    assert [m.recipients for m in outbox] == [["dave@example.test"]]


def test_add_user_without_email_shows_temp_password_once(app, client, make_user):
    people(make_user)
    login(client, "admin")
    r = post(
        client,
        "/admin/users/new",
        {"username": "erin", "role": "user", "provider": "identity"},
        htmx=True,
    )
    assert r.status_code == 200 and 'class="temp-password"' in body(r)
    assert r.headers["Cache-Control"] == "no-store"
    assert says(body(r), "NO_EMAIL")


def test_add_user_invalid_keeps_input(app, client, make_user):
    people(make_user)
    login(client, "admin")
    r = post(
        client,
        "/admin/users/new",
        {
            "username": "frank",
            "email": "not-an-email",
            "first_name": "Frank",
            "role": "user",
            "provider": "identity",
        },
        htmx=True,
    )
    assert r.status_code == 422
    assert 'value="frank"' in body(r) and 'value="Frank"' in body(r)
    assert says(body(r), "EMAIL_INVALID")
    r = post(
        client, "/admin/users/new", {"username": "ALICE", "role": "user", "provider": "identity"}
    )
    assert r.status_code == 422 and says(body(r), "USER_EXISTS")


def test_add_user_without_csrf_is_400(app, client, make_user):
    people(make_user)
    login(client, "admin")
    r = client.post("/admin/users/new", data={"username": "zed", "role": "user"})
    assert r.status_code == 400
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.get_or_none(User.username_key == "zed") is None


def test_edit_adds_email_and_rotates_stamp(app, client, make_user):
    make_user("admin", role="admin")
    noemail = make_user("nomail@", password=PASSWORD) if False else make_user("gina", email="")
    before = db_get(app, User, User.id == noemail.id)
    assert before.email is None
    login(client, "admin")
    r = post(
        client,
        f"/admin/users/{noemail.id}/edit",
        {
            "username": "gina",
            "email": "Gina@Example.TEST",
            "provider": "identity",
            "role": "user",
            "team": "",
        },
        htmx=True,
    )
    assert r.status_code == 200 and "<dialog" not in body(r) and "hx-swap-oob" in body(r)
    assert "users-changed" in r.headers["HX-Trigger"]
    after = db_get(app, User, User.id == noemail.id)
    assert after.email == "Gina@example.test" and after.email_key == "gina@example.test"
    assert after.security_stamp != before.security_stamp
    event = audit_actions(app, "user.update")[-1]
    assert "email" in event.detail and "password" not in event.detail


def test_disable_via_edit_ends_sessions(app, make_user):
    p = people(make_user)
    admin_client, alice_client = app.test_client(), app.test_client()
    login(admin_client, "admin")
    login(alice_client, "alice")
    assert alice_client.get("/").status_code == 200
    r = post(
        admin_client,
        f"/admin/users/{p['alice'].id}/edit",
        {
            "username": "alice",
            "email": "alice@example.test",
            "provider": "identity",
            "role": "user",
            "team": "",
            "disabled": "y",
        },
    )
    assert r.status_code == 303
    assert alice_client.get("/").status_code == 302


def test_role_change_needs_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    age_session(app)
    data = {
        "username": "alice",
        "email": "alice@example.test",
        "provider": "identity",
        "role": "manager",
        "team": "",
    }
    r = post(client, f"/admin/users/{p['alice'].id}/edit", data, htmx=True)
    assert r.status_code == 401 and "reauth_password" in body(r)
    assert db_get(app, User, User.id == p["alice"].id).role == "user"
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/edit",
        {**data, "reauth_password": PASSWORD},
        htmx=True,
    )
    assert r.status_code == 200
    assert db_get(app, User, User.id == p["alice"].id).role == "manager"


# --- Reset & Unlock --------------------------------------------------------------------------


def test_reset_confirm_dialog(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    r = client.get(f"/admin/users/{p['alice'].id}/reset", headers=HX)
    text = body(r)
    assert r.status_code == 200 and text.lstrip().startswith("<dialog data-modal")
    assert says(text, "RESET_CONFIRM", name="Alice Archer")
    # The button names its action (issue 8), and looks destructive.
    assert 'name="reason"' in text and ">OK<" not in text and says(text, "CANCEL")
    button = message_pattern("RESET_UNLOCK").pattern
    assert re.search(f'<button type="submit" class="btn btn-danger">{button}</button>', text)
    assert "<html" in body(client.get(f"/admin/users/{p['alice'].id}/reset"))


def test_reset_and_unlock_flow(app, make_user, outbox):
    p = people(make_user)
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(hard_locked=True, failed_count=50).where(User.id == p["alice"].id).execute()
    admin, alice_old = app.test_client(), app.test_client()
    login(admin, "admin")
    login(alice_old, "alice")
    r = post(
        admin, f"/admin/users/{p['alice'].id}/reset", {"reason": "called the help desk"}, htmx=True
    )
    text = body(r)
    assert r.status_code == 200 and says(text, "RESET_DONE", name="Alice Archer")
    assert r.headers["Cache-Control"] == "no-store" and r.headers["HX-Push-Url"] == "false"
    assert "users-changed" in r.headers["HX-Trigger"]
    assert 'data-copy-target="#temp-password"' in text
    temp = TEMP_RE.search(text).group(1)
    assert len(temp.replace("-", "")) == 20
    alice = db_get(app, User, User.id == p["alice"].id)
    assert not alice.hard_locked and alice.must_change and alice.temp_password_expires_at
    assert alice.last_reset_at is not None
    assert alice_old.get("/").status_code == 302  # sessions ended
    event = audit_actions(app, "admin.reset")[-1]
    assert "called the help desk" in event.detail and temp not in event.detail
    # Never shown again: not in the list, the dialog, or the user page.
    for url in ("/admin/users", f"/admin/users/{alice.id}/reset", f"/admin/users/{alice.id}"):
        assert temp not in body(admin.get(url))
    # The notice (without the password) goes to alice.
    outbox.deliver()
    assert len(outbox) == 1 and temp not in outbox[0].body
    # The temporary password signs in and forces a change.
    fresh = app.test_client()
    response = login(fresh, "alice", temp)
    assert response.status_code == 303 and response.headers["Location"].endswith("/password/change")
    assert fresh.get("/").status_code == 302


def test_reset_needs_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    settings_zero(app)
    before = db_get(app, User, User.id == p["alice"].id).password_hash
    r = post(client, f"/admin/users/{p['alice'].id}/reset", htmx=True)
    assert r.status_code == 401 and "<dialog" in body(r) and "reauth_password" in body(r)
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/reset",
        {"reauth_password": "not my password at all"},
        htmx=True,
    )
    assert r.status_code == 401 and says(body(r), "WRONG_PASSWORD")
    assert db_get(app, User, User.id == p["alice"].id).password_hash == before
    r = post(
        client, f"/admin/users/{p['alice'].id}/reset", {"reauth_password": PASSWORD}, htmx=True
    )
    assert r.status_code == 200 and says(body(r), "RESET_DONE")
    assert db_get(app, User, User.id == p["alice"].id).password_hash != before


def settings_zero(app):
    with app.app_context():
        database.connect(reuse_if_open=True)
        settings.save({"REAUTH_MINUTES": 0})
        database.close()
    age_session(app, minutes=1)


def test_reset_without_csrf_is_400(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    r = client.post(f"/admin/users/{p['alice'].id}/reset", headers=HX)
    assert r.status_code == 400
    assert not db_get(app, User, User.id == p["alice"].id).must_change


def test_send_email_of_temp_password(app, client, make_user, outbox):
    p = people(make_user)
    login(client, "admin")
    r = post(client, f"/admin/users/{p['alice'].id}/reset", htmx=True)
    temp = TEMP_RE.search(body(r)).group(1)
    outbox.deliver()  # the password_changed notice
    wrong = post(
        client,
        f"/admin/users/{p['alice'].id}/reset/email",
        {"password": "AAAA-BBBB-CCCC-DDDD-EEEE"},
        htmx=True,
    )
    assert wrong.status_code == 422
    sent = post(client, f"/admin/users/{p['alice'].id}/reset/email", {"password": temp}, htmx=True)
    assert sent.status_code == 200 and "queued" in body(sent)
    assert 'data-hx-trigger="every 2s"' in body(sent)
    mail_id = int(re.search(r"/admin/users/mail/(\d+)", body(sent)).group(1))
    outbox.deliver()
    assert any(temp in m.body for m in outbox) and outbox[-1].recipients == ["alice@example.test"]
    status = client.get(f"/admin/users/mail/{mail_id}", headers=HX)
    assert says(body(status), "TEMP_MAIL_SENT") and "every 2s" not in body(status)
    with app.app_context():
        database.connect(reuse_if_open=True)
        row = OutboxMail.get_by_id(mail_id)
        assert row.context == "" and row.body_text == ""  # cleared once sent
        assert not any(temp in (e.detail or "") for e in AuditEvent.select())


def test_send_email_disabled_without_address(app, client, make_user):
    make_user("admin", role="admin")
    hank = make_user("hank", email="")
    login(client, "admin")
    r = post(client, f"/admin/users/{hank.id}/reset", htmx=True)
    text = body(r)
    assert says(text, "NO_EMAIL") and re.search(r"<button[^>]*disabled", text)
    temp = TEMP_RE.search(text).group(1)
    assert (
        post(
            client, f"/admin/users/{hank.id}/reset/email", {"password": temp}, htmx=True
        ).status_code
        == 422
    )


# --- set password ------------------------------------------------------------------------------


def test_set_password_form_and_policy_errors(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    form = client.get(f"/admin/users/{p['alice'].id}/password", headers=HX)
    text = body(form)
    assert form.status_code == 200 and 'name="confirm"' in text and "<summary" in text
    assert re.search(r'name="must_change"[^>]*checked|checked[^>]*name="must_change"', text)
    assert 'data-hx-post="/password/check"' in text
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/password",
        {"password": "short", "confirm": "short", "must_change": "y"},
        htmx=True,
    )
    assert r.status_code == 422 and "15" in body(r)
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x", "must_change": "y"},
    )
    assert r.status_code == 422


def test_set_password_success(app, make_user, outbox):
    p = people(make_user)
    admin, alice_old = app.test_client(), app.test_client()
    login(admin, "admin")
    login(alice_old, "alice")
    r = post(
        admin,
        f"/admin/users/{p['alice'].id}/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "must_change": "y"},
        htmx=True,
    )
    assert r.status_code == 200 and "users-changed" in r.headers["HX-Trigger"]
    assert alice_old.get("/").status_code == 302
    alice = db_get(app, User, User.id == p["alice"].id)
    assert alice.must_change
    assert audit_actions(app, "admin.set_password")
    outbox.deliver()
    assert len(outbox) == 1 and NEW_PASSWORD not in outbox[0].body
    fresh = app.test_client()
    assert login(fresh, "alice", NEW_PASSWORD).status_code == 303


# --- row actions -------------------------------------------------------------------------------


def test_unlock_disable_enable_end_sessions(app, make_user):
    p = people(make_user)
    admin, alice = app.test_client(), app.test_client()
    login(admin, "admin")
    login(alice, "alice")
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(hard_locked=True).where(User.id == p["carol"].id).execute()
    uid = p["carol"].id
    r = post(admin, f"/admin/users/{uid}/unlock", htmx=True)
    assert r.status_code == 200 and "users-changed" in r.headers["HX-Trigger"]
    assert not db_get(app, User, User.id == uid).hard_locked
    r = post(admin, f"/admin/users/{p['alice'].id}/sessions/end")
    assert r.status_code == 303 and alice.get("/").status_code == 302
    r = post(admin, f"/admin/users/{uid}/disable", htmx=True)
    assert db_get(app, User, User.id == uid).disabled
    r = post(admin, f"/admin/users/{uid}/enable", htmx=True)
    assert not db_get(app, User, User.id == uid).disabled
    actions = [e.action for e in audit_actions(app)]
    for action in ("admin.unlock", "admin.end_sessions", "admin.disable", "admin.enable"):
        assert action in actions
    # GET on an action URL changes nothing.
    assert admin.get(f"/admin/users/{uid}/disable").status_code == 405


def test_admin_cannot_disable_self(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    assert post(client, f"/admin/users/{p['admin'].id}/disable").status_code == 403
    assert not db_get(app, User, User.id == p["admin"].id).disabled


def test_admin_can_reset_another_admin(app, client, make_user):
    make_user("admin", role="admin")
    other = make_user("admin2", role="admin")
    login(client, "admin")
    r = post(client, f"/admin/users/{other.id}/reset", htmx=True)
    assert r.status_code == 200 and says(body(r), "RESET_DONE")


def test_list_shows_flash_after_row_action(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    post(client, f"/admin/users/{p['bob'].id}/disable", htmx=True)
    refreshed = body(client.get("/admin/users", headers=HX))
    assert says(refreshed, "USER_DISABLED", name=p["bob"].display_name)
