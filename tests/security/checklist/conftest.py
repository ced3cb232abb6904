"""One live Passgate for the whole checklist package (see ``live.py``)."""

from __future__ import annotations

import os

import pytest

from . import live as harness


@pytest.fixture(scope="package")
def live(tmp_path_factory):
    """``passgate serve`` processes on loopback, an SMTP sink and a seeding app, on the leg's
    database (``PASSGATE_TEST_DATABASE_URL`` when it is PostgreSQL, else a SQLite file)."""
    tmp = tmp_path_factory.mktemp("checklist")
    pg_url = os.environ.get("PASSGATE_TEST_DATABASE_URL", "")
    postgres = pg_url.startswith("postgres")
    url = pg_url if postgres else f"sqlite:///{tmp}/passgate.db"
    running = harness.start(tmp, url, postgres)
    yield running
    harness.stop(running)


@pytest.fixture
def client(live):
    return live.client()


@pytest.fixture
def admin(live):
    """A signed-in administrator (fresh account) and its browser."""
    account = live.account("admin", role="admin")
    browser = live.client()
    assert browser.login(account.username).status == 303
    return account, browser
