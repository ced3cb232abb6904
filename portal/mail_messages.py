"""Mail messages: what each kind is called, how its context is stored and how it is
rendered in the recipient's language.

- ``prepare()`` builds the row of one message without rendering it: its kind, recipient,
  language and context (strings, numbers, datetimes as JSON).
- A context that carries a link or a password (``SECRET_KINDS``) is encrypted (Fernet, key
  derived from the secret key); ``portal.mail`` clears it once delivered.
- ``render()`` turns a queued row into subject, text and HTML when it is sent.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from . import crypto, settings
from .models import OutboxMail, User

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
    "passcode_locked": _l("Your %(org)s passcode was locked"),
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
