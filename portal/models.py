"""Data model. Schema changes go through ``portal/migrations/``, never hand edits.

Case-insensitive uniqueness and fast lookups use stored ``*_key`` columns (casefolded,
NFKC-normalised) with ordinary B-tree indexes, which behave the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from flask_babel import lazy_gettext as _l
from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .db import database


def utcnow() -> datetime:
    """Naive UTC now: stored datetimes are naive UTC on both engines."""
    return datetime.now(UTC).replace(tzinfo=None)


def fold(value: str | None) -> str | None:
    """The lookup key of a username, email or name: NFKC-normalised and casefolded."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", value).strip().casefold()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Role(BaseModel):
    """A role is a row: its permissions and how far its reach goes.

    ``scope`` is ``all`` (every account) or ``team`` (accounts of the teams it manages);
    ``rank`` orders roles: an actor with team scope may act only on lower-ranked targets.
    """

    name = CharField(max_length=32, primary_key=True)
    permissions = TextField(default="")
    scope = CharField(max_length=8, default="team")
    rank = IntegerField(default=0)

    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions.split())


class Team(BaseModel):
    id = AutoField()
    name = CharField(max_length=64)
    name_key = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)


class User(BaseModel):
    id = AutoField()
    username = CharField(max_length=64)
    username_key = CharField(max_length=64, unique=True)
    # UTS #39 skeleton: new usernames confusable with an existing one are refused.
    username_skeleton = CharField(max_length=128, null=True, index=True)
    email = CharField(max_length=254, null=True)
    email_key = CharField(max_length=254, null=True, unique=True)
    first_name = CharField(max_length=64, default="")
    last_name = CharField(max_length=64, default="")
    first_name_key = CharField(max_length=64, default="", index=True)
    last_name_key = CharField(max_length=64, default="", index=True)
    role = CharField(max_length=32, default="user", index=True)
    team = ForeignKeyField(Team, null=True, backref="members", on_delete="SET NULL")
    provider = CharField(max_length=16, default="identity", index=True)
    disabled = BooleanField(default=False)
    # Password state. ``password_hash`` NULL = never had a password (invitation pending).
    password_hash = CharField(max_length=100, null=True)
    password_changed_at = DateTimeField(null=True)
    must_change = BooleanField(default=False)
    temp_password_expires_at = DateTimeField(null=True)
    # Rotated whenever credentials or the email change: outstanding links die with it.
    security_stamp = CharField(max_length=32)
    # Sign-in throttling (see portal/throttle.py).
    failed_count = IntegerField(default=0)
    last_failed_at = DateTimeField(null=True)
    locked_until = DateTimeField(null=True, index=True)
    hard_locked = BooleanField(default=False)
    last_login_at = DateTimeField(null=True, index=True)
    last_reset_at = DateTimeField(null=True)
    language = CharField(max_length=8, null=True)
    created_at = DateTimeField(default=utcnow)

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

    manager = ForeignKeyField(User, backref="managed_teams", on_delete="CASCADE")
    team = ForeignKeyField(Team, on_delete="CASCADE")

    class Meta:
        indexes = ((("manager", "team"), True),)


class PasswordHistory(BaseModel):
    user = ForeignKeyField(User, backref="password_history", on_delete="CASCADE")
    password_hash = CharField(max_length=100)
    created_at = DateTimeField(default=utcnow)


class ResetToken(BaseModel):
    """A mailed link. Only the SHA-256 of the token is stored."""

    id = AutoField()
    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    purpose = CharField(max_length=16, default="reset")  # reset | invite
    stamp = CharField(max_length=32)
    created_at = DateTimeField(default=utcnow, index=True)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class RecoveryRequest(BaseModel):
    """A forgot-password request, resolved by the mail worker.

    The web request only stores what was typed, so its work and timing are the same
    whether or not an account matches.
    """

    id = AutoField()
    identifier = CharField(max_length=254)
    provider = CharField(max_length=16, default="identity")
    language = CharField(max_length=8, default="en")
    ip = CharField(max_length=64, default="")
    created_at = DateTimeField(default=utcnow)
    processed_at = DateTimeField(null=True, index=True)


class UserSession(BaseModel):
    """Server-side session record. The cookie holds a random id; only its hash is stored."""

    id_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    authenticated_at = DateTimeField(default=utcnow)  # last password entry (step-up)
    ip = CharField(max_length=64, default="")
    user_agent = CharField(max_length=255, default="")


class LoginThrottle(BaseModel):
    """Throttle state for identifiers that match no account (same rules as a User)."""

    key = CharField(max_length=64, primary_key=True)
    failed_count = IntegerField(default=0)
    last_failed_at = DateTimeField(null=True)
    locked_until = DateTimeField(null=True)
    hard_locked = BooleanField(default=False)


class AuditEvent(BaseModel):
    """Append-only: the application never deletes these rows, and updates only the
    ``repeats`` count of an aggregated anonymous refusal (``portal.audit.record_refusal``)."""

    id = AutoField()
    created_at = DateTimeField(default=utcnow, index=True)
    action = CharField(max_length=48, index=True)
    outcome = CharField(max_length=16, default="success")
    actor = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL", index=True)
    actor_name = CharField(max_length=64, default="")
    target = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL", index=True)
    target_name = CharField(max_length=64, default="")
    team_id = IntegerField(null=True, index=True)  # target's team at the time (manager scope)
    ip = CharField(max_length=64, default="")
    detail = TextField(default="")
    repeats = IntegerField(default=1)  # identical anonymous refusals in the same minute


class OutboxMail(BaseModel):
    """Queued mail. A context that carries a link or a password is encrypted and cleared
    once sent."""

    id = AutoField()
    created_at = DateTimeField(default=utcnow)
    kind = CharField(max_length=32)
    user = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    recipient = CharField(max_length=254)
    subject = CharField(max_length=255)
    # Rendered when sent, from ``context`` (JSON, Fernet-encrypted when it holds a link or
    # a password) in ``language``; rows queued before migration 0007 carry their bodies.
    context = TextField(default="")
    language = CharField(max_length=8, default="")
    body_text = TextField(default="")
    body_html = TextField(default="")
    encrypted = BooleanField(default=False)
    status = CharField(max_length=12, default="queued", index=True)  # queued|sending|sent|failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow, index=True)
    last_error = CharField(max_length=255, default="")
    sent_at = DateTimeField(null=True)


class Setting(BaseModel):
    """Organisation settings changed from the admin screen (JSON values)."""

    key = CharField(max_length=64, primary_key=True)
    value = TextField()
    updated_at = DateTimeField(default=utcnow)


MODELS = [
    Role,
    Team,
    User,
    ManagedTeam,
    PasswordHistory,
    ResetToken,
    RecoveryRequest,
    UserSession,
    LoginThrottle,
    AuditEvent,
    OutboxMail,
    Setting,
]

DEFAULT_ROLES = [
    ("admin", "users.read users.create users.update audit.read settings.update", "all", 100),
    ("manager", "users.read users.create users.update audit.read", "team", 50),
    ("user", "", "self", 0),
]
# How the seeded roles are named on screen (a role added later is shown as its name).
ROLE_LABELS = {"admin": _l("Administrator"), "manager": _l("Manager"), "user": _l("User")}


class BulkJob(BaseModel):
    """A bulk action on selected users, with its progress (polled by the admin's browser).

    ``results`` holds the temporary passwords of a bulk Reset & Unlock: Fernet-encrypted
    (key derived from the secret key), readable only by the job's actor, cleared when the
    CSV is downloaded or when it expires. Nothing secret is ever stored in clear.
    """

    id = AutoField()
    public_id = CharField(max_length=43, unique=True)  # random: URLs do not reveal job ids
    actor = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = CharField(max_length=16)
    status = CharField(max_length=12, default="running")  # running | done | failed
    total = IntegerField(default=0)
    done = IntegerField(default=0)
    failed = IntegerField(default=0)
    summary = TextField(default="")  # JSON counts
    results = TextField(default="")  # encrypted CSV rows; "" once downloaded or expired
    results_shown = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow, index=True)
    finished_at = DateTimeField(null=True)


MODELS.append(BulkJob)
