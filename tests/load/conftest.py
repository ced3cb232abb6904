"""Fixtures of the load, fault and several-instance tests (real processes on loopback)."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.db import database, truncate_all
from portal.models import DEFAULT_ROLES, MODELS, Role

from ..helpers import PG_URL, base_overrides
from .helpers import PG_INSTANCES_URL
from .server import all_logs, base_env, stop_all
from .smtp import Sink


@pytest.fixture(autouse=True)
def _stop_processes():
    """Whatever a test started is stopped when it ends, pass or fail; the processes'
    output is printed (pytest shows it when the test failed)."""
    yield
    stop_all()
    print(all_logs()[-12000:])


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
