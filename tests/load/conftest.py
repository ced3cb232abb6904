"""Fixtures of the load, fault and several-instance tests (real processes on loopback)."""

from __future__ import annotations

import pytest

from portal import create_app

from ..helpers import PG_URL, base_overrides, prepare_database
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


@pytest.fixture
def pg_app(tmp_path, request):
    """An app on PostgreSQL with empty tables, whatever the leg (several instances)."""
    if PG_URL:
        return request.getfixturevalue("app")  # the PostgreSQL leg: prepared by conftest
    app = create_app(
        {**base_overrides(tmp_path), "DATABASE_URL": PG_INSTANCES_URL},
        instance_path=str(tmp_path / "instance"),
    )
    prepare_database(app)  # PostgreSQL, whatever the leg
    return app
