"""Reaching the LDAP directory (ldap3): its settings, the server, bound connections with
timeouts. Network trouble or a refused service bind raise ``DirectoryUnavailable``."""

from __future__ import annotations

import math
import ssl
from contextlib import contextmanager
from dataclasses import dataclass

import ldap3
from ldap3.core.exceptions import LDAPException

from .base import DirectoryUnavailable
from .ldap_flavours import (
    FLAVOURS,
    INSUFFICIENT_ACCESS,
    INVALID_CREDENTIALS,
    NO_SUCH_OBJECT,
    UNWILLING,
)

NETWORK_ERRORS = (LDAPException, OSError)


@contextmanager
def network(operation: str):
    """Network trouble inside the block (ldap3's errors, sockets) is DirectoryUnavailable."""
    try:
        yield
    except NETWORK_ERRORS as exc:
        raise DirectoryUnavailable(type(exc).__name__, operation) from None


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


class Connector:
    """One short connection per operation, every call bounded by ``LDAP_TIMEOUT``."""

    def __init__(self, settings: Settings, server=None, strategy=ldap3.SYNC):
        self.s = settings
        self.flavour = FLAVOURS[settings.flavour]()
        self._server = server
        self._strategy = strategy

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
            close(conn)
            raise DirectoryUnavailable(type(exc).__name__, operation) from None
        close(conn)
        if code in (INVALID_CREDENTIALS, UNWILLING, INSUFFICIENT_ACCESS, NO_SUCH_OBJECT, 48, 50):
            return None
        raise DirectoryUnavailable(f"bind result {code}", operation)

    def service(self, operation: str):
        conn = self.connect(self.s.bind_dn, self.s.bind_password, operation)
        if conn is None:
            raise DirectoryUnavailable("service bind refused", operation)
        return conn


def close(conn) -> None:
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken socket must not hide the real answer  # nosec B110
        pass
