"""Changing one's own password: the current one checked under the sign-in throttle (by
the account's provider), the new one against the policy, then the directory's own
policy, then ``accounts.replace_password``."""

from __future__ import annotations

from dataclasses import dataclass

from .. import accounts, audit, providers, throttle
from ..messages import text
from ..models import User


@dataclass
class Refusal:
    status: int  # 422, or 429 during a throttle wait
    field: str  # the form field the messages go under: current_password or password
    messages: list[str]


def change_own_password(user: User, current: str, new: str, confirm: str) -> Refusal | None:
    """Change ``user``'s password (None), or say why not (nothing changed)."""
    source = providers.for_user(user)
    verdict = throttle.verify_password(user, current, check=source.check_current)
    if verdict.retry_after is not None:
        audit.record("password.change", outcome="throttled", target=user)
        return Refusal(429, "current_password", [throttle.refusal_message(verdict.retry_after)])
    if not verdict.ok:
        return _bad_current(user)
    check = accounts.check_new_password(user, new, confirm)
    if not check.ok:
        return Refusal(422, "password", check.errors)
    try:  # the directory's own policy answers after Passgate's (outside any transaction)
        source.change_password(user, current, new)
    except providers.WrongPassword:
        return _bad_current(user)
    except providers.PasswordRejected as exc:
        audit.record(
            "password.change",
            outcome="failure",
            target=user,
            detail={"reason": "directory_refused", "code": exc.code},
        )
        return Refusal(422, "password", [exc.message])
    accounts.replace_password(
        user,
        new,
        how="change",
        action="password.change",
        detail={"forced": True} if user.must_change else None,
    )
    return None


def _bad_current(user: User) -> Refusal:
    audit.record(
        "password.change", outcome="failure", target=user, detail={"reason": "bad_current_password"}
    )
    return Refusal(422, "current_password", [text("CURRENT_PASSWORD_WRONG")])
