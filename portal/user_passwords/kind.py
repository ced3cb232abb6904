"""A kind of secret an administrator hands out: a temporary password (``service.PASSWORD``)
or a temporary passcode (``portal.passcodes.service.PASSCODE``).

One code path and one set of templates serve both (``screens`` and ``admin/_reset_*.html``
for one user, ``portal.bulk`` for many); a ``SecretKind`` holds only what differs: how the
secret is made and mailed, whose endpoints serve it, the words on screen, its HTML ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from flask_babel import gettext, ngettext

from ..models import OutboxMail, User

# A text: an English msgid, a (singular, plural) pair chosen by ``num``, or a function of
# the values (a message of ``portal.messages`` by its key).
Text = str | tuple[str, str] | Callable[..., str]


@dataclass(frozen=True)
class SecretKind:
    name: str  # "password" | "passcode": the form field and result column that carry it
    blueprint: str  # whose endpoints serve it: reset, reset_email, mail_status, bulk_*
    ids: str  # prefix of the HTML ids of its screens ("" or "passcode-")
    reset: Callable[[User, User, str], str]  # (actor, user, reason) -> the temporary secret
    expires_at: Callable[[User], datetime | None]  # when the user's temporary one expires
    email: Callable[[User, User, str], OutboxMail | None]  # (actor, user, secret) -> queued
    mail_kind: str | None  # the OutboxMail kind its status page shows (None: any)
    bulk_action: str  # the BulkJob action of a bulk reset
    purpose: bytes  # the key of a bulk reset's stored results (crypto.fernet)
    texts: Mapping[str, Text]

    def url(self, view: str, **values) -> str:
        return url_for(f"{self.blueprint}.{view}", **values)

    def say(self, key: str, **values) -> str:
        """The text ``key`` in the current language (``num`` chooses a plural form)."""
        entry = self.texts[key]
        if callable(entry):
            return entry(**values)
        if isinstance(entry, tuple):
            return ngettext(entry[0], entry[1], values.pop("num"), **values)
        return gettext(entry, **values)
