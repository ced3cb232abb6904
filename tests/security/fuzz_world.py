"""The world the fuzzers (tests/security/test_fuzz.py) run in: one app and database per test
module, a few accounts of every role, a signed-in test client per role, the list of routes
taken from the app's url_map, the field names the forms and views read, and a snapshot of
the account rows that garbage must never change.

Every signed-in session is aged past the re-authentication window, so an action that
creates privilege, moves a recovery channel, locks someone out or sets a password needs the
account's password again, which the fuzzer never knows: such an action must never happen.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from wtforms.fields.core import UnboundField

from portal import create_app
from portal.accounts import create_user
from portal.models import LoginThrottle, ManagedTeam, Team, User, UserSession, utcnow

from ..helpers import PASSWORD, base_overrides, csrf_of, in_request, login, prepare_database

PORTAL = Path(__file__).resolve().parents[2] / "portal"

# Routes the fuzzers leave out, with the reason. Everything else in the url_map is fuzzed
# as every role, so a new route is covered the day it is added.
EXCLUDED = {
    "static": "files served from portal/static (no input but the path)",
}

# Account columns that garbage must never change. Throttle counters (failed_count,
# last_failed_at, locked_until, hard_locked), last_login_at and language are left out:
# wrong passwords are *meant* to move the counters, ``?lang=`` sets the language.
NEVER_WITHOUT_PASSWORD = (
    "password_hash",
    "security_stamp",
    "role",
    "email",
    "disabled",
    "must_change",
    "temp_password_expires_at",
    "password_changed_at",
)
PROFILE = ("username", "first_name", "last_name", "team", "provider")

ROLES = ("anonymous", "user", "manager", "admin")
ACCOUNTS = {  # username: (role, team)
    "fz.admin": ("admin", "Alpha"),
    "fz.manager": ("manager", "Alpha"),
    "fz.user": ("user", "Alpha"),
    "fz.other": ("user", "Beta"),
    "fz.peer": ("manager", "Beta"),
}
SIGNED_IN = {"user": "fz.user", "manager": "fz.manager", "admin": "fz.admin"}


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) for every route of the app, minus ``EXCLUDED``."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXCLUDED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, rule.rule, method))
    return sorted(found)


def _form_classes(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _form_classes(sub)


def field_names() -> list[str]:
    """Every name a form or view reads: WTForms fields, ``request.*.get("…")`` in the code,
    ``name="…"`` in the templates. Found anew on every run, so new forms are fuzzed too."""
    from flask_wtf import FlaskForm

    names = {"csrf_token", "lang", "next"}
    for form in _form_classes(FlaskForm):
        for klass in form.__mro__:
            names.update(k for k, v in vars(klass).items() if isinstance(v, UnboundField))
    code = re.compile(r'request\.(?:args|form|files|values)\.(?:get|getlist)\("([^"]+)"')
    markup = re.compile(r'name="([a-z_][a-z0-9_]*)"')
    for path in PORTAL.rglob("*.py"):
        names.update(code.findall(path.read_text()))
    for path in (PORTAL / "templates").rglob("*.html"):
        names.update(markup.findall(path.read_text()))
    return sorted(names)


class World:
    """The app, its accounts and one test client per role."""

    def __init__(self, tmp_path: Path, fresh: bool = False):
        self.fresh = fresh  # sessions inside the step-up window (manager and admin only)
        self.app = create_app(
            {**base_overrides(tmp_path), "LIMIT_POLICY_CHECK": "100000 per minute"},
            instance_path=str(tmp_path / "instance"),
        )
        prepare_database(self.app)
        self.ids: dict[str, int] = {}
        with self.db():
            for username, (role, team) in ACCOUNTS.items():
                user, _ = create_user(
                    username,
                    role=role,
                    email=f"{username}@example.test",
                    team=team,
                    password=PASSWORD,
                )
                self.ids[username] = user.id
            create_user("fz.invited", email="fz.invited@example.test", team="Alpha")
            ManagedTeam.create(
                manager=self.ids["fz.manager"], team=Team.get(Team.name_key == "alpha")
            )
            self.ids["fz.invited"] = User.get(User.username_key == "fz.invited").id
            self.team_ids = [t.id for t in Team.select()]
        self.clients = {"anonymous": self.app.test_client()}
        self.tokens: dict[str, str] = {}
        self.last: dict[int, dict] | None = None  # the account rows after the last request
        self.actors = {SIGNED_IN[role]: self.ids[SIGNED_IN[role]] for role in ROLES[1:]}
        with self.db():
            self.originals = {
                uid: User.get_by_id(uid).__data__.copy() for uid in self.actors.values()
            }
        for role in ROLES if not fresh else ("manager", "admin"):
            self.sign_in(role)

    def db(self):
        return in_request(self.app)

    def sign_in(self, role: str) -> None:
        """(Re)start the role's session: clear the throttle its own garbage built up, sign
        in, age the session past the step-up window, take its CSRF token."""
        if role == "anonymous":
            client = self.clients["anonymous"]
            self.tokens[role] = csrf_of(client.get("/login"))
            return
        username = SIGNED_IN[role]
        with self.db():
            LoginThrottle.delete().execute()
            User.update(
                failed_count=0, last_failed_at=None, locked_until=None, hard_locked=False
            ).where(User.username_key == username).execute()
        client = self.app.test_client()
        response = login(client, username)
        assert response.status_code == 303, response.get_data(as_text=True)
        self.clients[role] = client
        if not self.fresh:
            self.age_sessions()
        self.tokens[role] = csrf_of(client.get("/password/change"))

    def restore_actors(self, rows: dict[int, dict]) -> dict[int, dict]:
        """Fresh-session pass: garbage may be valid input (disable the manager, set the
        admin's password…). Put the fuzzing accounts back as they were and sign in again,
        so the next examples still act as manager and administrator."""
        changed = False
        for role in ("manager", "admin"):
            uid = self.ids[SIGNED_IN[role]]
            with self.db():
                signed_in = UserSession.select().where(UserSession.user == uid).exists()
            original = {k: v for k, v in self.originals[uid].items() if k in rows[uid]}
            if rows[uid] != original or not signed_in:
                fields = {k: v for k, v in self.originals[uid].items() if k != "id"}
                with self.db():  # the team may have been deleted (valid input too)
                    if not Team.select().where(Team.id == fields["team"]).exists():
                        fields["team"] = None
                    User.update(**fields).where(User.id == uid).execute()
                self.sign_in(role)
                changed = True
        return self.snapshot() if changed else rows

    def age_sessions(self) -> None:
        with self.db():
            UserSession.update(authenticated_at=utcnow() - timedelta(hours=2)).execute()

    def snapshot(self) -> dict[int, dict]:
        columns = [getattr(User, name) for name in (*NEVER_WITHOUT_PASSWORD, *PROFILE)]
        with self.db():
            return {row.pop("id"): row for row in User.select(User.id, *columns).dicts()}

    def team_name(self, team_id) -> str:
        if team_id is None:
            return ""
        with self.db():
            team = Team.get_or_none(Team.id == team_id)
            return team.name if team else ""
