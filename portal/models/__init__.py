"""Data model. Schema changes go through ``portal/migrations/``, never hand edits.

Case-insensitive uniqueness and fast lookups use stored ``*_key`` columns (casefolded,
NFKC-normalised) with ordinary B-tree indexes, which behave the same on SQLite and
PostgreSQL. The tables are grouped by what they hold (``people``, ``credentials``,
``records``); every name is imported from here (``from portal.models import User``).
"""

from __future__ import annotations

from .base import BaseModel, fold, utcnow
from .credentials import ApiKey, LoginThrottle, RecoveryRequest, ResetToken, UserSession
from .people import (
    DEFAULT_ROLES,
    ROLE_LABELS,
    ManagedTeam,
    Passcode,
    PasswordHistory,
    Role,
    Team,
    User,
)
from .records import AuditEvent, BulkJob, OutboxMail, Setting

__all__ = ["DEFAULT_ROLES", "ROLE_LABELS", "BaseModel", "fold", "utcnow"]

# Every table, in the order they are created (a table after those it refers to).
MODELS = [
    Role,
    Team,
    User,
    ManagedTeam,
    PasswordHistory,
    ResetToken,
    RecoveryRequest,
    UserSession,
    LoginThrottle,
    AuditEvent,
    OutboxMail,
    Setting,
    BulkJob,
    Passcode,
    ApiKey,
]
