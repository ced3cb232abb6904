"""The LDAP client (ldap3): connections with timeouts, lookups, binds and password
writes. Unreachable, slow or a refused service bind raise ``DirectoryUnavailable``."""

from __future__ import annotations

import math
import secrets
import ssl
from dataclasses import dataclass

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from .base import AccountState, DirectoryUnavailable, Profile, WrongPassword
from .ldap_flavours import (
    CONSTRAINT_VIOLATION,
    FLAVOURS,
    INSUFFICIENT_ACCESS,
    INVALID_CREDENTIALS,
    NO_SUCH_ATTRIBUTE,
    NO_SUCH_OBJECT,
    SUCCESS,
    UNWILLING,
    rejection,
)

NETWORK_ERRORS = (LDAPException, OSError)


@dataclass(frozen=True)
class Settings:
    url: str
    start_tls: bool
    bind_dn: str
    bind_password: str
    user_base: str
    user_filter: str
    attr_username: str
    attr_email: str
    attr_first_name: str
    attr_last_name: str
    attr_team: str
    flavour: str
    timeout: float

    @classmethod
    def from_config(cls, cfg) -> Settings:
        return cls(
            url=cfg["LDAP_URL"],
            start_tls=bool(cfg["LDAP_START_TLS"]),
            bind_dn=cfg["LDAP_BIND_DN"],
            bind_password=cfg["LDAP_BIND_PASSWORD"] or "",
            user_base=cfg["LDAP_USER_BASE"],
            user_filter=cfg["LDAP_USER_FILTER"] or "(objectClass=inetOrgPerson)",
            attr_username=cfg["LDAP_ATTR_USERNAME"],
            attr_email=cfg["LDAP_ATTR_EMAIL"],
            attr_first_name=cfg["LDAP_ATTR_FIRST_NAME"],
            attr_last_name=cfg["LDAP_ATTR_LAST_NAME"],
            attr_team=cfg["LDAP_ATTR_TEAM"] or "",
            flavour=cfg["LDAP_FLAVOUR"],
            timeout=float(cfg["LDAP_TIMEOUT"]),
        )

    @property
    def team_is_group_base(self) -> bool:
        """``LDAP_ATTR_TEAM`` names a DN (groups below it) rather than an attribute."""
        return "=" in self.attr_team


@dataclass
class Entry:
    profile: Profile
    state: AccountState


class Directory:
    """Stateless client: one short connection per operation, every call bounded."""

    def __init__(self, settings: Settings, server=None, strategy=ldap3.SYNC):
        self.s = settings
        self.flavour = FLAVOURS[settings.flavour]()
        self._server = server
        self._strategy = strategy

    # connections
    def server(self):
        if self._server is None:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED)
            self._server = ldap3.Server(
                self.s.url,
                use_ssl=self.s.url.lower().startswith("ldaps:"),
                tls=tls,
                get_info=ldap3.NONE,
                connect_timeout=self.s.timeout,
            )
        return self._server

    def connect(self, dn: str, password: str, operation: str):
        """An open connection bound as ``dn``, or None if the directory refused the
        credentials (invalidCredentials & co). Network trouble raises DirectoryUnavailable."""
        # auto_referrals off: credentials are never replayed to a host named by a referral.
        conn = ldap3.Connection(
            self.server(),
            user=dn,
            password=password,
            client_strategy=self._strategy,
            raise_exceptions=False,
            auto_referrals=False,
            receive_timeout=math.ceil(self.s.timeout),
            auto_bind=ldap3.AUTO_BIND_NONE,
        )
        try:
            conn.open()
            if self.s.start_tls:
                conn.start_tls()
            if conn.bind():
                return conn
            code = conn.result.get("result")
        except NETWORK_ERRORS as exc:
            _close(conn)
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
        _close(conn)
        if code in (INVALID_CREDENTIALS, UNWILLING, INSUFFICIENT_ACCESS, NO_SUCH_OBJECT, 48, 50):
            return None
        raise DirectoryUnavailable(f"bind result {code}", operation)

    def service(self, operation: str):
        conn = self.connect(self.s.bind_dn, self.s.bind_password, operation)
        if conn is None:
            raise DirectoryUnavailable("service bind refused", operation)
        return conn

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
        try:
            conn.search(
                self.s.user_base,
                query,
                search_scope=ldap3.SUBTREE,
                attributes=self.attributes(),
                size_limit=limit,
                time_limit=max(int(self.s.timeout), 1),
            )
        except NETWORK_ERRORS as exc:
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
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
                _close(conn)

    def all_entries(self, operation: str = "sync") -> list[Entry]:
        conn = self.service(operation)
        try:
            entries = []
            try:
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
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, operation) from None
            if conn.result.get("result") not in (SUCCESS, None):
                raise DirectoryUnavailable(f"search result {conn.result.get('result')}", operation)
            return entries
        finally:
            _close(conn)

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
        try:
            conn.search(
                self.s.attr_team,
                query,
                search_scope=ldap3.SUBTREE,
                attributes=["cn"],
                size_limit=1,
                time_limit=max(int(self.s.timeout), 1),
            )
        except NETWORK_ERRORS as exc:
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
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
        _close(conn)
        return True

    def change_own(self, dn: str, current: str, new: str) -> None:
        conn = self.connect(dn, current, "password.change") if current else None
        if conn is None:
            raise WrongPassword()
        try:
            try:
                result = self.flavour.change_own(conn, dn, current, new)
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, "password.change") from None
        finally:
            _close(conn)
        self._check_write(result, "password.change")

    def admin_set(self, dn: str, new: str, *, must_change: bool) -> None:
        conn = self.service("password.set")
        try:
            try:
                result = self.flavour.admin_set(conn, dn, new)
                self._check_write(result, "password.set")
                conn.modify(dn, self.flavour.flags(must_change=must_change))
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, "password.set") from None
            if conn.result.get("result") not in (SUCCESS, NO_SUCH_ATTRIBUTE):
                raise DirectoryUnavailable(
                    f"modify result {conn.result.get('result')}", "password.set"
                )
        finally:
            _close(conn)

    def unlock(self, dn: str) -> None:
        conn = self.service("unlock")
        try:
            try:
                conn.modify(dn, self.flavour.unlock())
            except NETWORK_ERRORS as exc:
                raise DirectoryUnavailable(type(exc).__name__, "unlock") from None
            if conn.result.get("result") not in (SUCCESS, NO_SUCH_ATTRIBUTE):
                raise DirectoryUnavailable(f"modify result {conn.result.get('result')}", "unlock")
        finally:
            _close(conn)

    def _check_write(self, result: dict, operation: str) -> None:
        code = result.get("result")
        if code == SUCCESS:
            return
        if result.get("wrong_current") or code == INVALID_CREDENTIALS:
            raise WrongPassword()
        if code in (CONSTRAINT_VIOLATION, INSUFFICIENT_ACCESS, UNWILLING):
            raise rejection(result)
        raise DirectoryUnavailable(f"write result {code}", operation)


def _close(conn) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken socket must not hide the real answer  # nosec B110
        pass
