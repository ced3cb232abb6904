"""portal/throttle.py: exponential waits, free failures, hard lock, reset window."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from portal import settings, throttle
from portal.throttle import Rules, failure_fields, retry_after, wait_seconds

NOW = datetime(2026, 3, 1, 12, 0, 0)
RULES = Rules(free=5, base_seconds=30, max_seconds=900, hard_limit=50, reset_hours=12)


def state(failed_count=0, last_failed_at=None, locked_until=None, hard_locked=False):
    """A throttle state: the four attributes a User or LoginThrottle row has."""
    return SimpleNamespace(
        failed_count=failed_count,
        last_failed_at=last_failed_at,
        locked_until=locked_until,
        hard_locked=hard_locked,
    )


def fail(s, now, rules=RULES):
    """Apply one failure to ``s`` the way save_failure does, without a database."""
    for key, value in failure_fields(s, rules, now).items():
        setattr(s, key, value)
    return s


@pytest.mark.parametrize(
    "failures, seconds",
    [
        (0, 0),
        (1, 0),
        (4, 0),  # free failures
        (5, 30),
        (6, 60),
        (7, 120),
        (8, 240),
        (9, 480),  # doubling from the base
        (10, 900),
        (11, 900),
        (49, 900),  # capped at the maximum
    ],
)
def test_wait_doubles_from_base_and_is_capped(failures, seconds):
    assert wait_seconds(failures, RULES) == seconds


def test_wait_follows_other_rules():
    rules = Rules(free=3, base_seconds=2, max_seconds=10, hard_limit=20)
    assert [wait_seconds(n, rules) for n in range(2, 8)] == [0, 2, 4, 8, 10, 10]


def test_free_failures_never_lock():
    s = state()
    for n in range(1, 5):
        fail(s, NOW + timedelta(seconds=n))
        assert s.failed_count == n
        assert s.locked_until is None and not s.hard_locked
        assert retry_after(s, NOW + timedelta(seconds=n)) is None


def test_fifth_failure_starts_a_30_second_wait_then_doubles():
    s = state(failed_count=4, last_failed_at=NOW - timedelta(minutes=1))
    fail(s, NOW)
    assert s.failed_count == 5 and s.locked_until == NOW + timedelta(seconds=30)
    assert retry_after(s, NOW) == 30
    assert retry_after(s, NOW + timedelta(seconds=29, milliseconds=500)) == 1
    assert retry_after(s, NOW + timedelta(seconds=30)) is None  # the wait is over
    later = NOW + timedelta(seconds=31)
    fail(s, later)
    assert s.failed_count == 6 and s.locked_until == later + timedelta(seconds=60)
    fail(s, later + timedelta(seconds=61))
    assert s.locked_until == later + timedelta(seconds=61 + 120)


def test_hard_lock_at_the_limit_has_no_end():
    s = state(failed_count=48, last_failed_at=NOW - timedelta(minutes=1))
    fail(s, NOW)
    assert s.failed_count == 49 and not s.hard_locked
    fail(s, NOW + timedelta(hours=1))
    assert s.failed_count == 50 and s.hard_locked and s.locked_until is None
    assert retry_after(s, NOW + timedelta(days=365)) == 0  # 0 = locked until an admin acts


def test_hard_lock_wins_over_an_expired_wait():
    s = state(failed_count=50, hard_locked=True, locked_until=NOW - timedelta(hours=1))
    assert retry_after(s, NOW) == 0


def test_count_resets_after_the_reset_window():
    s = state(failed_count=40, last_failed_at=NOW - timedelta(hours=12))
    fail(s, NOW)
    assert s.failed_count == 41  # exactly 12 h: still counting
    s = state(failed_count=40, last_failed_at=NOW - timedelta(hours=12, seconds=1))
    fail(s, NOW)
    assert s.failed_count == 1 and s.locked_until is None


def test_reset_window_comes_from_the_rules():
    rules = Rules(reset_hours=1)
    s = state(failed_count=9, last_failed_at=NOW - timedelta(minutes=61))
    assert failure_fields(s, rules, NOW)["failed_count"] == 1


def test_clear_fields_unlock_everything():
    assert throttle.CLEAR == {
        "failed_count": 0,
        "last_failed_at": None,
        "locked_until": None,
        "hard_locked": False,
    }
    assert retry_after(state(**throttle.CLEAR), NOW) is None


def test_rules_current_read_organisation_settings_over_the_configuration(app):
    app.config["LOCKOUT_RESET_HOURS"] = 6
    with app.test_request_context():
        settings.save(
            {
                "LOCKOUT_FREE_FAILURES": "3",
                "LOCKOUT_BASE_SECONDS": 2,
                "LOCKOUT_MAX_SECONDS": 10,
                "LOCKOUT_HARD_LIMIT": 20,
            }
        )
        assert Rules.current() == Rules(3, 2, 10, 20, 6)
    del app.config["LOCKOUT_RESET_HOURS"]
    with app.test_request_context():
        assert Rules.current().reset_hours == 12


# ------------------------------------------------------- with the database (sign-in path)


def test_attempts_refused_during_a_wait_are_not_counted(ctx, make_user):
    from portal.auth.service import authenticate
    from portal.models import User, utcnow

    from ..helpers import PASSWORD

    user = make_user("alice")
    for _ in range(5):
        assert not authenticate("alice", "wrong password, again!").ok
    row = User.get_by_id(user.id)
    assert row.failed_count == 5 and row.locked_until > utcnow()
    until = row.locked_until
    for password in ("wrong password, again!", PASSWORD):  # even the right one is refused
        result = authenticate("alice", password)
        assert not result.ok and result.retry_after and result.retry_after <= 30
    row = User.get_by_id(user.id)
    assert row.failed_count == 5 and row.locked_until == until


def test_unknown_identifiers_are_throttled_alike(ctx):
    from portal.auth.service import authenticate
    from portal.models import LoginThrottle

    for _ in range(5):
        authenticate("Ghost", "whatever password 1")
    state_row = throttle.identifier_state("GHOST")  # same key whatever the case
    assert state_row.failed_count == 5 and state_row.locked_until is not None
    assert LoginThrottle.select().count() == 1
    assert "ghost" not in state_row.key  # only a digest of the identifier is stored


def test_clear_unlocks_a_user(ctx, make_user):
    from portal.models import User

    user = make_user("bob")
    User.update(failed_count=50, hard_locked=True).where(User.id == user.id).execute()
    row = User.get_by_id(user.id)
    throttle.clear(row)
    row = User.get_by_id(user.id)
    assert row.failed_count == 0 and not row.hard_locked and not row.is_locked


def test_hard_lock_survives_the_reset_window():
    s = state(failed_count=50, hard_locked=True, last_failed_at=NOW - timedelta(hours=13))
    fail(s, NOW)
    assert s.hard_locked
