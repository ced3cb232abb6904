"""The LDAP client (ldap3): lookups of accounts and their team, password checks and
writes, unlocks; each over one short connection (``ldap_connection.Connector``).
Unreachable, slow or a refused service bind raise ``DirectoryUnavailable``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import ldap3
from ldap3.utils.conv import escape_filter_chars

from .base import AccountState, DirectoryUnavailable, Profile, WrongPassword
from .ldap_connection import Connector, close, network
from .ldap_flavours import (
    CONSTRAINT_VIOLATION,
    INSUFFICIENT_ACCESS,
    INVALID_CREDENTIALS,
    NO_SUCH_ATTRIBUTE,
    NO_SUCH_OBJECT,
    SUCCESS,
    UNWILLING,
    rejection,
)


@dataclass
class Entry:
    profile: Profile
    state: AccountState


class Directory(Connector):
    """Stateless client: one short connection per operation, every call bounded."""

    # reads
    def attributes(self) -> list[str]:
        names = [
            self.s.attr_username,
            self.s.attr_email,
            self.s.attr_first_name,
            self.s.attr_last_name,
            *self.flavour.state_attributes,
        ]
        if self.s.attr_team and not self.s.team_is_group_base:
            names.append(self.s.attr_team)
        return [n for n in names if n]

    def _search(self, conn, condition: str, operation: str, limit: int = 2) -> list[dict]:
        query = f"(&{self.s.user_filter}{condition})"
        with network(operation):
            conn.search(
                self.s.user_base,
                query,
                search_scope=ldap3.SUBTREE,
                attributes=self.attributes(),
                size_limit=limit,
                time_limit=max(int(self.s.timeout), 1),
            )
        code = conn.result.get("result")
        if code not in (SUCCESS, 4, NO_SUCH_OBJECT):  # 4 = sizeLimitExceeded
            raise DirectoryUnavailable(f"search result {code}", operation)
        return [r for r in (conn.response or []) if r.get("type") == "searchResEntry"]

    def find(self, identifier: str, operation: str, conn=None) -> Entry | None:
        """The one entry whose username or email attribute equals ``identifier``."""
        value = escape_filter_chars(identifier.strip())
        if not value:
            return None
        condition = f"(|({self.s.attr_username}={value})({self.s.attr_email}={value}))"
        own = conn is None
        conn = conn or self.service(operation)
        try:
            found = self._search(conn, condition, operation)
            if len(found) != 1:  # none, or ambiguous: never guess
                return None
            return self.entry(conn, found[0], operation)
        finally:
            if own:
                close(conn)

    def all_entries(self, operation: str = "sync") -> list[Entry]:
        conn = self.service(operation)
        try:
            entries = []
            with network(operation):
                pages = conn.extend.standard.paged_search(
                    self.s.user_base,
                    self.s.user_filter,
                    search_scope=ldap3.SUBTREE,
                    attributes=self.attributes(),
                    paged_size=500,
                    generator=True,
                )
                for row in pages:
                    if row.get("type") == "searchResEntry":
                        entries.append(self.entry(conn, row, operation))
            if conn.result.get("result") not in (SUCCESS, None):
                raise DirectoryUnavailable(f"search result {conn.result.get('result')}", operation)
            return entries
        finally:
            close(conn)

    def entry(self, conn, row: dict, operation: str) -> Entry:
        attrs = row.get("attributes") or {}
        raw = row.get("raw_attributes") or {}

        def first(name):
            if not name:
                return None
            value = attrs.get(name)
            if isinstance(value, list):
                value = value[0] if value else None
            return str(value).strip() if value not in (None, "") else None

        team = (
            first(self.s.attr_team)
            if self.s.attr_team and not self.s.team_is_group_base
            else self.group_of(conn, row["dn"], first(self.s.attr_username), operation)
        )
        profile = Profile(
            dn=row["dn"],
            username=first(self.s.attr_username) or "",
            email=first(self.s.attr_email),
            first_name=(first(self.s.attr_first_name) or "")[:64],
            last_name=(first(self.s.attr_last_name) or "")[:64],
            team=(team or "")[:64] or None,
        )
        state_raw = {k: raw.get(k) or [] for k in self.flavour.state_attributes}
        # ldap3 keys raw attributes case-insensitively only in some versions: look both ways
        for key, value in raw.items():
            for name in self.flavour.state_attributes:
                if key.lower() == name.lower():
                    state_raw[name] = value
        return Entry(profile, self.flavour.state(state_raw))

    def group_of(self, conn, dn: str, username: str | None, operation: str) -> str | None:
        """With ``LDAP_ATTR_TEAM`` set to a DN: the first group below it the user is in."""
        if not self.s.team_is_group_base:
            return None
        member = escape_filter_chars(dn)
        uid = escape_filter_chars(username or "")
        query = (
            f"(|(&(objectClass=groupOfNames)(member={member}))"
            f"(&(objectClass=groupOfUniqueNames)(uniqueMember={member}))"
            f"(&(objectClass=posixGroup)(memberUid={uid})))"
        )
        with network(operation):
            conn.search(
                self.s.attr_team,
                query,
                search_scope=ldap3.SUBTREE,
                attributes=["cn"],
                size_limit=1,
                time_limit=max(int(self.s.timeout), 1),
            )
        for row in conn.response or []:
            cn = (row.get("attributes") or {}).get("cn")
            if cn:
                return cn[0] if isinstance(cn, list) else str(cn)
        return None

    # password checks and writes
    def bind_check(self, dn: str | None, password: str, operation: str) -> bool:
        """Bind as the user. Without a DN, a DN that cannot exist (same round trip)."""
        if not password:
            return False  # an empty password would be an anonymous bind (RFC 4513 5.1.2)
        if dn is None:
            dn = f"{self.s.attr_username}=passgate-{secrets.token_hex(8)},{self.s.user_base}"
        conn = self.connect(dn, password, operation)
        if conn is None:
            return False
        close(conn)
        return True

    def change_own(self, dn: str, current: str, new: str) -> None:
        conn = self.connect(dn, current, "password.change") if current else None
        if conn is None:
            raise WrongPassword()
        try:
            with network("password.change"):
                result = self.flavour.change_own(conn, dn, current, new)
        finally:
            close(conn)
        self._check_write(result, "password.change")

    def admin_set(self, dn: str, new: str, *, must_change: bool) -> None:
        conn = self.service("password.set")
        try:
            with network("password.set"):
                result = self.flavour.admin_set(conn, dn, new)
            self._check_write(result, "password.set")
            self._modify(conn, dn, self.flavour.flags(must_change=must_change), "password.set")
        finally:
            close(conn)

    def unlock(self, dn: str) -> None:
        conn = self.service("unlock")
        try:
            self._modify(conn, dn, self.flavour.unlock(), "unlock")
        finally:
            close(conn)

    def _modify(self, conn, dn: str, changes: dict, operation: str) -> None:
        """Change attributes of ``dn``; one that is not there to remove is no error."""
        with network(operation):
            conn.modify(dn, changes)
        if conn.result.get("result") not in (SUCCESS, NO_SUCH_ATTRIBUTE):
            raise DirectoryUnavailable(f"modify result {conn.result.get('result')}", operation)

    def _check_write(self, result: dict, operation: str) -> None:
        code = result.get("result")
        if code == SUCCESS:
            return
        if result.get("wrong_current") or code == INVALID_CREDENTIALS:
            raise WrongPassword()
        if code in (CONSTRAINT_VIOLATION, INSUFFICIENT_ACCESS, UNWILLING):
            raise rejection(result)
        raise DirectoryUnavailable(f"write result {code}", operation)
