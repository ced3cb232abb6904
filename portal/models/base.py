"""What every table shares: the database, naive UTC times and the lookup keys."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from peewee import Model

from ..db import database


def utcnow() -> datetime:
    """Naive UTC now: stored datetimes are naive UTC on both engines."""
    return datetime.now(UTC).replace(tzinfo=None)


def fold(value: str | None) -> str | None:
    """The lookup key of a username, email or name: NFKC-normalised and casefolded."""
    if value is None:
        return None
    return unicodedata.normalize("NFKC", value).strip().casefold()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False
