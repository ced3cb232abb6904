"""Who: roles (rows, with their permissions and reach), teams, accounts and what belongs
to one account's password (its history, its passcode)."""

from __future__ import annotations

import peewee as pw
from flask_babel import lazy_gettext as _l

from .base import BaseModel, utcnow


class Role(BaseModel):
    """A role is a row: its permissions and how far its reach goes.

    ``scope`` is ``all`` (every account) or ``team`` (accounts of the teams it manages);
    ``rank`` orders roles: an actor with team scope may act only on lower-ranked targets.
    """

    name = pw.CharField(max_length=32, primary_key=True)
    permissions = pw.TextField(default="")
    scope = pw.CharField(max_length=8, default="team")
    rank = pw.IntegerField(default=0)

    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions.split())


class Team(BaseModel):
    id = pw.AutoField()
    name = pw.CharField(max_length=64)
    name_key = pw.CharField(max_length=64, unique=True)
    created_at = pw.DateTimeField(default=utcnow)


class User(BaseModel):
    id = pw.AutoField()
    username = pw.CharField(max_length=64)
    username_key = pw.CharField(max_length=64, unique=True)
    # UTS #39 skeleton: new usernames confusable with an existing one are refused.
    username_skeleton = pw.CharField(max_length=128, null=True, index=True)
    email = pw.CharField(max_length=254, null=True)
    email_key = pw.CharField(max_length=254, null=True, unique=True)
    # A personal recovery address (issue 10): set only once confirmed by a mailed link;
    # recovery mail goes to both addresses. Never a sign-in identifier.
    backup_email = pw.CharField(max_length=254, null=True)
    backup_email_key = pw.CharField(max_length=254, null=True, unique=True)
    first_name = pw.CharField(max_length=64, default="")
    last_name = pw.CharField(max_length=64, default="")
    first_name_key = pw.CharField(max_length=64, default="", index=True)
    last_name_key = pw.CharField(max_length=64, default="", index=True)
    role = pw.CharField(max_length=32, default="user", index=True)
    team = pw.ForeignKeyField(Team, null=True, backref="members", on_delete="SET NULL")
    provider = pw.CharField(max_length=16, default="identity", index=True)
    disabled = pw.BooleanField(default=False)
    # Password state. ``password_hash`` NULL = never had a password (invitation pending).
    password_hash = pw.CharField(max_length=100, null=True)
    password_changed_at = pw.DateTimeField(null=True)
    must_change = pw.BooleanField(default=False)
    temp_password_expires_at = pw.DateTimeField(null=True)
    # Rotated whenever credentials or the email change: outstanding links die with it.
    security_stamp = pw.CharField(max_length=32)
    # Sign-in throttling (see portal/throttle.py).
    failed_count = pw.IntegerField(default=0)
    last_failed_at = pw.DateTimeField(null=True)
    locked_until = pw.DateTimeField(null=True, index=True)
    hard_locked = pw.BooleanField(default=False)
    last_login_at = pw.DateTimeField(null=True, index=True)
    last_reset_at = pw.DateTimeField(null=True)
    language = pw.CharField(max_length=8, null=True)
    created_at = pw.DateTimeField(default=utcnow)

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.username

    @property
    def is_locked(self) -> bool:
        return self.hard_locked or bool(self.locked_until and self.locked_until > utcnow())

    @property
    def status(self) -> str:
        """One of: disabled, locked, invited, must_change, active."""
        if self.disabled:
            return "disabled"
        if self.is_locked:
            return "locked"
        if self.password_hash is None:
            return "invited"
        if self.must_change:
            return "must_change"
        return "active"

    # Flask-Login protocol (sessions are resolved in portal/sessions.py).
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


class ManagedTeam(BaseModel):
    """Teams a manager administers, besides their own."""

    manager = pw.ForeignKeyField(User, backref="managed_teams", on_delete="CASCADE")
    team = pw.ForeignKeyField(Team, on_delete="CASCADE")

    class Meta:
        indexes = ((("manager", "team"), True),)


class PasswordHistory(BaseModel):
    user = pw.ForeignKeyField(User, backref="password_history", on_delete="CASCADE")
    password_hash = pw.CharField(max_length=100)
    created_at = pw.DateTimeField(default=utcnow)


class Passcode(BaseModel):
    """A user's numeric passcode (F19, seed 001): a second credential kind, hashed like a
    password (pepper + bcrypt). ``temporary``: set by an administrator's reset, shown once;
    it verifies until ``expires_at`` and the user must replace it (portal/passcodes/)."""

    user = pw.ForeignKeyField(User, primary_key=True, backref="+", on_delete="CASCADE")
    passcode_hash = pw.CharField(max_length=100)
    changed_at = pw.DateTimeField(default=utcnow)
    temporary = pw.BooleanField(default=False)
    expires_at = pw.DateTimeField(null=True)


DEFAULT_ROLES = [
    ("admin", "users.read users.create users.update audit.read settings.update", "all", 100),
    ("manager", "users.read users.create users.update audit.read", "team", 50),
    ("user", "", "self", 0),
]
# How the seeded roles are named on screen (a role added later is shown as its name).
ROLE_LABELS = {"admin": _l("Administrator"), "manager": _l("Manager"), "user": _l("User")}
