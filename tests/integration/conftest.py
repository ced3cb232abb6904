"""Fixtures of the integration tests that start real processes."""

from __future__ import annotations

import os

import pytest

from ..helpers import PG_URL


@pytest.fixture
def server_env(tmp_path, app, smtp_server):
    return {
        **os.environ,
        "PASSGATE_SECRET_KEY": "test-secret-key-not-for-production",
        "PASSGATE_DATABASE_URL": PG_URL or f"sqlite:///{tmp_path}/passgate.db",
        "PASSGATE_BCRYPT_ROUNDS": "4",
        "PASSGATE_INSTANCE": str(tmp_path / "instance"),
        "PASSGATE_MAIL_SERVER": "127.0.0.1",
        "PASSGATE_MAIL_PORT": str(smtp_server.port),
        "PASSGATE_MAIL_WORKER_INTERVAL": "0.2",
    }
