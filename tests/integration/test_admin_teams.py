"""Issue 8 / SPEC F17: administrators create, rename and delete teams and give managers
one or several teams; nothing about teams is open to managers or users."""

from __future__ import annotations

import re

from portal.audit_log.labels import ACTION_LABELS
from portal.db import database
from portal.models import AuditEvent, ManagedTeam, Team, User

from ..helpers import body, csrf_of, english, login, message_pattern, people, says


def _post(client, url, data, page="/admin/teams"):
    return client.post(url, data={**data, "csrf_token": csrf_of(client.get(page))})


def _db(app):
    ctx = app.app_context()
    ctx.push()
    database.connect(reuse_if_open=True)
    return ctx


def test_create_rename_assign_managers_and_delete(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    page = body(client.get("/admin/teams"))
    assert ">A<" in page and ">B<" in page
    assert 'href="/admin/teams"' in body(client.get("/admin/users"))

    # Create: empty, duplicate (any case) and too long are refused with the text kept.
    r = _post(client, "/admin/teams", {"name": "  "})
    assert r.status_code == 422 and says(body(r), "TEAM_NAME_REQUIRED")
    r = _post(client, "/admin/teams", {"name": "a"})
    assert r.status_code == 422 and says(body(r), "TEAM_EXISTS")
    r = _post(client, "/admin/teams", {"name": "N" * 70})
    assert r.status_code == 422 and says(body(r), "TOO_LONG", length=70) and "N" * 70 in body(r)
    r = _post(client, "/admin/teams", {"name": "Front  Desk"})
    assert r.status_code == 303
    ctx = _db(app)
    try:
        team = Team.get(Team.name == "Front Desk")
    finally:
        ctx.pop()
    edit = f"/admin/teams/{team.id}"
    assert says(body(client.get(r.headers["Location"])), "TEAM_CREATED", name="Front Desk")

    # Rename and give it to both managers (mgrA keeps team A as well).
    r = _post(
        client,
        edit,
        {"name": "Reception", "managers": [str(p["mgrA"].id), str(p["mgrB"].id)]},
        edit,
    )
    assert r.status_code == 303
    ctx = _db(app)
    try:
        assert Team.get_by_id(team.id).name == "Reception"
        assert {m.manager_id for m in ManagedTeam.select().where(ManagedTeam.team == team.id)} == {
            p["mgrA"].id,
            p["mgrB"].id,
        }
        User.update(team=team.id).where(User.id == p["alice"].id).execute()
    finally:
        ctx.pop()
    # A manager can now reach the team's members.
    mgr_b = app.test_client()
    login(mgr_b, "mgrB")
    assert ">alice</a>" in body(mgr_b.get("/admin/users"))
    # Only managers can be chosen.
    assert (
        _post(client, edit, {"name": "Reception", "managers": [str(p["bob"].id)]}, edit).status_code
        == 400
    )
    # Take it away from mgrB.
    _post(client, edit, {"name": "Reception", "managers": [str(p["mgrA"].id)]}, edit)
    assert ">alice</a>" not in body(mgr_b.get("/admin/users"))

    # Delete: the page says what happens; members keep their accounts, without a team.
    confirm = body(client.get(f"{edit}/delete"))
    assert says(confirm, "TEAM_DELETE_MEMBERS", num=1)
    assert says(confirm, "TEAM_DELETE_MANAGERS", num=1)
    r = _post(client, f"{edit}/delete", {}, f"{edit}/delete")
    assert r.status_code == 303
    ctx = _db(app)
    try:
        assert Team.get_or_none(Team.id == team.id) is None
        alice = User.get_by_id(p["alice"].id)
        assert alice.team_id is None and not alice.disabled
        assert ManagedTeam.select().where(ManagedTeam.team == team.id).count() == 0
        actions = [
            e.action for e in AuditEvent.select().where(AuditEvent.action.startswith("team."))
        ]
        assert actions.count("team.create") == 1 and "team.rename" in actions
        assert "team.delete" in actions and actions.count("team.managers") == 3
    finally:
        ctx.pop()
    listing = body(client.get("/admin/audit"))
    assert english(app, ACTION_LABELS["team.delete"]) in listing and "Team: Reception" in listing


def test_teams_are_for_administrators_only(app, client, make_user):
    p = people(make_user)
    for who in ("mgrA", "alice"):
        other = app.test_client()
        login(other, who)
        assert other.get("/admin/teams").status_code == 403
        home = other.get("/")
        token = csrf_of(home)
        assert (
            other.post("/admin/teams", data={"name": "X", "csrf_token": token}).status_code == 403
        )
        assert (
            other.post(
                f"/admin/teams/{p['alice'].team_id}/delete", data={"csrf_token": token}
            ).status_code
            == 403
        )
        assert 'href="/admin/teams"' not in body(other.get("/admin/users"))
    login(client, "admin")
    assert client.get("/admin/teams/99999").status_code == 404
    # Without a CSRF token nothing changes.
    assert client.post("/admin/teams", data={"name": "Sneaky"}).status_code == 400
    assert not re.search(r">Sneaky<", body(client.get("/admin/teams")))


def test_teams_page_marks_users_in_the_nav(client, make_user):
    people(make_user)
    login(client, "admin")
    page = body(client.get("/admin/teams"))
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', page) == ["/admin/users"]
    link = message_pattern("TEAM_MEMBERS_LINK", num=2, team="B").pattern
    assert re.search(f'aria-label="{link}"', page)
