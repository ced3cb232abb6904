"""Every role × action × target kind, against a table written here (deny by default).

allow = the action happens (200/303), deny = 403 with no side effect, login = anonymous
requests are refused with no side effect: a GET is sent to the sign-in page (302), a POST
gets 401; skip = a bulk action leaves one's own account out (422 "select at least one
user", nothing happens).
"""

from __future__ import annotations

import pytest

from portal import accounts
from portal.db import database
from portal.models import User

from ..helpers import NEW_PASSWORD, csrf_of, login

ROLES = ("admin", "manager", "user", "anonymous")
TARGETS = ("self", "own_team", "other_team", "manager", "admin")
TARGET_ACTIONS = (
    "view",
    "edit_form",
    "edit_post",
    "reset_get",
    "reset_post",
    "set_password",
    "unlock",
    "disable",
    "bulk",
)
PLAIN_ACTIONS = ("list", "export", "import")

# Who acts, and who each target kind is, for each role.
ACTOR = {"admin": "admin", "manager": "mgrA", "user": "alice", "anonymous": None}
TARGET_OF = {
    "admin": {
        "self": "admin",
        "own_team": "alice",
        "other_team": "bob",
        "manager": "mgrA",
        "admin": "admin2",
    },
    "manager": {
        "self": "mgrA",
        "own_team": "alice",
        "other_team": "bob",
        "manager": "mgrA2",
        "admin": "admin",
    },
    "user": {
        "self": "alice",
        "own_team": "carol",
        "other_team": "bob",
        "manager": "mgrA",
        "admin": "admin",
    },
    "anonymous": {
        "self": "alice",
        "own_team": "alice",
        "other_team": "bob",
        "manager": "mgrA",
        "admin": "admin",
    },
}

ALL = {a: "allow" for a in TARGET_ACTIONS}
NONE = {a: "deny" for a in TARGET_ACTIONS}
EXPECTED = {
    "admin": {
        "self": {**ALL, "disable": "deny", "bulk": "skip"},
        "own_team": ALL,
        "other_team": ALL,
        "manager": ALL,
        "admin": ALL,
    },
    "manager": {
        "self": {**NONE, "bulk": "skip"},
        "own_team": ALL,
        "other_team": NONE,
        "manager": NONE,
        "admin": NONE,
    },
    "user": {t: NONE for t in TARGETS},
    "anonymous": {t: {a: "login" for a in TARGET_ACTIONS} for t in TARGETS},
}
EXPECTED_PLAIN = {
    "admin": {"list": "allow", "export": "allow", "import": "allow"},
    "manager": {"list": "allow", "export": "allow", "import": "allow"},
    "user": {"list": "deny", "export": "deny", "import": "deny"},
    "anonymous": {"list": "login", "export": "login", "import": "login"},
}


@pytest.fixture
def cast(app, make_user):
    for name, role, team in [
        ("admin", "admin", None),
        ("admin2", "admin", None),
        ("mgrA", "manager", "A"),
        ("mgrA2", "manager", "A"),
        ("mgrB", "manager", "B"),
        ("alice", "user", "A"),
        ("carol", "user", "A"),
        ("bob", "user", "B"),
    ]:
        make_user(name, role=role, team=team)
    with app.app_context():
        database.connect(reuse_if_open=True)
        users = {u.username: u for u in User.select()}
        database.close()
    return users


def restore(app, cast):
    """Undo what an allowed action did, so the next one starts from the same state."""
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        for user in User.select():
            if user.must_change or user.disabled:
                accounts.store_password(user, accounts.new_password("violet lantern harbour 1987"))
                User.update(disabled=False).where(User.id == user.id).execute()
        database.close()


def client_for(app, role):
    client = app.test_client()
    if ACTOR[role]:
        assert login(client, ACTOR[role]).status_code == 303
    return client


def _token(client) -> str:
    response = client.get("/password/change")
    if response.status_code != 200:
        response = client.get("/login")
    return csrf_of(response)


def do(client, action, target: User | None):
    uid = target.id if target else 0
    if action == "list":
        return client.get("/admin/users")
    if action == "export":
        return client.get("/admin/users/export.csv")
    if action == "import":
        return client.get("/admin/users/import")
    if action == "view":
        return client.get(f"/admin/users/{uid}")
    if action == "edit_form":
        return client.get(f"/admin/users/{uid}/edit")
    if action == "reset_get":
        return client.get(f"/admin/users/{uid}/reset")
    data = {"csrf_token": _token(client)}
    if action == "edit_post":
        data.update(
            username=target.username,
            email=target.email or "",
            provider="identity",
            role=target.role,
            team=str(target.team_id or ""),
            first_name="Renamed",
        )
        return client.post(f"/admin/users/{uid}/edit", data=data)
    if action == "reset_post":
        return client.post(f"/admin/users/{uid}/reset", data=data)
    if action == "set_password":
        data.update(password=NEW_PASSWORD, confirm=NEW_PASSWORD, must_change="y")
        return client.post(f"/admin/users/{uid}/password", data=data)
    if action == "unlock":
        return client.post(f"/admin/users/{uid}/unlock", data=data)
    if action == "disable":
        return client.post(f"/admin/users/{uid}/disable", data=data)
    if action == "bulk":
        data.update(ids=[str(uid)])
        return client.post("/admin/users/bulk/unlock", data=data)
    raise AssertionError(action)


def verdict(response) -> str:
    if response.status_code in (200, 303):
        return "allow"
    if response.status_code == 403:
        return "deny"
    if response.status_code == 422:
        return "skip"
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "login"
    if response.status_code == 401:
        return "login"
    return f"status {response.status_code}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", TARGETS)
def test_matrix(app, cast, role, kind):
    target = cast[TARGET_OF[role][kind]]
    got = {}
    for action in TARGET_ACTIONS:
        client = client_for(app, role)
        got[action] = verdict(do(client, action, target))
        restore(app, cast)
    assert got == EXPECTED[role][kind]


@pytest.mark.parametrize("role", ROLES)
def test_matrix_plain_actions(app, cast, role):
    client = client_for(app, role)
    got = {action: verdict(do(client, action, None)) for action in PLAIN_ACTIONS}
    assert got == EXPECTED_PLAIN[role]


def test_denied_actions_change_nothing(app, cast):
    """The manager's denied POSTs on another team leave bob exactly as he was."""
    before = cast["bob"]
    client = client_for(app, "manager")
    for action in ("edit_post", "reset_post", "set_password", "disable", "bulk"):
        assert verdict(do(client, action, before)) == "deny"
    with app.app_context():
        database.connect(reuse_if_open=True)
        after = User.get_by_id(before.id)
        database.close()
    assert (after.password_hash, after.first_name, after.disabled, after.security_stamp) == (
        before.password_hash,
        before.first_name,
        before.disabled,
        before.security_stamp,
    )
