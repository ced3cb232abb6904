"""Helpers of the load, fault and several-instance tests (tests import them from here)."""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import contextmanager

from peewee import fn

from portal.accounts import create_user
from portal.db import database
from portal.models import AuditEvent, OutboxMail

from ..helpers import PASSWORD, PG_URL, per_worker_database
from ..helpers import REDIS_URL as REDIS_URL  # the several-instance tests' Redis database

# The several-instance tests always run on PostgreSQL + Redis, on the SQLite leg too (the
# worker's own database and Redis db when pytest-xdist runs them: see tests/helpers.py).
PG_INSTANCES_URL = PG_URL or per_worker_database(
    os.environ.get("PASSGATE_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/test"
)


@contextmanager
def connected(app):
    """A request context with an open connection, for reading and seeding the database
    (the shared peewee proxy is bound to ``app``'s database first)."""
    with app.test_request_context():
        database.initialize(app.extensions["peewee"])
        database.connect(reuse_if_open=True)
        try:
            yield
        finally:
            if not database.is_closed():
                database.close()


def create_users(
    app, names, *, password: str = PASSWORD, role: str = "user", email: bool = True, **details
) -> dict:
    """Accounts created through the real service; {username: user id}."""
    ids = {}
    with connected(app):
        for name in names:
            user, _temp = create_user(
                name,
                role=role,
                password=password,
                email=f"{name}@example.test" if email else None,
                **details,
            )
            ids[name] = user.id
    return ids


def audit_counts(app, after_id: int = 0) -> Counter:
    """Audit events after ``after_id``, counted per action (and outcome when not success)."""
    with connected(app):
        rows = (
            AuditEvent.select(AuditEvent.action, AuditEvent.outcome)
            .where(AuditEvent.id > after_id)
            .tuples()
        )
        return Counter(
            action if outcome == "success" else f"{action}:{outcome}" for action, outcome in rows
        )


def last_audit_id(app) -> int:
    with connected(app):
        return AuditEvent.select(fn.MAX(AuditEvent.id)).scalar() or 0


def outbox_statuses(app) -> Counter:
    with connected(app):
        return Counter(s for (s,) in OutboxMail.select(OutboxMail.status).tuples())


def wait_all_sent(app, seconds: float) -> None:
    """Every queued mail has been delivered (status "sent"), or the test fails."""
    deadline = time.monotonic() + seconds
    while (statuses := outbox_statuses(app)) != Counter({"sent": sum(statuses.values())}):
        assert time.monotonic() < deadline, f"mail still pending: {statuses}"
        time.sleep(0.1)
