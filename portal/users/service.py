"""One user, for administrators: get within reach, create, edit, unlock, disable/enable,
end sessions, re-send a link. Plain functions, usable without HTTP (tests, bench, CLI).

Access is decided by ``portal.access``: the views' guard checks reach before calling
these; the edit rules (teams, oneself) are checked here too (``check_edit``). Every
change records who acted in the audit log.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from peewee import IntegrityError

from .. import access, accounts, audit, links, mail, providers, sessions, throttle
from ..db import write
from ..messages import text
from ..models import Team, User, fold
from .search import teams_for


@dataclass
class UserData:
    """Validated edit/create input. ``role`` None means "not changed" (managers)."""

    username: str
    email: str | None
    first_name: str
    last_name: str
    team_id: int | None
    provider: str
    disabled: bool
    role: str | None = None
    language: str | None = None
    errors: dict = field(default_factory=dict)


def form_values(user: User) -> dict:
    """The edit form's starting values."""
    return {
        "username": user.username,
        "email": user.email or "",
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "team": user.team_id,
        "provider": user.provider,
        "language": user.language or "",
        "disabled": user.disabled,
    }


def check_edit(actor: User, user: User | None, data: UserData) -> None:
    """The access rules of an edit (``user`` None: a new account), as a form error: a team
    the actor may assign, an account the actor may create (``access.may_create``: a
    manager, below their rank and in their teams), and nothing an actor may not do to their
    own account."""
    allowed = {t.id for t in teams_for(actor)}
    if not access.team_allowed(actor, data.team_id, allowed):
        raise accounts.AccountError("team", text("TEAM_NOT_ALLOWED"))
    role = data.role or access.default_role()
    if user is None and not access.may_create(actor, role, data.team_id):
        raise accounts.AccountError("team", text("CREATE_TEAM_NOT_YOURS"))
    refusal = access.edit_refusal(actor, user, disabled=bool(data.disabled), role=data.role)
    if refusal is not None:
        raise accounts.AccountError(refusal[0], text(refusal[1]))


def needs_fresh_password(user: User | None, data: UserData) -> bool:
    """Changes that need a recent password entry (step-up): a new account that reaches
    everyone, a role change (privilege), an email change (the recovery channel, one's own
    included) and disabling or enabling."""
    if user is None:
        return bool(data.role) and access.grants_everyone(data.role)
    if data.role is not None and data.role != user.role:
        return True
    if (fold((data.email or "").strip()) or None) != (user.email_key or None):
        return True
    return bool(data.disabled) != bool(user.disabled)


def update_user(actor: User, user: User, data: UserData) -> dict:
    """Apply an edit; returns {field: [old, new]} of what changed (audited, no secrets).

    The access rules are enforced here too (``check_edit``). Changing the email or
    disabling rotates the security stamp (outstanding links die); disabling also ends
    every session of the user. Fields the account's provider owns (the directory's
    names, email, team) keep their current values.
    """
    check_edit(actor, user, data)
    owned = providers.for_user(user).owned_fields()
    if owned:
        current = {
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "team_id": user.team_id,
        }
        data = dataclasses.replace(data, **{k: current[k] for k in owned})
    username = accounts.clean_username(data.username)
    email = accounts.clean_email(data.email)
    if username != user.username:  # existing names stay valid; a new one must be safe
        accounts.check_new_username(username, exclude_id=user.id)
    accounts.check_unique(username, email, exclude_id=user.id)
    new = {
        "username": username,
        "email": email,
        "first_name": data.first_name.strip(),
        "last_name": data.last_name.strip(),
        "team": data.team_id,
        "provider": data.provider,
        "disabled": bool(data.disabled),
    }
    if data.role is not None:
        new["role"] = data.role
    if data.language is not None:
        new["language"] = data.language or None
    changes = audit.changes(user, new)
    if not changes:
        return {}
    fields = dict(new)
    fields.update(
        username_key=fold(username),
        email_key=fold(email) if email else None,
        username_skeleton=accounts.username_skeleton(username),
        first_name_key=fold(new["first_name"]) or "",
        last_name_key=fold(new["last_name"]) or "",
    )
    if "email" in changes or ("disabled" in changes and new["disabled"]):
        fields["security_stamp"] = accounts.new_stamp()
    try:
        with write():
            _apply_update(actor, user, fields, changes, old_email=user.email)
    except IntegrityError:  # another request took the username or email meanwhile
        raise accounts.AccountError(
            "email" if "email" in changes and "username" not in changes else "username",
            text("USER_EXISTS"),
        ) from None
    if "role" in changes:
        access.clear_cache()
    return changes


def _apply_update(
    actor: User, user: User, fields: dict, changes: dict, old_email: str | None
) -> None:
    User.update(**fields).where(User.id == user.id).execute()
    if "email" in changes:
        links.void(user)
    if changes.get("disabled", [False, False])[1]:
        sessions.end_all(user)
    user = User.get_by_id(user.id)
    if "email" in changes and old_email:
        # The recovery channel moved: the previous address hears of it (never the new one).
        mail.queue(
            "email_changed",
            old_email,
            user=user,
            by_admin=actor.id != user.id,
            **links.not_me_notice(user),
        )  # "this wasn't me" locks (issue 10)
    audit.record("user.update", actor=actor, target=user, detail={"changed": changes})


def create_user(actor: User, data: UserData) -> tuple[User, str | None]:
    """Create an account: invitation email when it has one, otherwise a temporary password.

    A directory account is not created but found: its row comes from the directory entry
    (which keeps the names, email and password); the role, team and language are Passgate's.
    """
    check_edit(actor, None, data)
    data = dataclasses.replace(data, role=data.role or access.default_role())
    team = Team.get_or_none(Team.id == data.team_id) if data.team_id else None
    source = providers.get(data.provider)
    if source.remote:
        return _add_from_directory(actor, source, data), None
    return accounts.create_user(
        data.username,
        role=data.role,
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        team=team.name if team else None,
        language=data.language or None,
        actor=actor,
        provider=data.provider or "identity",
        disabled=bool(data.disabled),
    )


def _add_from_directory(actor: User, source, data: UserData) -> User:
    username = accounts.clean_username(data.username)
    accounts.check_unique(username, None)
    user = source.find_account(username)  # the directory, outside any transaction
    if user is None:
        raise accounts.AccountError("username", text("NOT_IN_DIRECTORY"))
    fields = {"role": data.role, "disabled": bool(data.disabled), "language": data.language or None}
    if "team_id" not in source.owned_fields():
        fields["team"] = data.team_id
    with write():
        User.update(**fields).where(User.id == user.id).execute()
        user = User.get_by_id(user.id)
        audit.record(
            "user.update",
            actor=actor,
            target=user,
            detail={"changed": {k: [None, v] for k, v in fields.items()}, "source": "admin"},
        )
    return user


def unlock(actor: User, user: User) -> None:
    providers.for_user(user).unlock(user)
    with write():
        throttle.clear(user)
        audit.record("admin.unlock", actor=actor, target=user)


def set_disabled(actor: User, user: User, disabled: bool) -> None:
    """Disable (sessions end, links die) or enable an account."""
    fields = {"disabled": disabled}
    if disabled:
        fields["security_stamp"] = accounts.new_stamp()
    with write():
        User.update(**fields).where(User.id == user.id).execute()
        if disabled:
            sessions.end_all(user)
        audit.record("admin.disable" if disabled else "admin.enable", actor=actor, target=user)


def end_sessions(actor: User, user: User) -> int:
    with write():
        count = sessions.end_all(user)
        audit.record("admin.end_sessions", actor=actor, target=user, detail={"sessions": count})
    return count


def resend_purpose(user: User) -> str | None:
    """What a re-send would send: an invitation (no password yet), a recovery link, or
    None when the account cannot receive one (``links.refusal``; a directory account's
    password is the directory's)."""
    if links.refusal(user) is not None or user.provider != "identity":
        return None
    return "invite" if user.password_hash is None else "reset"


def resend_link(actor: User, user: User, purpose: str) -> None:
    """Send a new invitation or recovery link; the pending one is voided (links.issue)."""
    with write():
        voided = links.has_pending(user)
        links.issue(user, purpose, language=user.language)
        audit.record(
            "admin.resend", actor=actor, target=user, detail={"kind": purpose, "voided": voided}
        )
    mail.wake()
