"""``identity`` accounts: the password is a bcrypt hash in Passgate's database.

The hash itself is written by ``accounts.replace_password`` (with history and the security
stamp), so ``change_password``/``set_password``/``unlock`` have nothing more to do here.
"""

from __future__ import annotations

from .. import accounts, passwords
from ..models import User
from .base import AccountState, Provider, Verification


class LocalProvider(Provider):
    name = "identity"

    def lookup(self, identifier: str) -> User | None:
        return accounts.find(identifier)

    def verify(self, identifier: str, password: str, user: User | None) -> Verification:
        # Only a local account's own hash; any other row costs the same dummy verification.
        hashed = user.password_hash if user is not None and user.provider == self.name else None
        matches = passwords.verify_password(password, hashed)
        new_hash = None
        if matches and passwords.needs_rehash(hashed):
            new_hash = passwords.hash_password(password)
        return Verification(user=user, matches=matches, new_hash=new_hash)

    def adopt(self, verification: Verification) -> User | None:
        return verification.user

    def check_current(self, user: User, password: str) -> bool:
        return passwords.verify_password(password, user.password_hash)

    def change_password(self, user: User, current: str, new: str) -> None:
        return None

    def set_password(self, user: User, new: str, *, must_change: bool) -> None:
        return None

    def unlock(self, user: User) -> None:
        return None

    def state(self, user: User) -> AccountState:
        return AccountState(
            exists=True, locked=user.is_locked, must_change=user.must_change, disabled=user.disabled
        )

    def find_account(self, identifier: str) -> User | None:
        return accounts.find(identifier)
