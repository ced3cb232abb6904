"""Passcode services (F19): set or change one's own, an administrator's reset (a temporary
passcode shown once), mailing it, and the check another system asks for.

bcrypt (``portal.passwords``: pepper + bcrypt, one verification against a dummy hash when
there is nothing to compare) always runs before the write transaction, never inside it.
Failures go through the sign-in throttle (``portal.throttle``): same rules, atomic counts,
one counter per typed username whether or not it names an account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import partial

from .. import audit, mail, passwords, providers, settings, throttle
from ..db import write
from ..messages import text
from ..models import OutboxMail, Passcode, User, fold, utcnow
from . import policy

MAX_USERNAME = 254  # longer fields of a verify call are refused unread (400)
MAX_PASSCODE = 64


def enabled() -> bool:
    return bool(settings.get("PASSCODES_ENABLED"))


def length() -> int:
    return int(settings.get("PASSCODE_LENGTH"))


def current_settings() -> dict:
    """The organisation's passcode settings, by the fields of the settings form."""
    return {"passcodes_enabled": enabled(), "passcode_length": length()}


def save_settings(actor: User, passcodes_enabled: bool, passcode_length: int) -> bool:
    """Store what changed (audited with the old and new values); False if nothing did."""
    new = {"PASSCODES_ENABLED": bool(passcodes_enabled), "PASSCODE_LENGTH": int(passcode_length)}
    changes = {k: [settings.get(k), v] for k, v in new.items() if settings.get(k) != v}
    if not changes:
        return False
    with write():
        settings.save({k: pair[1] for k, pair in changes.items()})
        audit.record("settings.update", actor=actor, detail=changes)
    return True


def context_for(user: User | None) -> list[str]:
    """The account's own digits (username, email, ID): see ``policy``'s docstring."""
    if user is None:
        return []
    return policy.context_digits([user.username, user.email, str(user.id)])


def evaluate(user: User | None, passcode: str, confirm: str | None = None) -> policy.Evaluation:
    return policy.evaluate(passcode or "", length(), context_for(user), confirm)


def get(user: User) -> Passcode | None:
    return Passcode.get_or_none(Passcode.user == user.id)


def is_expired(row: Passcode | None) -> bool:
    return bool(row and row.temporary and row.expires_at and row.expires_at <= utcnow())


def generate(user: User | None = None) -> str:
    """A random passcode of the configured length that passes every rule."""
    size = length()
    context = context_for(user)
    while True:
        code = "".join(secrets.choice("0123456789") for _ in range(size))
        if not policy.problems(code, size, context):
            return code


def throttle_state(username: str):
    """The passcode counter of a typed username (a ``LoginThrottle`` row, same rules as
    sign-in; its own key, so guessing passcodes never locks the password and back)."""
    return throttle.identifier_state("passcode:" + (fold(username) or ""))


def _store(user: User, fields: dict) -> None:
    """Insert or replace the user's passcode row (inside the caller's transaction)."""
    updated = Passcode.update(**fields).where(Passcode.user == user.id).execute()
    if not updated:
        Passcode.insert(user=user.id, **fields).on_conflict_ignore().execute()
        Passcode.update(**fields).where(Passcode.user == user.id).execute()
    throttle.forget(throttle_state(user.username))


def change_own(user: User, passcode: str) -> None:
    """The user's own new passcode (checked by the caller): stored, notice mailed, audited."""
    had = get(user) is not None
    fields = {
        "passcode_hash": passwords.hash_password(policy.normalize(passcode)),
        "changed_at": utcnow(),
        "temporary": False,
        "expires_at": None,
    }
    with write():
        _store(user, fields)
        if user.email:
            mail.queue("passcode_changed", user.email, user=user, how="change" if had else "set")
        audit.record("passcode.change", actor=user, target=user, detail={"first": not had})
    mail.wake()


def account_facts(user: User, evaluation: policy.Evaluation | None = None) -> dict:
    """What the account page shows beside the form: the user's passcode row, whether a
    temporary one has expired, the length, the checklist (empty before anything is typed)."""
    row = get(user)
    return {
        "row": row,
        "expired": is_expired(row),
        "length": length(),
        "evaluation": evaluation or evaluate(user, ""),
    }


@dataclass
class Refusal:
    status: int  # 422, or 429 while the account must wait
    errors: dict[str, list[str]] = field(default_factory=dict)  # by form field

    def attach(self, form) -> None:
        """Its errors under the form's fields (after those of the form's own checks)."""
        for name, errors in self.errors.items():
            form[name].errors = [*form[name].errors, *errors]


def change_refusal(user: User, current_password: str, evaluation) -> Refusal | None:
    """Why one's own new passcode (``evaluation``: its checklist) is refused, or None: a
    wrong current password first (checked under the sign-in throttle, audited), then the
    rules (a mismatch goes under the confirmation)."""
    verdict = throttle.verify_password(
        user, current_password, check=providers.for_user(user).check_current
    )
    if not verdict.ok:
        waits = verdict.retry_after is not None
        audit.record(
            "passcode.change",
            outcome="throttled" if waits else "failure",
            target=user,
            detail={"reason": "bad_current_password"},
        )
        said = throttle.refusal_message(verdict.retry_after) if waits else None
        return Refusal(
            429 if waits else 422, {"current_password": [said or text("CURRENT_PASSWORD_WRONG")]}
        )
    if evaluation.ok:
        return None
    match = policy.error_text("match", length())
    errors = evaluation.errors
    return Refusal(
        422,
        {
            "passcode": [e for e in errors if e != match],
            "confirm": [e for e in errors if e == match],
        },
    )


def reset(actor: User, user: User, reason: str = "") -> str:
    """A new temporary passcode (returned once): it replaces the old one at once, verifies
    until it expires (the temporary-password lifetime) and must then be replaced."""
    temp = generate(user)
    now = utcnow()
    fields = {
        "passcode_hash": passwords.hash_password(temp),
        "changed_at": now,
        "temporary": True,
        "expires_at": settings.temp_password_expiry(now),
    }
    detail = {"reason": reason.strip()[:500]} if reason and reason.strip() else None
    with write():
        _store(user, fields)
        if user.email:
            mail.queue("passcode_changed", user.email, user=user, how="admin")
        audit.record("admin.passcode_reset", actor=actor, target=user, detail=detail)
    mail.wake()
    return temp


def email_temporary(actor: User, user: User, passcode: str) -> OutboxMail | None:
    """Mail the temporary passcode, only if it is still the user's current, unexpired one
    (the server keeps no copy: the result dialog carries it back)."""
    row = get(user)
    if not user.email or row is None or not row.temporary or is_expired(row):
        return None
    if not passcode or not passwords.verify_password(passcode, row.passcode_hash):
        return None
    with write():
        queued = mail.queue(
            "temp_passcode", user.email, user=user, passcode=passcode, expires_at=row.expires_at
        )
        audit.record(
            "admin.temp_passcode_mail", actor=actor, target=user, detail={"mail_id": queued.id}
        )
    return queued


def credentials(data) -> tuple[str, str] | None:
    """The username (trimmed) and passcode of a verify call (a JSON object or a form), or
    None when one is missing, not text, or absurdly long."""
    if not isinstance(data, dict) and not hasattr(data, "get"):
        return None
    username, passcode = data.get("username"), data.get("passcode")
    if not isinstance(username, str) or not isinstance(passcode, str):
        return None
    if not username.strip() or not passcode:
        return None
    if len(username) > MAX_USERNAME or len(passcode) > MAX_PASSCODE:
        return None
    return username.strip(), passcode


@dataclass
class Outcome:
    valid: bool
    retry_after: int | None = None  # set when refused unchecked (a wait; 0 = hard lock)


def verify(username: str, passcode: str, key_name: str = "") -> Outcome:
    """Is ``passcode`` the passcode of the account named ``username``? One bcrypt
    verification on every path (a dummy hash for unknown names, missing passcodes and
    throttled attempts), then one short transaction that counts or clears and audits."""
    user = User.get_or_none(User.username_key == fold(username)) if fold(username) else None
    row = get(user) if user is not None else None
    state = throttle_state(username)
    wait = throttle.retry_after(state)
    checked = row.passcode_hash if row is not None and wait is None else None
    matches = passwords.verify_password(policy.normalize(passcode), checked)
    rules = throttle.Rules.current()
    said = partial(_said, user, username, key_name)
    with write():
        if wait is not None:
            said("throttled")
            return Outcome(False, wait)
        if matches and is_expired(row):
            said("failure", reason="temporary_expired")
            return Outcome(False)
        if matches and not user.disabled:
            throttle.forget(state)
            said("success", **({"temporary": True} if row.temporary else {}))
            return Outcome(True)
        fields = throttle.save_failure(state, rules)
        said("failure", reason=_reason(user, row))
        if user is not None and fields["failed_count"] in (rules.free, rules.hard_limit):
            audit.record(
                "passcode.lock",
                actor=None,
                target=user,
                detail={"failures": fields["failed_count"], "hard": fields["hard_locked"]},
            )
            if fields["hard_locked"] and user.email:
                # One notice per hard lock, as for the password (ASVS 6.3.5).
                mail.queue("passcode_locked", user.email, user=user)
    return Outcome(False)


def _said(user: User | None, username: str, key_name: str, outcome: str, **detail) -> None:
    """The audit event of one verify call (the typed name when it names no account)."""
    audit.record(
        "passcode.verify",
        outcome=outcome,
        actor=None,
        target=user,
        target_name=username[:64],
        detail={"key": key_name, **detail},
    )


def _reason(user: User | None, row: Passcode | None) -> str:
    if user is None:
        return "unknown_username"
    if user.disabled:
        return "disabled"
    return "bad_passcode" if row is not None else "no_passcode"
