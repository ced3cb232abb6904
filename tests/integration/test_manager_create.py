"""Managers add accounts to their own teams (seed 003), within their reach only: a role
below theirs, one of their teams, never "no team"; the same rules on the form, in the
service and in a CSV import."""

from __future__ import annotations

from portal import access
from portal.db import database
from portal.models import Team, User

from ..helpers import HX, audit_actions, body, login, message_pattern, people, post, says, upload


def _team_id(app, name):
    with app.app_context():
        database.connect(reuse_if_open=True)
        team_id = Team.get(Team.name == name).id
        database.close()
        return team_id


def _user(app, username):
    with app.app_context():
        database.connect(reuse_if_open=True)
        user = User.get_or_none(User.username_key == username)
        database.close()
        return user


def test_manager_adds_a_user_to_their_team(app, client, make_user, outbox):
    people(make_user)
    login(client, "mgrA")
    page = body(client.get("/admin/users"))
    assert 'href="/admin/users/new"' in page and 'href="/admin/users/import"' in page
    form = body(client.get("/admin/users/new", headers=HX))
    assert 'name="role"' not in form  # a manager gives no role: the lowest one
    assert ">No team<" not in form and ">B<" not in form and ">A<" in form
    r = post(
        client,
        "/admin/users/new",
        {
            "username": "dora",
            "email": "dora@example.test",
            "team": str(_team_id(app, "A")),
            "role": "admin",
            "provider": "identity",
        },
        htmx=True,
    )
    assert r.status_code == 200, body(r)
    dora = _user(app, "dora")
    assert dora.role == "user" and dora.team.name == "A"  # role=admin ignored: no such field
    created = audit_actions(app, "user.create")[-1]
    assert (created.target_id, created.actor_id) == (dora.id, _user(app, "mgra").id)
    outbox.deliver()
    assert [m.recipients for m in outbox] == [["dora@example.test"]]
    # …and the new account is within the manager's reach.
    assert client.get(f"/admin/users/{dora.id}").status_code == 200


def test_manager_cannot_add_outside_their_teams(app, client, make_user):
    people(make_user)
    login(client, "mgrA")
    for team in (str(_team_id(app, "B")), "", "None"):
        r = post(
            client,
            "/admin/users/new",
            {"username": "eve", "team": team, "provider": "identity"},
            htmx=True,
        )
        assert r.status_code == 422, team
        assert 'value="eve"' in body(r)  # what was typed is kept
    assert _user(app, "eve") is None


def test_may_create_follows_rank_and_team(ctx, make_user):
    cast = people(make_user)
    team_a, team_b = _team_id(ctx, "A"), _team_id(ctx, "B")
    database.connect(reuse_if_open=True)
    mgr, admin, alice = cast["mgrA"], cast["admin"], cast["alice"]
    assert access.may_create(mgr, "user", team_a)
    assert not access.may_create(mgr, "user", team_b)
    assert not access.may_create(mgr, "user", None)
    assert not access.may_create(mgr, "manager", team_a)  # an equal rank
    assert not access.may_create(mgr, "admin", team_a)
    assert access.may_create(admin, "admin", None) and access.may_create(admin, "user", team_b)
    assert not access.may_create(alice, "user", team_a)
    assert access.default_role() == "user"


def test_manager_import_is_limited_to_their_teams_and_lower_roles(app, client, make_user):
    people(make_user)
    login(client, "mgrA")
    bad = (
        "username,email,first_name,last_name,role,team,language\n"
        "ivan,ivan@example.test,Ivan,Ives,user,A,\n"
        "judy,,Judy,Jones,user,B,\n"
        "kim,,Kim,Kay,admin,A,\n"
        "lee,,Lee,Low,,,\n"
        "max,,Max,Moe,,New Team,\n"
    )
    r = upload(client, bad)
    assert r.status_code == 422
    page = body(r)
    team_refusal = message_pattern("IMPORT_TEAM_NOT_YOURS", teams="A")
    assert len(team_refusal.findall(page)) == 3  # judy (B), lee (none), max (a new team)
    assert says(page, "IMPORT_ROLE_NOT_ALLOWED")  # kim
    assert not says(page, "IMPORT_NEW_TEAMS")
    assert _user(app, "ivan") is None  # all or nothing
    good = "username,email,first_name,last_name,role,team,language\nivan,,Ivan,Ives,,a,fr\n"
    r = upload(client, good)
    assert r.status_code == 200 and says(body(r), "USERS_IMPORTED", num=1)
    ivan = _user(app, "ivan")
    assert ivan.role == "user" and ivan.team.name == "A"


def test_plain_users_still_cannot_add(app, client, make_user):
    people(make_user)
    login(client, "alice")
    assert client.get("/admin/users/new").status_code == 403
    assert client.get("/admin/users/import").status_code == 403


def test_a_managers_sample_csv_names_their_team_and_imports_as_it_is(app, client, make_user):
    people(make_user)
    login(client, "mgrA")
    text = client.get("/admin/users/import/sample.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert {row[5] for row in rows} == {"A"} and {row[4] for row in rows} == {"user"}
    imported = upload(client, text)
    assert imported.status_code == 200 and says(body(imported), "USERS_IMPORTED", num=3)
    assert _user(app, "j.martin").team.name == "A"
