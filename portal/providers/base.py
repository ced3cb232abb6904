"""The provider interface: where an account's password lives and how it is checked.

Two implementations: ``LocalProvider`` (``identity``: a bcrypt hash in Passgate's own
database) and ``DirectoryProvider`` (``sso``: the organisation's LDAP directory).

Callers (sign-in, change, recovery, the admin screens) use only this interface. A
provider's slow work (bcrypt, network round trips to the directory) happens in
``verify``/``change_password``/``set_password``/``unlock``/``state``: callers run those
*outside* any database transaction, then record the outcome in a short transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from ..models import User


class ProviderError(Exception):
    """Base class: a provider could not do what was asked."""


class DirectoryUnavailable(ProviderError):
    """The directory is unreachable, too slow, or refuses the service account.

    Never shown as a wrong password; answered with 503 + Retry-After (see ``errors``).
    ``reason`` is a short code for the audit log (never a secret).
    """

    def __init__(self, reason: str, operation: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.operation = operation


class PasswordRejected(ProviderError):
    """The directory refused a new password (its own policy). ``message`` is translated."""

    def __init__(self, message: str, code: str = "rejected"):
        super().__init__(message)
        self.message = message
        self.code = code


class WrongPassword(ProviderError):
    """The current password given for a change is not correct."""


@dataclass
class Profile:
    """What the directory says about an account (kept in step with the local row)."""

    dn: str
    username: str
    email: str | None = None
    first_name: str = ""
    last_name: str = ""
    team: str | None = None


@dataclass
class AccountState:
    """The account as its provider sees it."""

    exists: bool = True
    locked: bool = False
    must_change: bool = False
    disabled: bool = False
    detail: dict = field(default_factory=dict)


@dataclass
class Verification:
    """The outcome of checking a password (no database write has happened yet)."""

    user: User | None  # the local row, if there is one
    matches: bool
    profile: Profile | None = None  # directory accounts: the entry that was bound to
    state: AccountState | None = None
    new_hash: str | None = None  # local accounts: the hash at today's cost, if it changed


class Provider(ABC):
    """One place an account's password can live."""

    name: str
    remote = False  # True when the account's state lives elsewhere (worth showing apart)

    @abstractmethod
    def lookup(self, identifier: str) -> User | None:
        """The local row used for throttling before any password check (a read)."""

    @abstractmethod
    def verify(self, identifier: str, password: str, user: User | None) -> Verification:
        """Check a password, spending the same time whether or not the account exists."""

    @abstractmethod
    def adopt(self, verification: Verification) -> User | None:
        """After a successful check: the local row, created or brought up to date.
        Runs inside the caller's (short) transaction; no slow work."""

    @abstractmethod
    def check_current(self, user: User, password: str) -> bool:
        """Is ``password`` the user's current password (before a self-service change)?"""

    @abstractmethod
    def change_password(self, user: User, current: str, new: str) -> None:
        """The user changes their own password. Raises WrongPassword / PasswordRejected."""

    @abstractmethod
    def set_password(self, user: User, new: str, *, must_change: bool) -> None:
        """An administrator (or a recovery link) sets the password; also unlocks."""

    @abstractmethod
    def unlock(self, user: User) -> None:
        """Lift the provider's own lock on the account."""

    @abstractmethod
    def state(self, user: User) -> AccountState:
        """The provider's view of the account (locked, must change, gone)."""

    def owned_fields(self) -> tuple[str, ...]:
        """Account fields this provider owns (read-only in Passgate's edit dialog)."""
        return ()

    @abstractmethod
    def find_account(self, identifier: str) -> User | None:
        """The local row for ``identifier`` (a recovery request in the mail worker, an
        administrator adding a directory account), created from the provider's own record
        when it has one. Outside any transaction; may be slow."""
