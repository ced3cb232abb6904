"""What the application keeps of its work: the audit log, the mail outbox, organisation
settings and bulk jobs."""

from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, utcnow
from .people import User


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
