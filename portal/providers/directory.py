"""``sso`` accounts: the password lives in the organisation's LDAP directory (ldap3).

Two flavours, chosen by ``LDAP_FLAVOUR``:

- ``openldap`` (OpenLDAP with the ppolicy overlay, LLDAP, 389-DS…): changes use the
  Password Modify extended operation (RFC 3062), so the server hashes the password with
  its own scheme and applies its policy; the ppolicy response control says why a password
  was refused. Must-change is ``pwdReset: TRUE``; the lock is ``pwdAccountLockedTime``.
- ``ad`` (Active Directory, Samba AD): ``unicodePwd`` holds the quoted password in
  UTF-16-LE; a user's own change is one modify that deletes the old value and adds the
  new one, an administrator's is a replace. Must-change is ``pwdLastSet=0``; the lock is
  ``lockoutTime``.

Every network call has a timeout (``LDAP_TIMEOUT``). Unreachable, slow or a refused
service bind raise ``DirectoryUnavailable`` (503 page, audited), never a wrong-password
answer. No database transaction is open while this module talks to the directory.
"""

from __future__ import annotations

from flask import current_app

from .. import accounts, audit, passwords, settings
from ..db import database
from ..models import User, fold
from .base import (
    AccountState,
    DirectoryUnavailable,
    Profile,
    Provider,
    Verification,
)
from .ldap_client import Directory, Entry  # noqa: F401  (the client, re-used by tests)
from .ldap_connection import Settings
from .ldap_flavours import (  # noqa: F401
    PPOLICY_OID,
    ActiveDirectory,
    OpenLDAP,
    ad_password,
    ppolicy_error,
    rejection,
)

# Local rows of directory accounts carry this marker instead of a hash until Passgate
# itself sets their password: it never verifies (bcrypt refuses it), and the row does not
# look like a pending invitation.
DIRECTORY_HASH = "!directory"


class DirectoryProvider(Provider):
    name = "sso"
    remote = True

    def __init__(self, directory: Directory):
        self.directory = directory

    @classmethod
    def from_app(cls) -> DirectoryProvider:
        return cls(Directory(Settings.from_config(current_app.config)))

    def lookup(self, identifier: str) -> User | None:
        user = accounts.find(identifier)
        return user if user is not None and user.provider == self.name else None

    def verify(self, identifier: str, password: str, user: User | None) -> Verification:
        # The same bcrypt work as a local sign-in, then one search and one bind whether
        # or not the entry exists: neither the answer nor its timing tells them apart.
        passwords.verify_password(password, None)
        found = self.directory.find(identifier, "login")
        matches = self.directory.bind_check(found.profile.dn if found else None, password, "login")
        if found is None:
            return Verification(user=user, matches=False)
        return Verification(user=user, matches=matches, profile=found.profile, state=found.state)

    def adopt(self, verification: Verification) -> User | None:
        if verification.profile is None:
            return None
        return upsert(verification.profile, verification.state)

    def _dn(self, user: User) -> str:
        found = self.directory.find(user.username, "lookup")
        if found is None:
            raise DirectoryUnavailable("entry not found", "lookup")
        return found.profile.dn

    def check_current(self, user: User, password: str) -> bool:
        found = self.directory.find(user.username, "password.change")
        return (
            self.directory.bind_check(
                found.profile.dn if found else None, password, "password.change"
            )
            and found is not None
        )

    def change_password(self, user: User, current: str, new: str) -> None:
        self.directory.change_own(self._dn(user), current, new)

    def set_password(self, user: User, new: str, *, must_change: bool) -> None:
        self.directory.admin_set(self._dn(user), new, must_change=must_change)

    def unlock(self, user: User) -> None:
        self.directory.unlock(self._dn(user))

    def state(self, user: User) -> AccountState:
        found = self.directory.find(user.username, "state")
        return found.state if found else AccountState(exists=False)

    def owned_fields(self) -> tuple[str, ...]:
        owned = ("username", "email", "first_name", "last_name")
        return (*owned, "team_id") if self.directory.s.attr_team else owned

    def find_account(self, identifier: str) -> User | None:
        found = self.directory.find(identifier, "lookup")
        if found is None:
            return None
        with database.atomic():
            return upsert(found.profile, found.state)


def upsert(
    profile: Profile,
    state: AccountState | None,
    *,
    actor: User | None = None,
    counts: dict | None = None,
) -> User | None:
    """Create or update the local row of a directory entry (no network; short).

    Returns None when the username belongs to a local (``identity``) account: the two are
    never merged.
    """
    username = profile.username
    try:
        username = accounts.clean_username(username)
    except accounts.AccountError:
        return None
    key = fold(username)
    user = User.get_or_none(User.username_key == key)
    if user is not None and user.provider != "sso":
        _count(counts, "conflicts")
        audit.record(
            "directory.conflict",
            outcome="failure",
            target=user,
            detail={"reason": "local_account_with_same_username"},
        )
        return None
    email = None
    if profile.email:
        try:
            email = accounts.clean_email(profile.email)
        except accounts.AccountError:
            email = None
    if email:
        clash = User.get_or_none(
            ((User.email_key == fold(email)) | (User.username_key == fold(email)))
            & (User.id != (user.id if user else 0))
        )
        if clash is not None:
            email = None  # another account owns this address: keep the directory user mail-less
    team = accounts.ensure_team(profile.team) if profile.team else None
    values = {
        "username": username,
        "email": email,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
    }
    if settings.get("LDAP_ATTR_TEAM", None):
        values["team"] = team.id if team else None
    if user is None:
        user = User.create(
            username_key=key,
            email_key=fold(email) if email else None,
            first_name_key=fold(profile.first_name) or "",
            last_name_key=fold(profile.last_name) or "",
            provider="sso",
            password_hash=DIRECTORY_HASH,
            security_stamp=accounts.new_stamp(),
            must_change=bool(state and state.must_change),
            **values,
        )
        audit.record("user.create", actor=actor, target=user, detail={"source": "directory"})
        _count(counts, "created")
        return user
    changes = audit.changes(user, values)
    fields = dict(values)
    fields.update(
        email_key=fold(email) if email else None,
        first_name_key=fold(profile.first_name) or "",
        last_name_key=fold(profile.last_name) or "",
    )
    if state is not None and bool(state.must_change) != user.must_change:
        fields["must_change"] = bool(state.must_change)
        if not state.must_change:
            fields["temp_password_expires_at"] = None
    if "email" in changes:
        fields["security_stamp"] = accounts.new_stamp()
    if changes or "must_change" in fields:
        User.update(**fields).where(User.id == user.id).execute()
        user = User.get_by_id(user.id)
    if changes:
        audit.record(
            "user.update",
            actor=actor,
            target=user,
            detail={"changed": changes, "source": "directory"},
        )
    _count(counts, "updated" if changes or "must_change" in fields else "unchanged")
    return user


def _count(counts: dict | None, key: str) -> None:
    if counts is not None:
        counts[key] = counts.get(key, 0) + 1
