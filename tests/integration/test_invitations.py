"""Invitation care (issue 10, item 6): age and expiry in the admin list and user page, the
one-click re-send of an expired invitation, and one reminder before expiry, sent by the
worker through a real SMTP server, once even with several workers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal import invitations, settings
from portal.db import database, write
from portal.models import AuditEvent, OutboxMail, ResetToken, User, utcnow

from ..helpers import (
    HX,
    PASSWORD,
    body,
    login,
    message_pattern,
    post,
    post_form,
    prepare_database,
    says,
)
from ..settings_form import submit_settings

LINK_RE = re.compile(r"http://localhost(/password/reset/[A-Za-z0-9_\-]+)")


def age_invitation(app, user, *, sent_ago: timedelta, expires_in: timedelta):
    with app.app_context():
        database.connect(reuse_if_open=True)
        now = utcnow()
        (
            ResetToken.update(created_at=now - sent_ago, expires_at=now + expires_in)
            .where((ResetToken.user == user.id) & ResetToken.used_at.is_null())
            .execute()
        )
        database.close()


def pending_tokens(app, user) -> list[ResetToken]:
    with app.app_context():
        database.connect(reuse_if_open=True)
        rows = list(
            ResetToken.select().where((ResetToken.user == user.id) & ResetToken.used_at.is_null())
        )
        database.close()
        return rows


def worker_pass(app, monkeypatch):
    from portal import worker

    monkeypatch.setattr(invitations, "_last_run", 0.0)  # the step is due
    with app.app_context():
        database.connect(reuse_if_open=True)
        counts = worker.run_once()
        database.close()
    return counts


def test_list_and_detail_show_age_and_expiry(app, client, make_user):
    make_user("admin", role="admin")
    ivy = make_user("ivy", password=None, first_name="Ivy")
    make_user("pam")
    age_invitation(
        app, ivy, sent_ago=timedelta(days=1, minutes=5), expires_in=timedelta(days=2, minutes=5)
    )
    login(client, "admin")
    text = body(client.get("/admin/users"))
    notes = re.findall(r"<span class=\"status-note\" data-invitation>([^<]+)<", text)
    age = message_pattern("INVITATION_AGE", sent="1 day ago", when="in 2 days")
    assert len(notes) == 1 and age.fullmatch(notes[0])  # ivy only: pam has a password
    assert "data-resend-expired" not in text  # still pending: the menu's re-send is enough
    detail = body(client.get(f"/admin/users/{ivy.id}"))
    assert says(detail, "INVITATION_AGE", sent="1 day ago", when="in 2 days")
    client.get("/?lang=fr")
    assert "Envoyée il y a 1 jour, expire dans 2 jours" in body(client.get("/admin/users"))


def test_expired_invitation_is_resent_in_one_click(make_app, smtp_server):
    app = make_app(MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False)
    prepare_database(app)
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        create_user("admin", role="admin", email="admin@example.test", password=PASSWORD)
        ivy, _ = create_user("ivy", email="ivy@example.test", first_name="Ivy")
        database.close()
    age_invitation(
        app, ivy, sent_ago=timedelta(days=3, hours=3), expires_in=-timedelta(hours=3, minutes=5)
    )
    client = app.test_client()
    login(client, "admin")
    text = body(client.get("/admin/users"))
    row = re.search(rf'<tr id="user-row-{ivy.id}">.*?</tr>', text, re.S).group(0)
    assert says(row, "INVITATION_EXPIRED", when="3 hours ago")
    button = re.search(r"<button[^>]*data-resend-expired[^>]*>", row).group(0)
    assert f'hx-post="/admin/users/{ivy.id}/resend"' in button
    detail = body(client.get(f"/admin/users/{ivy.id}"))
    assert says(detail, "INVITATION_EXPIRED", when="3 hours ago")
    assert f'formaction="/admin/users/{ivy.id}/resend"' in detail  # the page's one click too
    # One click (htmx) on the row's button.
    r = post(client, f"/admin/users/{ivy.id}/resend", htmx=True)
    assert r.status_code == 200 and "users-changed" in r.headers["HX-Trigger"]
    assert says(body(client.get("/admin/users")), "INVITATION_AGE", when="in 3 days")
    assert "data-resend-expired" not in body(client.get("/admin/users"))
    # Without JavaScript, from the user's page: back to it, the invitation pending again.
    age_invitation(app, ivy, sent_ago=timedelta(days=4), expires_in=-timedelta(hours=1))
    r = post(client, f"/admin/users/{ivy.id}/resend")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/admin/users/{ivy.id}")
    assert says(body(client.get(f"/admin/users/{ivy.id}")), "INVITATION_AGE", when="in 3 days")
    from portal.worker import run_once

    with app.app_context():
        database.connect(reuse_if_open=True)
        run_once()
        database.close()
    mails = [m for rcpts, m in smtp_server.messages if rcpts == ["ivy@example.test"]]
    link = LINK_RE.search(smtp_server.text_of(mails[-1])).group(1)
    invitee = app.test_client()
    invitee.get(link)
    new = "ocean breeze kettle 2042"
    r = post_form(invitee, "/password/reset", {"password": new, "confirm": new})
    assert r.status_code == 303
    assert login(app.test_client(), "ivy", new).status_code == 303


def test_one_reminder_before_expiry_through_real_smtp(make_app, smtp_server, monkeypatch):
    app = make_app(MAIL_PORT=smtp_server.port, MAIL_SUPPRESS_SEND=False)
    prepare_database(app)
    from portal.accounts import create_user

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        ivy, _ = create_user("ivy", email="ivy@example.test", first_name="Ivy", language="fr")
        database.close()
    worker_pass(app, monkeypatch)  # the invitation itself goes out; no reminder yet
    assert len(smtp_server.messages) == 1
    first_link = LINK_RE.search(smtp_server.text_of(smtp_server.messages[0][1])).group(1)
    # 20 hours before expiry (default: remind 24 hours before).
    age_invitation(app, ivy, sent_ago=timedelta(hours=52), expires_in=timedelta(hours=20))
    (expiry,) = [t.expires_at for t in pending_tokens(app, ivy)]
    counts = worker_pass(app, monkeypatch)
    assert counts["reminders"] == 1
    (rcpts, msg) = smtp_server.messages[-1]
    assert rcpts == ["ivy@example.test"] and len(smtp_server.messages) == 2
    assert "Rappel" in msg["Subject"]
    text = smtp_server.text_of(msg)
    assert "Bonjour Ivy" in text and "remplace" in text
    link = LINK_RE.search(text).group(1)
    assert link != first_link
    # Same expiry, one live link (the first one is replaced), marked as reminded.
    (token,) = pending_tokens(app, ivy)
    assert token.expires_at == expiry and token.reminded_at is not None
    # Sent once: later passes send nothing more.
    assert worker_pass(app, monkeypatch)["reminders"] == 0
    assert len(smtp_server.messages) == 2
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert AuditEvent.select().where(AuditEvent.action == "invite.reminder").count() == 1
        database.close()
    # The old link no longer works; the reminder's does.
    old = app.test_client()
    assert old.get(first_link, follow_redirects=True).status_code == 404
    invitee = app.test_client()
    invitee.get(link)
    new = "ocean breeze kettle 2042"
    assert (
        post_form(invitee, "/password/reset", {"password": new, "confirm": new}).status_code == 303
    )


def test_competing_workers_send_one_reminder(app, make_user):
    ivy = make_user("ivy", password=None)
    age_invitation(app, ivy, sent_ago=timedelta(hours=60), expires_in=timedelta(hours=2))
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        seen_by_a = invitations.candidates()
        seen_by_b = invitations.candidates()  # both workers found the same invitation
        assert seen_by_a == seen_by_b and len(seen_by_a) == 1
        assert [invitations.remind(i) for i in seen_by_a] == [True]
        assert [invitations.remind(i) for i in seen_by_b] == [False]
        assert OutboxMail.select().where(OutboxMail.kind == "invite_reminder").count() == 1
        database.close()


@pytest.mark.parametrize("case", ["off", "short", "disabled", "has_password", "not_yet"])
def test_no_reminder_when_not_due(app, make_user, case):
    ivy = make_user("ivy", password=None)
    sent, left = timedelta(hours=60), timedelta(hours=2)
    if case == "short":
        sent = timedelta(hours=8)  # lived 10 hours in all: shorter than the 24-hour lead
    if case == "not_yet":
        left = timedelta(hours=30)
    age_invitation(app, ivy, sent_ago=sent, expires_in=left)
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        with write():
            if case == "off":
                settings.save({"INVITE_REMINDER_HOURS": 0})
            if case == "disabled":
                User.update(disabled=True).where(User.id == ivy.id).execute()
            if case == "has_password":
                User.update(password_hash="x").where(User.id == ivy.id).execute()
        assert invitations.candidates() == []
        assert invitations.send_reminders(force=True) == 0
        database.close()


def test_reminder_setting_on_the_settings_page(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    page = body(client.get("/admin/settings"))
    assert re.search(
        r'name="invite_reminder_hours"[^>]*value="24"|value="24"[^>]*name="invite_reminder_hours"',
        page,
    )
    r = submit_settings(client, {"invite_reminder_hours": "200"}, headers=HX)
    assert r.status_code == 422 and says(body(r), "NUMBER_RANGE", low=0, high=168)
    assert 'value="200"' in body(r)
    assert submit_settings(client, {"invite_reminder_hours": "0"}).status_code == 303
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        assert settings.current()["INVITE_REMINDER_HOURS"] == 0
        database.close()
