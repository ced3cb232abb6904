"""portal/settings.py: effective settings, saving, link lifetimes (minutes or end of day)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import g

from portal import settings
from portal.db import database
from portal.models import Setting


def test_defaults_come_from_the_configuration(ctx):
    values = settings.current()
    assert set(values) == set(settings.EDITABLE)
    assert values["ORG_NAME"] == "Passgate" and values["PASSWORD_MIN_LENGTH"] == 15
    assert values["RESET_LINK_TTL"] == "30"


def test_save_and_current_round_trip_with_types(ctx):
    changes = {
        "ORG_NAME": "Crèche des Lilas",
        "PASSWORD_MIN_LENGTH": 20,
        "PASSWORD_REQUIRE_UPPER": True,
        "RESET_LINK_TTL": "end-of-day",
        "TIMEZONE": "Europe/Paris",
    }
    settings.current()  # cached for this request…
    settings.save(changes)
    values = settings.current()  # …and the cache is dropped by save()
    for key, value in changes.items():
        assert values[key] == value and type(values[key]) is type(value)
    assert values["PASSWORD_MAX_LENGTH"] == 128  # untouched keys keep their defaults
    settings.save({"PASSWORD_MIN_LENGTH": 16})  # an update, not a second row
    assert Setting.select().where(Setting.key == "PASSWORD_MIN_LENGTH").count() == 1
    assert settings.current()["PASSWORD_MIN_LENGTH"] == 16


def test_saved_settings_are_seen_by_another_request(app, ctx):
    settings.save({"ORG_NAME": "Acme"})
    with app.test_request_context():
        assert "passgate_settings" not in g
        assert settings.current()["ORG_NAME"] == "Acme"


def test_a_change_written_elsewhere_is_seen_by_the_next_request(app, ctx):
    """Another process or instance writes the row (not through this process's save()):
    the next request sees it, and a value set back is seen too (no stale decoded copy)."""
    assert settings.current()["ORG_NAME"] == "Passgate"
    for name in ("Acme", "Globex", "Acme"):
        database.execute_sql('DELETE FROM "setting" WHERE "key" = \'ORG_NAME\'')
        Setting.insert(key="ORG_NAME", value=f'"{name}"', updated_at=datetime(2026, 1, 1)).execute()
        with app.app_context(), app.test_request_context():  # a fresh g: a new request
            assert settings.current()["ORG_NAME"] == name
    database.execute_sql('DELETE FROM "setting"')
    with app.app_context(), app.test_request_context():
        assert settings.current()["ORG_NAME"] == "Passgate"


def test_save_refuses_unknown_keys(ctx):
    with pytest.raises(KeyError):
        settings.save({"SECRET_KEY": "x"})
    assert not Setting.select().where(Setting.key == "SECRET_KEY").exists()


def test_unknown_time_zone_falls_back_to_utc(ctx):
    settings.save({"TIMEZONE": "Mars/Olympus"})
    assert settings.timezone().key == "UTC"


@pytest.mark.parametrize("kind, key", [("reset", "RESET_LINK_TTL"), ("invite", "INVITE_LINK_TTL")])
def test_link_expiry_in_minutes(ctx, kind, key):
    now = datetime(2026, 5, 4, 10, 0)
    assert settings.link_expiry(kind, now) == now + timedelta(minutes=int(settings.current()[key]))
    settings.save({key: "45"})
    assert settings.link_expiry(kind, now) == now + timedelta(minutes=45)


def test_end_of_day_in_utc(ctx):
    settings.save({"RESET_LINK_TTL": "end-of-day"})
    assert settings.link_expiry("reset", datetime(2026, 5, 4, 10, 0)) == datetime(2026, 5, 5, 0, 0)
    assert settings.link_expiry("reset", datetime(2026, 5, 4, 0, 0)) == datetime(2026, 5, 5, 0, 0)


@pytest.mark.parametrize(
    "now_utc, expected_utc",
    [
        # Winter (CET, UTC+1): midnight in Paris is 23:00 UTC the day before.
        (datetime(2026, 3, 27, 12, 0), datetime(2026, 3, 27, 23, 0)),
        # 23:30 UTC on the 28th is already 00:30 on the 29th in Paris: the link lasts until
        # midnight at the end of the 29th, a 23-hour day (clocks go forward at 02:00) -> CEST.
        (datetime(2026, 3, 28, 23, 30), datetime(2026, 3, 29, 22, 0)),
        (
            datetime(2026, 3, 29, 0, 30),
            datetime(2026, 3, 29, 22, 0),
        ),  # 01:30 CET, before the change
        (datetime(2026, 3, 29, 12, 0), datetime(2026, 3, 29, 22, 0)),  # 14:00 CEST, after it
        # Autumn: 25 October 2026 is a 25-hour day (clocks go back at 03:00 CEST).
        (datetime(2026, 10, 24, 23, 0), datetime(2026, 10, 25, 23, 0)),  # 01:00 CEST on the 25th
        (datetime(2026, 10, 25, 12, 0), datetime(2026, 10, 25, 23, 0)),
        (datetime(2026, 10, 25, 22, 59), datetime(2026, 10, 25, 23, 0)),
    ],
)
def test_end_of_day_in_paris_across_dst(ctx, now_utc, expected_utc):
    settings.save({"RESET_LINK_TTL": "end-of-day", "TIMEZONE": "Europe/Paris"})
    assert settings.link_expiry("reset", now_utc) == expected_utc
    assert settings.link_expiry("invite", now_utc) == now_utc + timedelta(
        minutes=int(settings.current()["INVITE_LINK_TTL"])
    )


def test_end_of_day_spring_forward_day_is_23_hours(ctx):
    settings.save({"INVITE_LINK_TTL": "end-of-day", "TIMEZONE": "Europe/Paris"})
    start = datetime(2026, 3, 28, 23, 0)  # local midnight starting the 29th
    assert settings.link_expiry("invite", start) - start == timedelta(hours=23)
    start = datetime(2026, 10, 24, 22, 0)  # local midnight starting the 25th
    assert settings.link_expiry("invite", start) - start == timedelta(hours=25)


def test_temp_password_expiry_follows_the_setting(ctx):
    now = datetime(2026, 1, 1, 8, 0)
    assert settings.temp_password_expiry(now) == now + timedelta(hours=48)
    settings.save({"TEMP_PASSWORD_TTL_HOURS": 6})
    assert settings.temp_password_expiry(now) == now + timedelta(hours=6)


def test_outside_a_request_current_reads_the_database(app):
    with app.app_context():
        database.connect(reuse_if_open=True)
        settings.save({"REAUTH_MINUTES": 5})
        assert settings.current()["REAUTH_MINUTES"] == 5
        database.close()
