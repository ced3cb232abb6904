"""What the application keeps of its work: the audit log, the mail outbox, organisation
settings and bulk jobs."""

from __future__ import annotations

import peewee as pw

from .base import BaseModel, utcnow
from .people import User


class AuditEvent(BaseModel):
    """Append-only: the application never deletes these rows, and updates only the
    ``repeats`` count of an aggregated anonymous refusal (``portal.audit.record_refusal``)."""

    id = pw.AutoField()
    created_at = pw.DateTimeField(default=utcnow, index=True)
    action = pw.CharField(max_length=48, index=True)
    outcome = pw.CharField(max_length=16, default="success")
    actor = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL", index=True)
    actor_name = pw.CharField(max_length=64, default="")
    target = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL", index=True)
    target_name = pw.CharField(max_length=64, default="")
    team_id = pw.IntegerField(null=True, index=True)  # target's team at the time (manager scope)
    ip = pw.CharField(max_length=64, default="")
    detail = pw.TextField(default="")
    repeats = pw.IntegerField(default=1)  # identical anonymous refusals in the same minute


class OutboxMail(BaseModel):
    """Queued mail. A context that carries a link or a password is encrypted and cleared
    once sent."""

    id = pw.AutoField()
    created_at = pw.DateTimeField(default=utcnow)
    kind = pw.CharField(max_length=32)
    user = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    recipient = pw.CharField(max_length=254)
    subject = pw.CharField(max_length=255)
    # Rendered when sent, from ``context`` (JSON, Fernet-encrypted when it holds a link or
    # a password) in ``language``; rows queued before migration 0007 carry their bodies.
    context = pw.TextField(default="")
    language = pw.CharField(max_length=8, default="")
    body_text = pw.TextField(default="")
    body_html = pw.TextField(default="")
    encrypted = pw.BooleanField(default=False)
    status = pw.CharField(max_length=12, default="queued", index=True)  # queued|sending|sent|failed
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow, index=True)
    last_error = pw.CharField(max_length=255, default="")
    sent_at = pw.DateTimeField(null=True)


class Setting(BaseModel):
    """Organisation settings changed from the admin screen (JSON values)."""

    key = pw.CharField(max_length=64, primary_key=True)
    value = pw.TextField()
    updated_at = pw.DateTimeField(default=utcnow)


class BulkJob(BaseModel):
    """A bulk action on selected users, with its progress (polled by the admin's browser).

    ``results`` holds the temporary passwords of a bulk Reset & Unlock: Fernet-encrypted
    (key derived from the secret key), readable only by the job's actor, cleared when the
    CSV is downloaded or when it expires. Nothing secret is ever stored in clear.
    """

    id = pw.AutoField()
    public_id = pw.CharField(max_length=43, unique=True)  # random: URLs do not reveal job ids
    actor = pw.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    action = pw.CharField(max_length=16)
    status = pw.CharField(max_length=12, default="running")  # running | done | failed
    total = pw.IntegerField(default=0)
    done = pw.IntegerField(default=0)
    failed = pw.IntegerField(default=0)
    summary = pw.TextField(default="")  # JSON counts
    results = pw.TextField(default="")  # encrypted CSV rows; "" once downloaded or expired
    results_shown = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    finished_at = pw.DateTimeField(null=True)
