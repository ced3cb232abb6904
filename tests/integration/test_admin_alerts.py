"""Administrator alerts (issue 10, item 5), delivered through a real SMTP server: the other
administrators learn of a reset, a set password or a hard lock of an administrator; the
subject and the actor do not; the setting turns them off."""

from __future__ import annotations

import re

from portal import alerts, settings
from portal.audit_log.labels import ACTION_LABELS
from portal.db import database, write
from portal.models import AuditEvent, Role, User, utcnow

from ..helpers import PASSWORD, english, login, post, prepare_database, says
from ..settings_form import submit_settings

NEW_PASSWORD = "quiet meadow copper 4471 kite"


def smtp_app(make_app, smtp_server):
    app = make_app(MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False)
    prepare_database(app)
    return app


def staff(app):
    """ada (admin, acts), bea (admin, the subject), chloe (admin, French), dan (disabled
    admin), mia (manager), uma (user)."""
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        out = {}
        for name, role, lang in (
            ("ada", "admin", None),
            ("bea", "admin", None),
            ("chloe", "admin", "fr"),
            ("dan", "admin", None),
            ("mia", "manager", None),
            ("uma", "user", None),
        ):
            out[name], _ = create_user(
                name,
                role=role,
                email=f"{name}@example.test",
                password=PASSWORD,
                language=lang,
                first_name=name.title(),
            )
        User.update(disabled=True).where(User.id == out["dan"].id).execute()
        database.close()
    return out


def deliver(app) -> None:
    from portal.worker import run_once

    with app.app_context():
        database.connect(reuse_if_open=True)
        run_once()
        database.close()


def alerts_to(smtp_server) -> dict[str, str]:
    """{recipient: text} of the alert mails received."""
    out = {}
    for rcpts, msg in smtp_server.messages:
        if "alert" in msg["Subject"] or "alerte" in msg["Subject"]:
            out[rcpts[0]] = smtp_server.text_of(msg)
    return out


def test_reset_of_an_admin_alerts_the_other_admins_only(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    client = app.test_client()
    login(client, "ada")
    r = post(client, f"/admin/users/{p['bea'].id}/reset", {"reason": "lost"}, htmx=True)
    assert r.status_code == 200
    deliver(app)
    got = alerts_to(smtp_server)
    # Not the subject (bea), not the actor (ada), not a disabled admin, not a manager.
    assert sorted(got) == ["chloe@example.test"]
    text = got["chloe@example.test"]
    assert "Bonjour Chloe" in text  # each administrator's own language
    assert "bea" in text and "ada" in text and "réinitialisé" in text
    assert "127.0.0.1" in text
    # The subject still gets their own notice, not an alert.
    assert any(rcpts == ["bea@example.test"] for rcpts, _msg in smtp_server.messages)
    with app.app_context():
        database.connect(reuse_if_open=True)
        event = AuditEvent.get(AuditEvent.action == "admin.alert")
        assert event.target_id == p["bea"].id and event.actor_id == p["ada"].id
        assert '"admin_password_reset"' in event.detail and '"recipients": 1' in event.detail
    # The audit log says it in words.
    log = client.get("/admin/audit").get_data(as_text=True)
    assert english(app, ACTION_LABELS["admin.alert"]) in log and "Recipients: 1" in log


def test_set_password_of_an_admin_alerts_in_english(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    client = app.test_client()
    login(client, "chloe")
    r = post(
        client,
        f"/admin/users/{p['bea'].id}/password",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "must_change": "y"},
        htmx=True,
    )
    assert r.status_code == 200
    deliver(app)
    got = alerts_to(smtp_server)
    assert sorted(got) == ["ada@example.test"]
    assert says(got["ada@example.test"], "ALERT_ADMIN_PASSWORD_SET", actor="chloe")
    assert says(got["ada@example.test"], "GREETING", name="Ada")


def test_reset_of_a_plain_user_alerts_nobody(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    client = app.test_client()
    login(client, "ada")
    assert post(client, f"/admin/users/{p['uma'].id}/reset", htmx=True).status_code == 200
    deliver(app)
    assert alerts_to(smtp_server) == {}
    assert smtp_server.messages  # uma's own notice did go out


def test_bulk_reset_alerts_for_the_admins_in_it(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    client = app.test_client()
    login(client, "ada")
    ids = [str(p["bea"].id), str(p["uma"].id)]
    r = post(client, "/admin/users/bulk/reset", {"ids": ids, "confirm_count": "2"}, htmx=True)
    assert r.status_code == 200
    deliver(app)
    got = alerts_to(smtp_server)
    assert sorted(got) == ["chloe@example.test"]  # one alert: bea is an admin, uma is not
    assert "bea" in got["chloe@example.test"]


def test_hard_lock_of_an_admin_alerts_the_others(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(failed_count=49, last_failed_at=utcnow()).where(
            User.id == p["bea"].id
        ).execute()
        database.close()
    r = login(app.test_client(), "bea", "wrong password entirely 123")
    assert r.status_code in (401, 429)
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.get_by_id(p["bea"].id).hard_locked
        database.close()
    deliver(app)
    got = alerts_to(smtp_server)
    assert sorted(got) == ["ada@example.test", "chloe@example.test"]
    assert says(got["ada@example.test"], "ALERT_ADMIN_LOCKED")


def test_setting_off_sends_none(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    with app.app_context():
        database.connect(reuse_if_open=True)
        with write():
            settings.save({"ADMIN_ALERTS": False})
        database.close()
    client = app.test_client()
    login(client, "ada")
    assert post(client, f"/admin/users/{p['bea'].id}/reset", htmx=True).status_code == 200
    deliver(app)
    assert alerts_to(smtp_server) == {}
    assert smtp_server.messages  # bea's own notice still goes out


def test_settings_page_turns_alerts_off(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    staff(app)
    client = app.test_client()
    login(client, "ada")
    page = client.get("/admin/settings")
    text = page.get_data(as_text=True)
    assert re.search(r'<input checked[^>]*name="admin_alerts"', text)  # on by default
    r = submit_settings(client, {"admin_alerts": None})  # unticked
    assert r.status_code == 303
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert settings.current()["ADMIN_ALERTS"] is False
        event = AuditEvent.select().where(AuditEvent.action == "settings.update").get()
        assert "ADMIN_ALERTS" in event.detail


def test_notify_admins_derives_admins_from_role_rows(make_app, smtp_server):
    app = smtp_app(make_app, smtp_server)
    p = staff(app)
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        Role.create(name="guardian", permissions="users.read users.update", scope="all", rank=90)
        from portal.accounts import create_user

        gil, _ = create_user("gil", email="gil@example.test", password=PASSWORD)
        User.update(role="guardian").where(User.id == gil.id).execute()
        pending, _ = create_user("pat", role="admin", email="pat@example.test")  # invited
        with write():
            # "This wasn't me" concerns any account; the actor is nobody.
            assert (
                alerts.notify_admins("not_me_lock", User.get_by_id(p["uma"].id), ip="203.0.113.9")
                == 4
            )
            # A non-administrator subject of an admin_* event alerts nobody.
            assert alerts.notify_admins("admin_locked", User.get_by_id(p["uma"].id)) == 0
        database.close()
    deliver(app)
    got = alerts_to(smtp_server)
    # Every enabled administrator with a password, whatever their role is called; not an
    # invited one (pat), a disabled one (dan), a manager (mia) or the subject (uma).
    assert sorted(got) == [
        "ada@example.test",
        "bea@example.test",
        "chloe@example.test",
        "gil@example.test",
    ]
    assert (
        says(got["gil@example.test"], "ALERT_NOT_ME") and "203.0.113.9" in got["gil@example.test"]
    )
    assert pending.password_hash is None
