"""Where passwords live: Passgate itself (``identity``) or the directory (``sso``).

``get(name)`` for a provider chosen on a form, ``for_user(user)`` for an existing
account. ``init_app`` answers ``DirectoryUnavailable`` with a 503 page (audited).
"""

from __future__ import annotations

from flask import request

from .. import audit, htmx, settings
from ..errors import render_error
from ..messages import lazy
from .base import (
    AccountState,
    DirectoryUnavailable,
    PasswordRejected,
    Provider,
    ProviderError,
    Verification,
    WrongPassword,
)
from .local import LocalProvider

__all__ = [
    "AccountState",
    "DirectoryUnavailable",
    "PasswordRejected",
    "Provider",
    "ProviderError",
    "Verification",
    "WrongPassword",
    "directory_enabled",
    "for_user",
    "get",
    "init_app",
]

UNAVAILABLE = lazy("DIRECTORY_UNAVAILABLE")
RETRY_AFTER = 30


def directory_enabled() -> bool:
    return bool(settings.get("LDAP_URL", None))


def get(name: str | None) -> Provider:
    """The provider for a form's ``provider`` value (identity when no directory is set)."""
    if name == "sso" and directory_enabled():
        # Imported only when a directory is configured: ldap3 and its ASN.1 and TLS modules
        # cost every server process about 13 MB (measured), for nothing on the default setup.
        from .directory import DirectoryProvider

        return DirectoryProvider.from_app()
    return LocalProvider()


def for_user(user) -> Provider:
    return get(user.provider)


def init_app(app) -> None:
    @app.errorhandler(DirectoryUnavailable)
    def directory_unavailable(exc: DirectoryUnavailable):
        audit.record(
            "directory.unavailable",
            outcome="failure",
            detail={
                "operation": exc.operation or request.endpoint or "",
                "reason": exc.reason[:120],
            },
        )
        body, code = render_error(503, UNAVAILABLE)
        response = app.make_response((body, code))
        response.headers["Retry-After"] = str(RETRY_AFTER)
        # Leave the open dialog and what was typed in it as they are; the page's
        # request-error banner says to try again.
        return htmx.keep_page(response)
