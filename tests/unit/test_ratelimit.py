"""portal/ratelimit.py: the limits syntax without importing ``limits`` on the default path,
and what a server process imports (memory)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import limits
import pytest

from portal import ratelimit

SPECS = [
    "20 per minute;300 per day",
    "10 per 15 minutes",
    "5/second",
    "120 per minute",
    "1/2 hours, 3 per Day | 4 PER 1 month",
    "7 per 0 years",
    " 3 per hour ",
    "2/days",
    "100000 per minute",
    "1 per 10 seconds;50 per year",
]
BAD = [
    "",
    "per minute",
    "10 per fortnight",
    "10 per minutes per",
    "ten per minute",
    "10 per s",
    "10 minute",
    "5/second;",
    "5//second",
]


@pytest.mark.parametrize("spec", SPECS)
def test_parse_matches_limits(spec):
    ours = ratelimit.parse_many(spec)
    theirs = limits.parse_many(spec)
    assert len(ours) == len(theirs) > 0
    for mine, item in zip(ours, theirs, strict=True):
        assert (mine.amount, mine.multiples, mine.granularity, mine.expiry) == (
            item.amount,
            item.multiples,
            item.GRANULARITY.name,
            item.get_expiry(),
        )
        assert mine.key_for("login", "10.0.0.1") == item.key_for("login", "10.0.0.1")


@pytest.mark.parametrize("spec", BAD)
def test_invalid_strings_are_refused_like_limits(spec):
    with pytest.raises(ValueError):
        limits.parse_many(spec)
    with pytest.raises(ValueError):
        ratelimit.parse_many(spec)


def test_moving_window_on_the_sqlite_storage(tmp_path, monkeypatch):
    windows = ratelimit._SQLiteWindows(f"passgate+sqlite://{tmp_path}/rl.db")
    (limit,) = ratelimit.parse_many("3 per minute")
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    import portal.ratelimit_store as store

    monkeypatch.setattr(store.time, "time", lambda: now[0])
    assert [windows.hit(limit, "login", "a") for _ in range(4)] == [True, True, True, False]
    assert windows.hit(limit, "login", "b")  # another address has its own window
    assert windows.reset_at(limit, "login", "a") == 1060.0
    now[0] = 1060.5  # the first hits have left the window
    assert windows.hit(limit, "login", "a")


def test_a_server_process_does_not_import_what_the_default_setup_does_not_use(tmp_path):
    """Memory: ``limits`` (asyncio through limits.aio) , ``cryptography`` and ``ldap3`` cost every
    server process about 11 MB; on the default SQLite setup nothing imports them until
    a mail carrying a secret (or a bulk job) needs cryptography."""
    code = textwrap.dedent(f"""
        import sys
        from portal import create_app
        from portal.server import warm_up
        app = create_app({{"SECRET_KEY": "x" * 32, "DATABASE_URL": "sqlite:///{tmp_path}/db.db",
                           "DATABASE_POOL": True}}, instance_path="{tmp_path}")
        warm_up(app)
        loaded = sorted(m for m in ("limits", "cryptography", "asyncio", "ldap3") if m in sys.modules)
        print(",".join(loaded))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
