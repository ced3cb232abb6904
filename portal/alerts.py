"""Administrator alerts (issue 10, item 5): a mail to every other administrator when an
administrator account is reset, set or locked, or when a user reports a password change
they did not make ("this wasn't me").

Administrators are the accounts whose role row has all-scope user management (scope
``all`` with ``users.update``), derived from the ``role`` table, never from role names.
The mails are queued through ``portal.mail`` in the caller's transaction and rendered at
send time in each administrator's language. The ``ADMIN_ALERTS`` setting turns them off.
"""

from __future__ import annotations

from datetime import datetime

from . import audit, mail, settings
from .models import Role, User, utcnow

# event -> what it concerns. "admin_*" events concern administrator accounts only (a
# subject who is not an administrator alerts nobody); "not_me_lock" concerns anyone.
EVENTS = ("admin_password_reset", "admin_password_set", "admin_locked", "not_me_lock")
ADMIN_ONLY = {"admin_password_reset", "admin_password_set", "admin_locked"}
MANAGE_PERMISSION = "users.update"


def admin_roles() -> list[str]:
    """Names of the roles with all-scope user management."""
    return [
        role.name
        for role in Role.select()
        if role.scope == "all" and MANAGE_PERMISSION in role.permission_set()
    ]


def is_admin(user: User | None) -> bool:
    return user is not None and user.role in admin_roles()


def recipients(exclude: set[int]) -> list[User]:
    """Active administrators (enabled, with a password and an address), but not ``exclude``."""
    roles = admin_roles()
    if not roles:
        return []
    query = (
        User.select()
        .where(
            User.role.in_(roles)
            & (User.disabled == False)  # noqa: E712
            & User.password_hash.is_null(False)
            & User.email.is_null(False)
            & (User.email != "")
        )
        .order_by(User.id)
    )
    return [user for user in query if user.id not in exclude]


def notify_admins(
    event: str,
    subject: User,
    *,
    actor: User | None = None,
    ip: str | None = None,
    when: datetime | None = None,
) -> int:
    """Queue one alert about ``event`` on ``subject`` to every other active administrator
    (never the subject or the actor). Call inside the transaction of the action. Returns
    how many mails were queued (0 when the ``ADMIN_ALERTS`` setting is off)."""
    if event not in EVENTS:
        raise ValueError(f"unknown alert event {event!r}")
    if not settings.get("ADMIN_ALERTS"):
        return 0
    if event in ADMIN_ONLY and not is_admin(subject):
        return 0
    if (
        event in ("admin_password_reset", "admin_password_set")
        and actor is not None
        and actor.id == subject.id
    ):
        return 0  # only a change made by another administrator is news
    exclude = {subject.id} | ({actor.id} if actor is not None else set())
    admins = recipients(exclude)
    ip = audit.client_ip() if ip is None else ip
    context = {
        "event": event,
        "when": when or utcnow(),
        "ip": ip,
        "subject_username": subject.username,
        "subject_name": subject.display_name,
        "actor_username": actor.username if actor is not None else "",
        "actor_name": actor.display_name if actor is not None else "",
    }
    for admin in admins:
        mail.queue("admin_alert", admin.email, user=admin, **context)
    audit.record(
        "admin.alert",
        actor=actor,
        target=subject,
        ip=ip,
        detail={"event": event, "recipients": len(admins)},
    )
    return len(admins)
