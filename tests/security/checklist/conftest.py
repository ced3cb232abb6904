"""One live Passgate for the whole checklist package (see ``live.py``)."""

from __future__ import annotations

import pytest

from ...helpers import PG_URL
from . import live as harness


@pytest.fixture(scope="package")
def live(tmp_path_factory):
    """``passgate serve`` processes on loopback, an SMTP sink and a seeding app, on the leg's
    database (on the PostgreSQL leg this test process's database, ``tests.helpers.PG_URL``;
    else a SQLite file)."""
    tmp = tmp_path_factory.mktemp("checklist")
    postgres = PG_URL.startswith("postgres")
    url = PG_URL if postgres else f"sqlite:///{tmp}/passgate.db"
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
