"""Own email address and backup recovery address: ask, confirm by a mailed link, remove.

Nothing changes until the address is confirmed by a link mailed to it (SECURITY-CHECKLIST
E8). Asking needs the current password, typed on the same form (the step-up for a change
of recovery channel): it goes through the sign-in throttle and the per-IP re-entry limit
like every other re-entry of a password, and refreshes the session's step-up time.

Whether an address already belongs to another account is only told to whoever opens the
confirmation link (the owner of that mailbox), never to the person asking: the form's
answer is the same for every address.
"""

from __future__ import annotations

from datetime import timedelta

from peewee import IntegrityError

from .. import (
    accounts,
    audit,
    links,
    mail,
    messages,
    providers,
    ratelimit,
    sessions,
    settings,
    throttle,
)
from ..db import write
from ..models import ResetToken, User, fold, utcnow


class AddressTaken(Exception):
    """The address belongs to another account (found when the link is used)."""


def check_current_password(user: User, password: str, action: str) -> tuple[str | None, int]:
    """(None, 200) when ``password`` is the user's current one; else (message, status), the
    refusal audited as ``action``.

    Counts toward the sign-in throttle like every re-entry of a password."""
    ratelimit.check("reauth")
    verdict = throttle.verify_password(user, password, check=providers.for_user(user).check_current)
    if verdict.ok:
        sessions.mark_reauthenticated()
        return None, 200
    throttled = verdict.retry_after is not None
    audit.record(
        action,
        outcome="throttled" if throttled else "failure",
        target=user,
        detail={"reason": "bad_current_password"},
    )
    if throttled:
        return throttle.refusal_message(verdict.retry_after), 429
    return messages.text("CURRENT_PASSWORD_WRONG"), 422


def new_address(user: User, typed: str) -> str:
    """The typed address, cleaned; ``accounts.AccountError`` when it is not a usable address
    or is already the account's email or recovery address."""
    address = accounts.clean_email(typed)
    if fold(address) in (user.email_key, user.backup_email_key):
        raise accounts.AccountError("email", messages.text("ADDRESS_ALREADY_YOURS"))
    return address


def pending(user: User, kind: str) -> ResetToken | None:
    """The address waiting for confirmation (``kind``), if its link still works."""
    return (
        ResetToken.select()
        .where(
            (ResetToken.user == user.id)
            & (ResetToken.purpose == kind)
            & ResetToken.used_at.is_null()
            & (ResetToken.expires_at > utcnow())
            & (ResetToken.stamp == user.security_stamp)
        )
        .order_by(ResetToken.id.desc())
        .first()
    )


def confirm_expiry(now=None):
    return (now or utcnow()) + timedelta(minutes=int(settings.get("CONFIRM_LINK_MINUTES")))


def request_email_change(user: User, address: str) -> None:
    """Mail a confirmation link to ``address`` and a notice to the current address (with
    a "this wasn't me" link); the account keeps its address until the link is used."""
    now = utcnow()
    expires = confirm_expiry(now)
    with write():
        links.void(user, now, kinds=("confirm_email",))  # one pending change at a time
        link = links.create(user, "confirm_email", expires, data=address, now=now)
        mail.queue(
            "email_confirm", address, user=user, link=link, expires_at=expires, new_email=address
        )
        if user.email:
            mail.queue(
                "email_change_requested",
                user.email,
                user=user,
                new_email=address,
                **links.not_me_notice(user, now=now),
            )
        audit.record("email.change_request", actor=user, target=user)


def request_backup(user: User, address: str) -> None:
    """Mail a confirmation link to the backup ``address`` (it is used only once confirmed)."""
    now = utcnow()
    expires = confirm_expiry(now)
    with write():
        links.void(user, now, kinds=("confirm_backup",))
        link = links.create(user, "confirm_backup", expires, data=address, now=now)
        mail.queue(
            "backup_confirm",
            address,
            user=user,
            link=link,
            expires_at=expires,
            backup_email=address,
        )
        audit.record("backup_email.request", actor=user, target=user)


def _taken(user: User, key: str) -> bool:
    """Is ``key`` another account's email or backup address? (A backup address that is
    someone's sign-in email would make recovery by that address ambiguous.)"""
    return (
        User.select(User.id)
        .where(((User.email_key == key) | (User.backup_email_key == key)) & (User.id != user.id))
        .exists()
    )


def confirm(state: links.LinkState) -> str | None:
    """Use a confirmation link: the address becomes the account's email or its backup
    address. Returns the kind done, None if another request used the link first; raises
    ``AddressTaken`` (audited; the link stays usable) when another account has the address."""
    try:
        return _use(state)
    except AddressTaken:
        audit.record(
            "account.confirm",
            outcome="failure",
            target=state.user,
            detail={"reason": "address_taken", "kind": state.token.purpose},
        )
        raise


def _use(state: links.LinkState) -> str | None:
    user, token = state.user, state.token
    address, key = token.data, fold(token.data)
    try:
        with write():
            if _taken(user, key):
                raise AddressTaken
            if not links.consume(state):
                return None
            if token.purpose == "confirm_email":
                _apply_email(user, address, key)
            else:
                _apply_backup(user, address, key)
    except IntegrityError:  # another account took it at the same moment
        raise AddressTaken from None
    return token.purpose


def _apply_email(user: User, address: str, key: str) -> None:
    old = user.email
    fields = {"email": address, "email_key": key, "security_stamp": accounts.new_stamp()}
    if user.backup_email_key == key:  # the backup address became the main one
        fields.update(backup_email=None, backup_email_key=None)
    User.update(**fields).where(User.id == user.id).execute()
    links.void(user, kinds=links.PASSWORD_KINDS + links.CONFIRM_KINDS)
    fresh = User.get_by_id(user.id)
    if old:
        mail.queue("email_changed", old, user=fresh, by_admin=False, **links.not_me_notice(fresh))
    audit.record(
        "email.change",
        actor=user,
        target=user,
        ip=None,
        detail={"changed": {"email": [old, address]}},
    )


def _apply_backup(user: User, address: str, key: str) -> None:
    if user.email_key == key:
        raise AddressTaken
    User.update(backup_email=address, backup_email_key=key).where(User.id == user.id).execute()
    _notify_backup_change(user, "added", address)
    audit.record("backup_email.add", actor=user, target=user)


def remove_backup(user: User) -> None:
    with write():
        old = User.get_by_id(user.id).backup_email
        User.update(backup_email=None, backup_email_key=None).where(User.id == user.id).execute()
        if old:
            _notify_backup_change(user, "removed", old)
        audit.record("backup_email.remove", actor=user, target=user)


def _notify_backup_change(user: User, change: str, address: str) -> None:
    """The account's main address hears of any change of its recovery channel."""
    if user.email:
        mail.queue(
            "backup_changed",
            user.email,
            user=user,
            change=change,
            backup_email=address,
            **links.not_me_notice(user),
        )
