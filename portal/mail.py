"""Outgoing mail: queued in the database with the action that caused it, delivered by a worker.

- ``queue()`` stores the message (its kind, recipient, language and context) in the
  caller's transaction, so an SMTP outage loses nothing; it is rendered in the
  recipient's language when sent, so queueing is cheap (bulk recovery links).
- A context that carries a link or a password is encrypted (Fernet, key derived from the
  secret key) and cleared once delivered: a leaked backup yields no usable secret.
- ``deliver_due()`` claims due rows (safe with several workers), sends a batch over one
  SMTP connection with Flask-Mail and retries failures with exponential backoff. The loop
  that calls it is ``portal/worker.py``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Mail, Message
from peewee import JOIN

from . import audit, crypto, settings, wakeup
from .db import write
from .models import OutboxMail, User, utcnow

log = logging.getLogger("passgate.mail")
mail = Mail()

SUBJECTS = {
    "reset": _l("Reset your %(org)s password"),
    "invite": _l("Set your first %(org)s password"),
    "password_changed": _l("Your %(org)s password was changed"),
    "temp_password": _l("Your %(org)s password was reset"),
    "account_locked": _l("Your %(org)s account was locked"),
    "email_changed": _l("The email address of your %(org)s account was changed"),
    "test": _l("%(org)s test email"),
    # Account care (portal/account/): confirmations, and notices with a "this wasn't me" link
    "email_confirm": _l("Confirm the new email address of your %(org)s account"),
    "backup_confirm": _l("Confirm the recovery address of your %(org)s account"),
    "email_change_requested": _l("A new email address was requested for your %(org)s account"),
    "backup_changed": _l("The recovery address of your %(org)s account was changed"),
    "admin_alert": _l("%(org)s security alert for administrators"),
    "invite_reminder": _l("Reminder: set your first %(org)s password"),
    "passcode_changed": _l("Your %(org)s passcode was changed"),
    "temp_passcode": _l("Your %(org)s passcode was reset"),
}
# Kinds whose context holds a link or a password (a "this wasn't me" link included:
# it can lock the account): encrypted at rest, cleared once sent.
SECRET_KINDS = {
    "reset",
    "invite",
    "temp_password",
    "password_changed",
    "email_changed",
    "email_confirm",
    "backup_confirm",
    "email_change_requested",
    "backup_changed",
    "invite_reminder",
    "temp_passcode",
}

PURPOSE = b"passgate outbox encryption v1"  # the key of queued secrets (crypto.fernet)


def recipient_language(user: User | None, language: str | None) -> str:
    # The recipient's own choice first; then the language of the request that caused it.
    return (user.language if user else None) or language or settings.get("DEFAULT_LANGUAGE")


def subject_of(kind: str, language: str) -> str:
    with force_locale(language):
        return str(SUBJECTS[kind] % {"org": settings.get("ORG_NAME")})


def prepare(
    kind: str,
    recipient: str,
    *,
    user: User | None = None,
    language: str | None = None,
    subject: str | None = None,
    **context,
) -> dict:
    """The row of one message, without rendering it (it is rendered when sent).

    ``context`` holds what the templates need besides the organisation and the user:
    strings, numbers, datetimes. A context with a link or a password is encrypted.
    """
    language = recipient_language(user, language)
    if kind not in SUBJECTS:
        raise KeyError(kind)
    payload = json.dumps(context, default=_encode, separators=(",", ":"))
    secret = kind in SECRET_KINDS
    if secret:
        payload = crypto.encrypt(PURPOSE, payload)
    return {
        "kind": kind,
        "user": user,
        "recipient": recipient,
        "language": language,
        "subject": subject or subject_of(kind, language),
        "context": payload,
        "encrypted": secret,
    }


def queue(
    kind: str, recipient: str, *, user: User | None = None, language: str | None = None, **context
) -> OutboxMail:
    """Store one message; call inside the transaction of the action that causes it."""
    row = OutboxMail.create(**prepare(kind, recipient, user=user, language=language, **context))
    wake()
    return row


def _encode(value):
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"cannot queue a {type(value).__name__} in a mail context")


def _decode(obj: dict):
    if set(obj) == {"$datetime"}:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


def render(row: OutboxMail) -> tuple[str, str, str]:
    """Subject, text and HTML of a queued row, in the recipient's language.

    Empty bodies when it can never be sent (the secret key changed since it was queued).
    """
    if not row.context:  # queued before migration 0007: rendered at the time
        return (row.subject, *bodies(row))
    payload = row.context
    if row.encrypted:
        payload = crypto.decrypt(PURPOSE, payload)
        if payload is None:
            return row.subject, "", ""
    context = json.loads(payload, object_hook=_decode)
    org = settings.get("ORG_NAME")
    language = row.language or settings.get("DEFAULT_LANGUAGE")
    with force_locale(language):
        subject = str(SUBJECTS[row.kind] % {"org": org})
        ctx = {"org": org, "user": row.user, "subject": subject, **context}
        text = render_template(f"email/{row.kind}.txt", **ctx)
        html = render_template(f"email/{row.kind}.html", **ctx)
    return subject, text, html


def bodies(row: OutboxMail) -> tuple[str, str]:
    """Plain bodies of a row queued before migration 0007 (decrypted when needed)."""
    if not row.encrypted or not row.body_text:
        return row.body_text, row.body_html
    text = crypto.decrypt(PURPOSE, row.body_text)
    html = crypto.decrypt(PURPOSE, row.body_html)
    if text is None or html is None:
        # The secret key changed since the mail was queued: it can never be sent.
        return "", ""
    return text, html


def _claim(row_ids: list[int]) -> list[int]:
    """Take rows for this worker; rows another worker got first are left out. A claimed
    row whose worker died is sent again after ``MAIL_LEASE_SECONDS``."""
    if not row_ids:
        return []
    lease = timedelta(seconds=settings.get("MAIL_LEASE_SECONDS"))
    claimed = (
        OutboxMail.update(status="sending", next_attempt_at=utcnow() + lease)
        .where(OutboxMail.id.in_(row_ids) & (OutboxMail.status == "queued"))
        .returning(OutboxMail.id)
        .execute()
    )
    return sorted(row.id for row in claimed)


def _send(row: OutboxMail, subject: str, text: str, html: str, connection=None) -> None:
    if settings.get("MAIL_BACKEND") == "console":
        print(f"\n----- mail to {row.recipient}: {subject} -----\n{text}\n-----", flush=True)
        return
    msg = Message(
        subject=subject,
        recipients=[row.recipient],
        body=text,
        html=html,
        sender=settings.get("MAIL_DEFAULT_SENDER"),
    )
    (connection or mail).send(msg)


def deliver_due(limit: int = 200) -> dict:
    """Deliver due mail: claim a few rows at a time, send them over one SMTP connection,
    record each outcome in a short transaction of its own. Returns counts."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    now = utcnow()
    # Rows left in "sending" by a worker that died become due again after their lease.
    (
        OutboxMail.update(status="queued")
        .where((OutboxMail.status == "sending") & (OutboxMail.next_attempt_at <= now))
        .execute()
    )
    batch = _Batch()
    try:
        for row in _claimed_rows(limit):
            text = ""
            try:
                subject, text, html = render(row)
                if not text:
                    raise RuntimeError("message body unavailable")
                _send(row, subject, text, html, batch.get())
                error = None
            except Exception as exc:  # noqa: BLE001 — SMTP errors, refused, timeouts…
                batch.close()  # the server may have dropped the connection
                error = exc
            # Written at once: a worker killed mid-batch re-sends (after the lease) only
            # the one message it was sending; the rest of its batch was never sent.
            _record(row, error, bool(text), counts)
    finally:
        batch.close()
    return counts


CLAIM = 20  # rows claimed at a time: several workers share a queue; a dead one strands few


def _claimed_rows(limit: int):
    """Due rows, claimed a few at a time for this worker (another worker takes others)."""
    taken = 0
    while taken < limit:
        due = [
            row_id
            for (row_id,) in (
                OutboxMail.select(OutboxMail.id)
                .where((OutboxMail.status == "queued") & (OutboxMail.next_attempt_at <= utcnow()))
                .order_by(OutboxMail.id)
                .limit(min(CLAIM, limit - taken))
                .tuples()
            )
        ]
        if not due:
            return
        claimed = _claim(due)
        taken += len(due)
        if claimed:
            # Read the rows before writing anything (no SELECT cursor stays open).
            yield from list(
                OutboxMail.select(OutboxMail, User)
                .join(User, JOIN.LEFT_OUTER)
                .where(OutboxMail.id.in_(claimed))
                .order_by(OutboxMail.id)
            )


def _record(row: OutboxMail, error: Exception | None, retryable: bool, counts: dict) -> None:
    """Write the outcome of one sent or failed row (one short transaction)."""
    now = utcnow()
    with write():
        if error is None:
            cleared = {"context": "", "body_text": "", "body_html": ""} if row.encrypted else {}
            (
                OutboxMail.update(
                    status="sent", sent_at=now, attempts=row.attempts + 1, last_error="", **cleared
                )
                .where(OutboxMail.id == row.id)
                .execute()
            )
            audit.record(
                "mail.sent", target=row.user, ip="", detail={"kind": row.kind, "mail_id": row.id}
            )
            counts["sent"] += 1
            return
        attempts = row.attempts + 1
        final = attempts >= settings.get("MAIL_MAX_ATTEMPTS") or not retryable
        delay = settings.get("MAIL_RETRY_BASE_SECONDS") * 2 ** (attempts - 1)
        (
            OutboxMail.update(
                status="failed" if final else "queued",
                attempts=attempts,
                last_error=f"{type(error).__name__}: {error}"[:255],
                next_attempt_at=now + timedelta(seconds=min(delay, 3600)),
            )
            .where(OutboxMail.id == row.id)
            .execute()
        )
        log.warning(
            "mail %s to user %s failed (attempt %s): %s",
            row.id,
            row.user_id,
            attempts,
            type(error).__name__,
        )
        if final:
            audit.record(
                "mail.failed",
                outcome="failure",
                target=row.user,
                ip="",
                detail={"kind": row.kind, "mail_id": row.id},
            )
        counts["failed" if final else "retry"] += 1


class _Batch:
    """One SMTP connection for a batch, opened at the first message, reopened after an
    error (the server may have dropped it)."""

    def __init__(self):
        self.connection = None

    def get(self):
        if settings.get("MAIL_BACKEND") == "console":
            return None
        if self.connection is None:
            self.connection = mail.connect()
            self.connection.__enter__()
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            try:
                connection.__exit__(None, None, None)
            except Exception:  # noqa: BLE001 — QUIT on a dropped connection  # nosec B110
                pass


def wake() -> None:
    """Ask the background worker to look at the queue now (after this request's commit)."""
    if has_request_context():
        g.passgate_wake = True  # sent by the teardown below, once the data is committed
    else:
        wakeup.signal(current_app.instance_path)


def init_app(app) -> None:
    mail.init_app(app)

    @app.teardown_request
    def _wake_after_commit(exc):
        if g.pop("passgate_wake", False):
            wakeup.signal(app.instance_path)
