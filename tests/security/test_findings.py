"""Issue 11: one test (or a few) per finding of the independent attack, each named after its
number. Every one of them failed on the code as it was before the fix."""

from __future__ import annotations

import io

import pytest

from portal.db import database
from portal.models import User

from ..conftest import PASSWORD, csrf_of, login
from ..integration.test_admin_users import age_session, audit_actions, body, db_get, people, post

HX = {"HX-Request": "true"}


def _db(app):
    """Run ``fn`` in an app context with an open connection."""
    class Ctx:
        def __enter__(self):
            self.ctx = app.test_request_context()
            self.ctx.push()
            database.connect(reuse_if_open=True)
            return self

        def __exit__(self, *exc):
            database.close()
            self.ctx.pop()
    return Ctx()


def _user(app, username) -> User:
    with _db(app):
        return User.get(User.username_key == username.lower())


# --- Finding 1: step-up for privilege, recovery channel and lock-out actions ----------------

STEP_UP_EDIT = {"username": "alice", "email": "alice@example.test", "provider": "identity",
                "role": "user", "team": ""}


def test_finding_01_creating_an_admin_needs_step_up(app, client, make_user):
    people(make_user)
    login(client, "admin")
    age_session(app)
    data = {"username": "mallory", "email": "mallory@example.test", "provider": "identity",
            "role": "admin", "team": ""}
    r = post(client, "/admin/users/new", data, htmx=True)
    assert r.status_code == 401 and "reauth_password" in body(r)
    with _db(app):
        assert not User.select().where(User.username_key == "mallory").exists()
    # A plain user still needs no password (nothing privileged is created).
    r = post(client, "/admin/users/new", {**data, "username": "plain", "role": "user",
                                          "email": "plain@example.test"}, htmx=True)
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
    r = client.post("/admin/users/import", data={
        "csrf_token": csrf_of(page), "file": (io.BytesIO(csv_text.encode()), "u.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 401 and "administrator" in body(r)
    with _db(app):
        assert not User.select().where(User.username_key == "mallory").exists()
    r = client.post("/admin/users/import", data={
        "csrf_token": csrf_of(page), "reauth_password": PASSWORD,
        "file": (io.BytesIO(csv_text.encode()), "u.csv")}, content_type="multipart/form-data")
    assert r.status_code == 200
    assert _user(app, "mallory").role == "admin"
    # Rows that create no administrator need no password.
    r = client.post("/admin/users/import", data={
        "csrf_token": csrf_of(page),
        "file": (io.BytesIO(b"username,email\nplainuser,p@example.test\n"), "u.csv")},
        content_type="multipart/form-data")
    assert r.status_code == 200


def test_finding_01_email_change_needs_step_up_and_tells_the_old_address(app, client, make_user,
                                                                       outbox):
    p = people(make_user)
    other_admin = make_user("root2", role="admin")
    login(client, "admin")
    age_session(app)
    for target, name in ((other_admin, "root2"), (p["admin"], "admin")):  # another's and own
        data = {"username": name, "email": "attacker@evil.test", "provider": "identity",
                "role": "admin", "team": ""}
        r = post(client, f"/admin/users/{target.id}/edit", data, htmx=True)
        assert r.status_code == 401 and "reauth_password" in body(r)
        assert db_get(app, User, User.id == target.id).email == f"{name}@example.test"
    data = {"username": "root2", "email": "new-root2@example.test", "provider": "identity",
            "role": "admin", "team": ""}
    r = post(client, f"/admin/users/{other_admin.id}/edit", {**data, "reauth_password": PASSWORD},
             htmx=True)
    assert r.status_code == 200
    assert db_get(app, User, User.id == other_admin.id).email == "new-root2@example.test"
    outbox.deliver()
    notices = [m for m in outbox if m.recipients == ["root2@example.test"]]
    assert len(notices) == 1 and "email" in notices[0].subject.lower()
    assert "new-root2@example.test" not in notices[0].body  # the attacker's address stays out


@pytest.mark.parametrize("action", ["unlock", "disable", "enable", "sessions/end"])
def test_finding_01_row_actions_need_step_up(app, client, make_user, action):
    p = people(make_user)
    with _db(app):
        User.update(hard_locked=True, disabled=(action == "enable")).where(
            User.id == p["carol"].id).execute()
    login(client, "admin")
    age_session(app)
    r = post(client, f"/admin/users/{p['carol'].id}/{action}", htmx=True)
    assert r.status_code == 401 and "reauth_password" in body(r)
    carol = db_get(app, User, User.id == p["carol"].id)
    assert carol.hard_locked and carol.disabled == (action == "enable")
    assert not [e for e in audit_actions(app) if e.action.startswith("admin.")]
    r = post(client, f"/admin/users/{p['carol'].id}/{action}",
             {"reauth_password": PASSWORD}, htmx=True)
    assert r.status_code == 200


def test_finding_01_disable_through_the_edit_form_needs_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    age_session(app)
    r = post(client, f"/admin/users/{p['alice'].id}/edit", {**STEP_UP_EDIT, "disabled": "y"},
             htmx=True)
    assert r.status_code == 401
    assert not db_get(app, User, User.id == p["alice"].id).disabled


def test_finding_01_reach_is_checked_before_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "alice")  # a plain user
    age_session(app)
    for url in (f"/admin/users/{p['bob'].id}/reset", f"/admin/users/{p['bob'].id}/password",
                "/admin/users/bulk/unlock", f"/admin/users/{p['bob'].id}/unlock"):
        r = post(client, url, {"ids": str(p["bob"].id)}, htmx=True)
        assert r.status_code == 403, url
    # A manager on an account out of reach: 403 too, not the password dialog.
    client2 = app.test_client()
    login(client2, "mgrA")
    age_session(app)
    r = post(client2, f"/admin/users/{p['bob'].id}/reset", htmx=True)
    assert r.status_code == 403
