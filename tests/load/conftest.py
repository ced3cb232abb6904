"""Fixtures of the load, fault and several-instance tests (real processes on loopback)."""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import contextmanager

import pytest

from portal import create_app
from portal.db import database, truncate_all
from portal.models import DEFAULT_ROLES, MODELS, AuditEvent, Role

from ..conftest import PASSWORD, PG_URL, base_overrides
from .server import all_logs, base_env, stop_all
from .smtp import Sink

# The several-instance tests always run on PostgreSQL + Redis, on the SQLite leg too.
PG_INSTANCES_URL = (PG_URL or os.environ.get("PASSGATE_TEST_PG_URL")
                    or "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PASSGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture(autouse=True)
def _stop_processes():
    """Whatever a test started is stopped when it ends, pass or fail; the processes'
    output is printed (pytest shows it when the test failed)."""
    yield
    stop_all()
    print(all_logs()[-12000:])


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


def create_users(app, names, *, password: str = PASSWORD, role: str = "user",
                 email: bool = True, **details) -> dict:
    """Accounts created through the real service; {username: user id}."""
    from portal.accounts import create_user

    ids = {}
    with connected(app):
        for name in names:
            user, _temp = create_user(name, role=role, password=password,
                                      email=f"{name}@example.test" if email else None,
                                      **details)
            ids[name] = user.id
    return ids


def audit_counts(app, after_id: int = 0) -> Counter:
    """Audit events after ``after_id``, counted per action (and outcome when not success)."""
    with connected(app):
        rows = AuditEvent.select(AuditEvent.action, AuditEvent.outcome).where(
            AuditEvent.id > after_id).tuples()
        return Counter(action if outcome == "success" else f"{action}:{outcome}"
                       for action, outcome in rows)


def last_audit_id(app) -> int:
    from peewee import fn

    with connected(app):
        return AuditEvent.select(fn.MAX(AuditEvent.id)).scalar() or 0


def outbox_statuses(app) -> Counter:
    from portal.models import OutboxMail

    with connected(app):
        return Counter(s for (s,) in OutboxMail.select(OutboxMail.status).tuples())


def wait_all_sent(app, seconds: float) -> None:
    """Every queued mail has been delivered (status "sent"), or the test fails."""
    deadline = time.monotonic() + seconds
    while (statuses := outbox_statuses(app)) != Counter({"sent": sum(statuses.values())}):
        assert time.monotonic() < deadline, f"mail still pending: {statuses}"
        time.sleep(0.1)


@pytest.fixture
def sink():
    """A running SMTP sink on a free port (stopped at the end)."""
    server = Sink().start()
    yield server
    server.stop()


@pytest.fixture
def server_env(tmp_path, app, sink):
    """Environment for `passgate` processes on this test's database (engine of the leg)."""
    return base_env(tmp_path, app.config["DATABASE_URL"], sink.port)


_pg_ready = False


@pytest.fixture
def pg_app(tmp_path, request):
    """An app on PostgreSQL with empty tables, whatever the leg (several instances)."""
    global _pg_ready
    if PG_URL:
        return request.getfixturevalue("app")  # the PostgreSQL leg: prepared by conftest
    app = create_app({**base_overrides(tmp_path), "DATABASE_URL": PG_INSTANCES_URL},
                     instance_path=str(tmp_path / "instance"))
    from portal.access import clear_cache
    from portal.schema import migrate

    clear_cache()
    with app.app_context():
        database.connect(reuse_if_open=True)
        if not _pg_ready:
            database.execute_sql("DROP SCHEMA public CASCADE")
            database.execute_sql("CREATE SCHEMA public")
            migrate()
            _pg_ready = True
        truncate_all(MODELS)
        for name, perms, scope, rank in DEFAULT_ROLES:
            Role.create(name=name, permissions=perms, scope=scope, rank=rank)
        database.close()
    return app
