"""Outgoing mail: queued in the database with the action that caused it, delivered by a worker.

- ``queue()`` renders the message in the recipient's language and stores it in the
  caller's transaction, so an SMTP outage loses nothing.
- Bodies that carry a link or a password are encrypted (Fernet, key derived from the
  secret key) and cleared once delivered: a leaked backup yields no usable secret.
- ``deliver_due()`` claims due rows (safe with several workers), sends a batch over one
  SMTP connection with Flask-Mail and retries failures with exponential backoff. The loop
  that calls it is ``portal/worker.py``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app, g, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_mail import Mail, Message

from . import audit, wakeup
from .models import OutboxMail, User, utcnow
from .settings import current as current_settings

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

log = logging.getLogger("passgate.mail")
mail = Mail()

SUBJECTS = {
    "reset": _l("Reset your %(org)s password"),
    "invite": _l("Set your first %(org)s password"),
    "password_changed": _l("Your %(org)s password was changed"),
    "temp_password": _l("Your %(org)s password was reset"),
    "account_locked": _l("Your %(org)s account was locked"),
    "test": _l("%(org)s test email"),
}
SECRET_KINDS = {"reset", "invite", "temp_password"}

def _fernet() -> Fernet:
    # Imported here, not at the top: ``cryptography`` adds about 8 MB to every process
    # (OpenSSL bindings) and only mail carrying a secret needs it. No import cycle.
    from cryptography.fernet import Fernet

    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    derived = hmac.new(key, b"passgate outbox encryption v1", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _language(user: User | None, language: str | None) -> str:
    # The recipient's own choice first; then the language of the request that caused it.
    return (user.language if user else None) or language or current_settings()["DEFAULT_LANGUAGE"]


def queue(kind: str, recipient: str, *, user: User | None = None, language: str | None = None,
          **context) -> OutboxMail:
    """Render and store one message; call inside the transaction of the action."""
    org = current_settings()["ORG_NAME"]
    with force_locale(_language(user, language)):
        subject = str(SUBJECTS[kind] % {"org": org})
        ctx = {"org": org, "user": user, "subject": subject, **context}
        text = render_template(f"email/{kind}.txt", **ctx)
        html = render_template(f"email/{kind}.html", **ctx)
    secret = kind in SECRET_KINDS
    if secret:
        text = _fernet().encrypt(text.encode()).decode()
        html = _fernet().encrypt(html.encode()).decode()
    row = OutboxMail.create(kind=kind, user=user, recipient=recipient, subject=subject,
                            body_text=text, body_html=html, encrypted=secret)
    wake()
    return row


def bodies(row: OutboxMail) -> tuple[str, str]:
    """Plain bodies of a queued row (decrypted when needed)."""
    if not row.encrypted or not row.body_text:
        return row.body_text, row.body_html
    from cryptography.fernet import InvalidToken  # lazy: see _fernet()

    f = _fernet()
    try:
        return f.decrypt(row.body_text.encode()).decode(), f.decrypt(row.body_html.encode()).decode()
    except InvalidToken:
        # The secret key changed since the mail was queued: it can never be sent.
        return "", ""


def _claim(row_id: int) -> bool:
    """Take a row for this worker; another worker that got there first wins."""
    lease = utcnow() + timedelta(minutes=5)
    return (OutboxMail.update(status="sending", next_attempt_at=lease)
            .where((OutboxMail.id == row_id) & (OutboxMail.status == "queued"))
            .execute()) == 1


def _send(row: OutboxMail, text: str, html: str, connection=None) -> None:
    cfg = current_app.config
    if cfg["MAIL_BACKEND"] == "console":
        print(f"\n----- mail to {row.recipient}: {row.subject} -----\n{text}\n-----", flush=True)
        return
    msg = Message(subject=row.subject, recipients=[row.recipient], body=text, html=html,
                  sender=cfg["MAIL_DEFAULT_SENDER"])
    (connection or mail).send(msg)


def deliver_due(limit: int = 200) -> dict:
    """Deliver due mail (one SMTP connection per batch). Returns counts."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    now = utcnow()
    # Rows left in "sending" by a worker that died become due again after their lease.
    (OutboxMail.update(status="queued")
     .where((OutboxMail.status == "sending") & (OutboxMail.next_attempt_at <= now)).execute())
    due = (OutboxMail.select(OutboxMail.id)
           .where((OutboxMail.status == "queued") & (OutboxMail.next_attempt_at <= now))
           .order_by(OutboxMail.id).limit(limit))
    # Take the ids first: updating while a SELECT cursor is open keeps a stale SQLite
    # snapshot that cannot become a write ("database is locked" with a second worker).
    batch = _Batch()
    try:
        for (row_id,) in list(due.tuples()):
            if _claim(row_id):
                counts[_deliver_one(OutboxMail.get_by_id(row_id), batch)] += 1
    finally:
        batch.close()
    return counts


class _Batch:
    """One SMTP connection for a batch, opened at the first message, reopened after an
    error (the server may have dropped it)."""

    def __init__(self):
        self.connection = None

    def get(self):
        if current_app.config["MAIL_BACKEND"] == "console":
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
            except Exception:  # noqa: BLE001 — QUIT on a dropped connection
                pass


def _deliver_one(row: OutboxMail, batch: _Batch) -> str:
    cfg = current_app.config
    text, html = bodies(row)
    try:
        if not text:
            raise RuntimeError("message body unavailable")
        _send(row, text, html, batch.get())
    except Exception as exc:  # SMTP errors, refused connections, timeouts…
        batch.close()
        attempts = row.attempts + 1
        final = attempts >= cfg["MAIL_MAX_ATTEMPTS"] or not text
        delay = cfg["MAIL_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1)
        (OutboxMail.update(status="failed" if final else "queued", attempts=attempts,
                           last_error=f"{type(exc).__name__}: {exc}"[:255],
                           next_attempt_at=utcnow() + timedelta(seconds=min(delay, 3600)))
         .where(OutboxMail.id == row.id).execute())
        log.warning("mail %s to user %s failed (attempt %s): %s", row.id, row.user_id,
                    attempts, type(exc).__name__)
        if final:
            audit.record("mail.failed", outcome="failure", target=row.user, ip="",
                         detail={"kind": row.kind, "mail_id": row.id})
        return "failed" if final else "retry"
    cleared = {"body_text": "", "body_html": ""} if row.encrypted else {}
    (OutboxMail.update(status="sent", sent_at=utcnow(), attempts=row.attempts + 1,
                       last_error="", **cleared)
     .where(OutboxMail.id == row.id).execute())
    audit.record("mail.sent", target=row.user, ip="", detail={"kind": row.kind, "mail_id": row.id})
    return "sent"


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
