"""Settings screen: access, validation (422 keeping input), step-up, audit, immediate effect."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from portal.db import database
from portal.models import AuditEvent, ResetToken, Setting, User, UserSession, utcnow
from portal.policy import Policy, evaluate, rules

from ..helpers import PASSWORD, csrf_of, login, post_form, says
from ..settings_form import form_values, submit_settings

HX = {"HX-Request": "true"}


def _stale_session(app, username):
    """Pretend the last password entry was long ago (beyond the step-up window)."""
    with app.app_context():
        database.connect(reuse_if_open=True)
        user = User.get(User.username == username)
        UserSession.update(authenticated_at=utcnow() - timedelta(hours=1)).where(
            UserSession.user == user.id
        ).execute()
        database.close()


def _settings_rows(app) -> dict:
    with app.app_context():
        database.connect(reuse_if_open=True)
        rows = {row.key: json.loads(row.value) for row in Setting.select()}
        database.close()
    return rows


@pytest.fixture
def admin(client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    return client


def test_anonymous_user_and_manager_cannot_reach_settings(client, make_user):
    make_user("mgr", role="manager", team="A")
    make_user("alice", team="A")
    response = client.get("/admin/settings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for name in ("alice", "mgr"):
        login(client, name)
        token = csrf_of(client.get("/"))
        assert client.get("/admin/settings").status_code == 403
        assert client.get("/admin/settings", headers=HX).status_code == 403
        response = client.post("/admin/settings", data={"csrf_token": token, "org_name": "X"})
        assert response.status_code == 403  # refused before any step-up dialog
        client.post("/logout", data={"csrf_token": token})
    assert _settings_rows(client.application) == {}


def test_page_shows_current_values_and_every_field(admin):
    response = admin.get("/admin/settings")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<!doctype html>" in body
    values = form_values(body)
    assert values["org_name"] == "Passgate" and values["timezone"] == "UTC"
    assert values["password_min_length"] == "15" and values["reset_link_minutes"] == "30"
    assert values["reset_link_mode"] == "minutes" and values["default_language"] == "en"
    assert values["lockout_hard_limit"] == "50"
    assert '<datalist id="timezones">' in body and 'value="Europe/Paris"' in body
    fragment = admin.get("/admin/settings", headers=HX).get_data(as_text=True)
    assert "<!doctype html>" not in fragment and 'id="settings-form"' in fragment


def test_save_stores_audits_changed_keys_only_and_redirects(app, admin):
    response = submit_settings(
        admin,
        {
            "org_name": "Acme Care",
            "password_history": "10",
            "password_require_digit": "y",
            "reset_link_mode": "end-of-day",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/settings")
    assert says(admin.get("/admin/settings").get_data(as_text=True), "SETTINGS_SAVED")
    assert _settings_rows(app) == {
        "ORG_NAME": "Acme Care",
        "PASSWORD_HISTORY": 10,
        "PASSWORD_REQUIRE_DIGIT": True,
        "RESET_LINK_TTL": "end-of-day",
    }
    with app.app_context():
        database.connect(reuse_if_open=True)
        events = list(AuditEvent.select().where(AuditEvent.action == "settings.update"))
        database.close()
    assert len(events) == 1 and events[0].actor_name == "admin"
    assert json.loads(events[0].detail) == {
        "ORG_NAME": ["Passgate", "Acme Care"],
        "PASSWORD_HISTORY": [5, 10],
        "PASSWORD_REQUIRE_DIGIT": [False, True],
        "RESET_LINK_TTL": ["30", "end-of-day"],
    }
    # The form now shows the stored values.
    values = form_values(admin.get("/admin/settings").get_data(as_text=True))
    assert values["reset_link_mode"] == "end-of-day" and values["password_require_digit"] == "y"


def test_unchanged_form_saves_and_audits_nothing(app, admin):
    assert submit_settings(admin, {}).status_code == 303
    assert _settings_rows(app) == {}
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert not AuditEvent.select().where(AuditEvent.action == "settings.update").exists()
        database.close()


def test_htmx_save_answers_hx_redirect(admin):
    response = submit_settings(admin, {"org_name": "Acme"}, headers=HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].endswith("/admin/settings")


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"password_min_length": "5"}, "password_min_length"),
        ({"password_min_length": "129", "password_max_length": "128"}, "password_min_length"),
        ({"password_min_length": "twenty"}, "password_min_length"),
        ({"password_min_length": "20", "password_max_length": "16"}, "password_max_length"),
        ({"password_max_length": "129"}, "password_max_length"),
        ({"password_history": "25"}, "password_history"),
        ({"password_history": "-1"}, "password_history"),
        ({"password_max_age_days": ""}, "password_max_age_days"),
        ({"reset_link_minutes": "1441"}, "reset_link_minutes"),
        ({"reset_link_minutes": "4"}, "reset_link_minutes"),
        ({"invite_link_minutes": "10081"}, "invite_link_minutes"),
        ({"reset_link_mode": "forever"}, "reset_link_mode"),
        ({"temp_password_ttl_hours": "0"}, "temp_password_ttl_hours"),
        ({"temp_password_ttl_hours": "169"}, "temp_password_ttl_hours"),
        ({"lockout_free_failures": "21"}, "lockout_free_failures"),
        ({"lockout_base_seconds": "0"}, "lockout_base_seconds"),
        ({"lockout_base_seconds": "60", "lockout_max_seconds": "59"}, "lockout_max_seconds"),
        ({"lockout_max_seconds": "86401"}, "lockout_max_seconds"),
        ({"lockout_hard_limit": "101"}, "lockout_hard_limit"),
        ({"lockout_hard_limit": "4"}, "lockout_hard_limit"),
        ({"lockout_free_failures": "10", "lockout_hard_limit": "10"}, "lockout_hard_limit"),
        ({"reauth_minutes": "61"}, "reauth_minutes"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": "Europe"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"org_name": ""}, "org_name"),
        ({"org_name": "Acme\r\nBcc: x@evil.test"}, "org_name"),
        ({"org_name": "x" * 65}, "org_name"),
        ({"default_language": "de"}, "default_language"),
        ({"password_min_length": "1e3"}, "password_min_length"),
        ({"password_min_length": "٣٠"}, "password_min_length"),
    ],
)
def test_invalid_values_give_422_with_field_error_and_keep_input(app, admin, changes, field):
    response = submit_settings(admin, {**changes, "org_name": changes.get("org_name", "Kept Org")})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    if field == "reset_link_mode":
        block = body.split('id="reset_link_mode-0"', 1)[1].split("</fieldset>", 1)[0]
        assert re.search(r'<p class="field-error">\s*\S', block)
    else:
        assert re.search(rf'aria-invalid="true"[^>]*id="{field}"', body)
        assert re.search(rf'<p class="field-error" id="{field}-error">\s*\S', body)
        assert body.count('aria-invalid="true"') == 1  # only the faulty field
    if "org_name" not in changes:
        assert 'value="Kept Org"' in body
    for key, value in changes.items():
        if key not in ("reset_link_mode", "default_language", "org_name") and value:
            assert f'value="{value}"' in body
    assert _settings_rows(app) == {}


def test_end_of_day_ignores_the_minutes_box(app, admin):
    response = submit_settings(
        admin, {"invite_link_mode": "end-of-day", "invite_link_minutes": "zz"}
    )
    assert response.status_code == 303
    assert _settings_rows(app) == {"INVITE_LINK_TTL": "end-of-day"}


def test_weak_but_allowed_values_are_saved_with_a_warning(app, admin):
    response = submit_settings(admin, {"password_min_length": "8", "password_max_length": "20"})
    assert response.status_code == 303
    assert _settings_rows(app) == {"PASSWORD_MIN_LENGTH": 8, "PASSWORD_MAX_LENGTH": 20}
    body = admin.get("/admin/settings").get_data(as_text=True)
    assert says(body, "WEAK_MIN_LENGTH") and says(body, "WEAK_MAX_LENGTH")


def test_time_zone_free_text_is_accepted_when_real(app, admin):
    assert submit_settings(admin, {"timezone": "Asia/Kathmandu"}).status_code == 303
    assert _settings_rows(app)["TIMEZONE"] == "Asia/Kathmandu"


def test_save_needs_a_recent_password_entry(app, admin):
    _stale_session(app, "admin")
    page = admin.get("/admin/settings")
    data = {
        **form_values(page.get_data(as_text=True)),
        "org_name": "Stepped Up",
        "csrf_token": csrf_of(page),
    }
    first = admin.post("/admin/settings", data=data)
    assert first.status_code == 401 and 'name="reauth_password"' in first.get_data(as_text=True)
    assert _settings_rows(app) == {}
    wrong = admin.post("/admin/settings", data={**data, "reauth_password": "wrong password!"})
    assert wrong.status_code == 401 and _settings_rows(app) == {}
    right = admin.post("/admin/settings", data={**data, "reauth_password": PASSWORD})
    assert right.status_code == 303
    assert _settings_rows(app) == {"ORG_NAME": "Stepped Up"}


def test_htmx_422_puts_the_form_back_in_place(app, admin):
    response = submit_settings(admin, {"password_history": "99"}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#settings-form"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert "<!doctype html>" not in body and 'id="settings-form"' in body
    assert 'data-hx-swap-oob="delete:dialog.reauth-dialog"' in body


def test_csrf_is_required(app, admin):
    page = admin.get("/admin/settings")
    data = {**form_values(page.get_data(as_text=True)), "org_name": "No Token"}
    data.pop("csrf_token", None)
    assert admin.post("/admin/settings", data=data).status_code == 400
    assert _settings_rows(app) == {}


# ---------------------------------------------------------------- used immediately


def test_min_length_change_applies_to_the_next_password_change(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    assert submit_settings(client, {"password_min_length": "20"}).status_code == 303
    sixteen = "Zq8vmK2pL9xWbT4r"
    page = client.get("/password/change")
    twenty = Policy(min_length=20)  # the policy's own texts, not English sentences
    assert rules(twenty)[0].text in page.get_data(as_text=True)
    response = client.post(
        "/password/change",
        data={
            "current_password": PASSWORD,
            "password": sixteen,
            "confirm": sixteen,
            "csrf_token": csrf_of(page),
        },
    )
    assert response.status_code == 422
    assert evaluate(sixteen, twenty).errors[0] in response.get_data(as_text=True)
    # The same password was fine under the default minimum of 15.
    assert submit_settings(client, {"password_min_length": "15"}).status_code == 303
    page = client.get("/password/change")
    assert (
        client.post(
            "/password/change",
            data={
                "current_password": PASSWORD,
                "password": sixteen,
                "confirm": sixteen,
                "csrf_token": csrf_of(page),
            },
        ).status_code
        == 303
    )


def test_reset_link_lifetime_change_applies_to_the_next_link(app, client, make_user, outbox):
    make_user("admin", role="admin")
    make_user("alice")
    login(client, "admin")
    assert submit_settings(client, {"reset_link_minutes": "90"}).status_code == 303
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/"))})
    post_form(client, "/password/forgot", {"identifier": "alice"})
    outbox.deliver()
    with app.app_context():
        database.connect(reuse_if_open=True)
        token = ResetToken.select().order_by(ResetToken.id.desc()).first()
        database.close()
    assert token.expires_at - token.created_at == timedelta(minutes=90)


def test_org_name_change_shows_in_the_page_title(client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    assert submit_settings(client, {"org_name": "Crèche des Lilas"}).status_code == 303
    body = client.get("/").get_data(as_text=True)
    assert re.search(r"<title>[^<]*Crèche des Lilas</title>", body)
    assert "<title>" in client.get("/login").get_data(as_text=True)
