"""Reset & Unlock (seed 000), emailing the temporary password, admin-typed passwords
(seeds 001-003). The temporary password exists only in the response that shows it."""

from __future__ import annotations

from functools import partial

from .. import accounts, audit, mail, passwords, providers
from ..db import write
from ..messages import N_, text
from ..models import OutboxMail, User, utcnow
from .kind import SecretKind


def reset_and_unlock(actor: User, user: User, reason: str = "") -> str:
    """Seed 000: a new temporary password (returned once), unlocked, sessions ended."""
    temp = passwords.generate_temporary()
    detail = {"reason": reason.strip()[:500]} if reason and reason.strip() else None
    _replace_password(actor, user, temp, "admin.reset", detail, temporary=True)
    return temp


def _replace_password(
    actor: User,
    user: User,
    password: str,
    action: str,
    detail: dict | None,
    *,
    temporary: bool = False,
    must_change: bool = False,
) -> None:
    """An administrator's new password for ``user``: stored, sessions ended, owner told,
    audited (``accounts.replace_password``) — after the provider (the directory, for
    ``sso`` accounts) has accepted it. Raises ``providers.PasswordRejected`` /
    ``DirectoryUnavailable``."""
    providers.for_user(user).set_password(user, password, must_change=temporary or must_change)
    accounts.replace_password(
        user,
        password,
        how="admin",
        action=action,
        actor=actor,
        detail=detail,
        temporary=temporary,
        must_change=must_change,
    )


def email_temporary_password(actor: User, user: User, password: str) -> OutboxMail | None:
    """Queue the temporary password to the user, if ``password`` is still their current one.

    The server keeps no copy of the temporary password: the result dialog carries it back
    and it is checked against the stored hash, so only a password that is still valid and
    still temporary can be mailed.
    """
    if not user.email or not user.must_change or user.temp_password_expires_at is None:
        return None
    if user.temp_password_expires_at <= utcnow():
        return None
    if not password or not passwords.verify_password(password, user.password_hash):
        return None
    with write():
        row = mail.queue(
            "temp_password",
            user.email,
            user=user,
            password=password,
            expires_at=user.temp_password_expires_at,
        )
        audit.record(
            "admin.temp_password_mail", actor=actor, target=user, detail={"mail_id": row.id}
        )
    return row


def try_set_password(
    actor: User, user: User, password: str, confirm: str, must_change: bool
) -> list[str]:
    """Check the typed password against the policy, then set it; the errors, if any
    (the policy's, then the directory's)."""
    check = accounts.check_new_password(user, password, confirm)
    if check.ok:
        try:
            set_password(actor, user, password, must_change)
        except providers.PasswordRejected as exc:
            check.errors.append(exc.message)
    return check.errors


def set_password(actor: User, user: User, password: str, must_change: bool) -> None:
    """An administrator types the password (seeds 001-003); checked by the caller."""
    _replace_password(
        actor,
        user,
        password,
        "admin.set_password",
        {"must_change": bool(must_change)},
        must_change=must_change,
    )


PASSWORD = SecretKind(
    name="password",
    blueprint="admin",
    ids="",
    reset=reset_and_unlock,
    expires_at=lambda user: user.temp_password_expires_at,
    email=email_temporary_password,
    mail_kind=None,  # the status of any mail about a user within reach, as always
    bulk_action="reset",
    purpose=b"passgate bulk results v1",
    texts={
        "reset": partial(text, "RESET_UNLOCK"),
        "confirm": partial(text, "RESET_CONFIRM"),
        "done": partial(text, "RESET_DONE"),
        "result_page": N_("Password reset"),
        "shown_once": N_("Temporary password (this is the only time it is shown):"),
        "label": N_("Temporary password"),
        "expires": N_(
            "It expires on %(when)s. %(name)s must choose a new password at the next sign-in."
        ),
        "gone": partial(text, "TEMP_PASSWORD_GONE"),
        "bulk_shown_once": N_(
            "Temporary passwords (this is the only time they are shown; the CSV can be "
            "downloaded once):"
        ),
        "bulk_label": N_("Temporary passwords"),
        "bulk_downloaded": N_(
            "Downloaded: the CSV file is in your downloads folder. It cannot be downloaded "
            "again; the passwords above stay on screen until you close this."
        ),
    },
)
