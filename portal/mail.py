"""Outgoing mail: queued in the database with the action that caused it, delivered by a worker.

- ``queue()`` stores the message (built by ``portal.mail_messages``) in the caller's
  transaction, so an SMTP outage loses nothing; it is rendered in the recipient's language
  when sent, so queueing is cheap (bulk recovery links).
- ``deliver_due()`` claims due rows (safe with several workers), sends a batch over one
  SMTP connection with Flask-Mail and retries failures with exponential backoff; a secret
  context is cleared once delivered. The loop that calls it is ``portal/worker.py``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app, g, has_request_context
from flask_mail import Mail, Message
from peewee import JOIN

from . import audit, settings, wakeup
from .db import write
from .mail_messages import (  # noqa: F401  (callers name them mail.prepare & co.)
    prepare,
    recipient_language,
    render,
    subject_of,
)
from .models import OutboxMail, User, utcnow

log = logging.getLogger("passgate.mail")
mail = Mail()


def queue(
    kind: str, recipient: str, *, user: User | None = None, language: str | None = None, **context
) -> OutboxMail:
    """Store one message; call inside the transaction of the action that causes it."""
    row = OutboxMail.create(**prepare(kind, recipient, user=user, language=language, **context))
    wake()
    return row


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
