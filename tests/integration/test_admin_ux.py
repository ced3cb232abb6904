"""Issue 8, server side: nothing cut silently, Waiting told apart from Locked, the audit log
and the CSV files in words people read, the navigation marks where you are."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

from portal.db import database
from portal.models import ROLE_LABELS, AuditEvent, User, utcnow
from portal.policy import _match_text
from portal.users.labels import PROVIDER_LABELS, STATUS_LABELS

from ..helpers import HX, body, english, login, people, post, says


def confirm_import(client, preview):
    """Accept the listed new teams: post back the form of the preview page."""
    import html

    page = body(preview)
    return client.post(
        "/admin/users/import",
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
            "teams_ok": "1",
            "csv_text": html.unescape(re.search(r'name="csv_text" value="([^"]*)"', page).group(1)),
        },
    )


def _set(app, user_id, **fields):
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(**fields).where(User.id == user_id).execute()


def test_over_long_input_is_refused_with_a_message_never_cut(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert "maxlength" not in form  # a browser would cut a paste silently
    long_name = "N" * 500
    long_email = "e" * 250 + "@example.test"
    r = post(
        client,
        "/admin/users/new",
        {"username": "newbie", "first_name": long_name, "email": long_email, "team": ""},
        htmx=True,
    )
    assert r.status_code == 422
    text = body(r)
    assert says(text, "TOO_LONG", max=64, length=500)
    assert says(text, "TOO_LONG", max=254, length=263)
    assert long_name in text and long_email in text  # kept, whole
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.get_or_none(User.username == "newbie") is None
    # The same on edit.
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/edit",
        {"username": "alice", "last_name": "L" * 65, "team": str(p["alice"].team_id)},
        htmx=True,
    )
    assert r.status_code == 422 and says(body(r), "TOO_LONG", length=65)


def test_bulk_reason_too_long_is_refused(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    reason = "r" * 501
    r = post(
        client,
        "/admin/users/bulk/reset",
        {"ids": str(p["alice"].id), "reason": reason, "confirm_count": "1"},
        htmx=True,
    )
    assert r.status_code == 422
    assert says(body(r), "TOO_LONG", length=501) and reason in body(r)
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert not User.get_by_id(p["alice"].id).must_change


def test_list_tells_waiting_from_locked(app, client, make_user):
    p = people(make_user)
    _set(app, p["alice"].id, locked_until=utcnow() + timedelta(minutes=1), failed_count=5)
    _set(app, p["carol"].id, hard_locked=True, failed_count=50)
    login(client, "admin")
    text = body(client.get("/admin/users", headers=HX))
    alice = text[text.index('id="user-row-%d"' % p["alice"].id) :]
    alice = alice[: alice.index("</tr>")]
    carol = text[text.index('id="user-row-%d"' % p["carol"].id) :]
    carol = carol[: carol.index("</tr>")]
    paused, locked = english(app, STATUS_LABELS["waiting"]), english(app, STATUS_LABELS["locked"])
    assert paused in alice and "until " in alice and f">{locked}<" not in alice
    assert f">{locked}<" in carol and paused not in carol
    # Each is its own filter.
    waiting = body(client.get("/admin/users?status=waiting", headers=HX))
    assert ">alice</a>" in waiting and ">carol</a>" not in waiting
    locked = body(client.get("/admin/users?status=locked", headers=HX))
    assert ">carol</a>" in locked and ">alice</a>" not in locked


def test_nav_marks_the_current_page_and_sign_out_is_a_nav_item(client, make_user):
    people(make_user)
    login(client, "admin")
    text = body(client.get("/admin/users"))
    current = re.findall(r'<a href="([^"]+)" aria-current="page">', text)
    assert current == ["/admin/users"]
    nav_button = re.search(r'class="nav-button">([^<]+)<', text)
    assert nav_button and says(nav_button.group(0), "SIGN_OUT")
    assert 'class="skip-link" href="#main"' in text
    home = body(client.get("/"))
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', home) == ["/"]
    assert '<dl class="facts">' in home


def test_audit_detail_in_words_and_one_time_column(app, client, make_user):
    p = people(make_user)
    with app.app_context():
        database.connect(reuse_if_open=True)
        AuditEvent.create(
            action="mail.sent",
            target=p["alice"].id,
            target_name="alice",
            detail=json.dumps({"kind": "password_changed", "mail_id": 32}),
        )
        AuditEvent.create(
            action="login.failure",
            outcome="failure",
            target=p["bob"].id,
            target_name="bob",
            detail=json.dumps({"reason": "bad_password"}),
        )
        AuditEvent.create(
            action="user.update",
            target=p["carol"].id,
            target_name="carol",
            detail=json.dumps({"changed": {"role": ["user", "manager"]}}),
        )
    login(client, "admin")
    text = body(client.get("/admin/audit"))
    assert "kind: password_changed" not in text and "mail_id" not in text
    assert "Email: password changed notice; Email no.: 32" in text
    assert "Reason: wrong password" in text
    assert "Changed: Role (user → manager)" in text
    french = body(client.get("/admin/audit?lang=fr"))
    assert "Motif : mot de passe incorrect" in french
    csv_text = client.get("/admin/audit/export.csv?lang=en").get_data(as_text=True).lstrip("\ufeff")
    header = next(csv.reader(io.StringIO(csv_text)))
    assert header.count("Time (UTC)") == 1, header
    assert len(header) == len(set(header)), header


def test_user_csv_has_labels_and_iso_dates(app, client, make_user):
    p = people(make_user)
    when = utcnow().replace(microsecond=0) - timedelta(days=2)
    _set(app, p["alice"].id, last_login_at=when, must_change=True)
    login(client, "admin")
    text = client.get("/admin/users/export.csv").get_data(as_text=True).lstrip("\ufeff")
    assert "\u202f" not in text
    rows = list(csv.reader(io.StringIO(text)))
    header, data = rows[0], rows[1:]
    alice = next(r for r in data if r[1] == "alice")
    assert alice[header.index("provider")] == english(app, PROVIDER_LABELS["identity"])
    assert alice[header.index("role")] == english(app, ROLE_LABELS["user"])
    assert alice[header.index("status")] == english(app, STATUS_LABELS["must_change"])
    assert alice[header.index("last_sign_in")] == when.strftime("%Y-%m-%d %H:%M")
    assert not any(r[header.index("provider")] == "identity" for r in data)
    french = client.get("/admin/users/export.csv?lang=fr").get_data(as_text=True)
    assert "Utilisateur" in french and "must_change" not in french


def test_import_page_offers_a_sample_csv_that_imports(app, client, make_user):
    people(make_user)
    login(client, "admin")
    page = body(client.get("/admin/users/import"))
    assert 'href="/admin/users/import/sample.csv"' in page
    sample = client.get("/admin/users/import/sample.csv")
    assert sample.status_code == 200 and sample.mimetype == "text/csv"
    text = sample.get_data(as_text=True)
    assert text.startswith("\ufeffusername,email,first_name,last_name,role,team,language")
    from ..helpers import upload

    preview = upload(client, text.lstrip("\ufeff"))
    assert says(body(preview), "IMPORT_NEW_TEAMS", num=2)  # Front Desk, Warehouse
    imported = confirm_import(client, preview)
    assert imported.status_code == 200 and says(body(imported), "USERS_IMPORTED", num=3)
    other = app.test_client()
    login(other, "alice")
    assert other.get("/admin/users/import/sample.csv").status_code == 403


def test_overview_counts_links_and_picture_within_scope(app, client, make_user):
    from portal.models import OutboxMail

    p = people(make_user)
    _set(app, p["alice"].id, hard_locked=True)
    _set(app, p["bob"].id, hard_locked=True)  # team B: outside mgrA's reach
    with app.app_context():
        database.connect(reuse_if_open=True)
        now = utcnow()
        for days_ago, target in ((0, p["alice"]), (0, p["alice"]), (3, p["bob"]), (40, p["alice"])):
            AuditEvent.create(
                action="login.failure",
                outcome="failure",
                target=target.id,
                target_name=target.username,
                team_id=target.team_id,
                created_at=now - timedelta(days=days_ago),
            )
        OutboxMail.create(
            kind="reset",
            user=p["carol"].id,
            recipient="carol@example.test",
            subject="x",
            status="failed",
            last_error="550 no such user",
        )
        OutboxMail.create(
            kind="reset",
            user=p["bob"].id,
            recipient="bob@example.test",
            subject="x",
            status="failed",
            last_error="550 no such user",
        )
    login(client, "admin")
    text = body(client.get("/admin/overview"))
    assert 'aria-current="page"' in text and ">Overview<" in text
    locked = re.search(r'href="/admin/users\?status=locked"><span class="stat-number">(\d+)<', text)
    assert locked and locked.group(1) == "2"
    assert 'href="/admin/users?status=never"' in text
    # The picture: SVG drawn on the server, no style attribute, numbers as text too.
    assert "<svg" in text and "style=" not in text and "<script" not in text.split("</head>")[1]
    assert says(text, "IN_30_DAYS", num=3)  # failures: the 40-day-old one is left out
    assert "/admin/audit?action=login.failure&amp;date_from=" in text
    assert says(text, "MAIL_FAILURES", num=2)
    assert '<th scope="row">' in text  # numbers by day, as a table
    # A manager sees their team only: one lock, one failed mail, two failures.
    other = app.test_client()
    login(other, "mgrA")
    text = body(other.get("/admin/overview"))
    locked = re.search(r'href="/admin/users\?status=locked"><span class="stat-number">(\d+)<', text)
    assert locked and locked.group(1) == "1"
    assert says(text, "MAIL_FAILURES", num=1) and "bob@example.test" not in text
    assert says(text, "IN_30_DAYS", num=2)
    # The never-signed-in filter the overview links to.
    never = body(other.get("/admin/users?status=never", headers=HX))
    assert ">alice</a>" in never
    # A plain user has no overview.
    plain = app.test_client()
    login(plain, "carol")
    assert plain.get("/admin/overview").status_code == 403


def test_resend_invitation_voids_the_pending_one(app, client, make_user, outbox):
    from portal.models import ResetToken

    p = people(make_user)
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        from portal.accounts import create_user

        invited, _ = create_user("ivy", email="ivy@example.test", team="A")
    outbox.deliver()
    before = len(outbox)
    with app.app_context():
        database.connect(reuse_if_open=True)
        first = ResetToken.get(ResetToken.user == invited.id)
        assert first.purpose == "invite" and first.used_at is None
    login(client, "admin")
    listing = body(client.get("/admin/users", headers=HX))
    assert f"/admin/users/{invited.id}/resend" in listing and says(listing, "RESEND_INVITATION")
    assert f"/admin/users/{p['alice'].id}/resend" in listing  # has an email and a password
    r = post(client, f"/admin/users/{invited.id}/resend", htmx=True)
    assert r.status_code == 200 and "users-changed" in r.headers["HX-Trigger"]
    outbox.deliver()
    assert len(outbox) == before + 1 and outbox[-1].recipients == ["ivy@example.test"]
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert ResetToken.get_by_id(first.id).used_at is not None  # the old link is void
        fresh = (
            ResetToken.select()
            .where((ResetToken.user == invited.id) & ResetToken.used_at.is_null())
            .get()
        )
        assert fresh.purpose == "invite"
        event = AuditEvent.get(AuditEvent.action == "admin.resend")
        assert json.loads(event.detail) == {"kind": "invite", "voided": True}
    assert says(
        body(client.get("/admin/users", headers=HX)), "INVITE_RESENT", email="ivy@example.test"
    )
    # With a password: a recovery link. From the detail page, without JavaScript.
    detail = body(client.get(f"/admin/users/{p['alice'].id}"))
    assert says(detail, "SEND_RECOVERY_LINK")
    r = post(client, f"/admin/users/{p['alice'].id}/resend")
    assert r.status_code == 303
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert ResetToken.get(ResetToken.user == p["alice"].id).purpose == "reset"


def test_resend_refused_without_email_or_out_of_reach(app, client, make_user):
    p = people(make_user)
    nomail = make_user("nomail", email="", team="A")
    login(client, "admin")
    listing = body(client.get("/admin/users", headers=HX))
    assert f"/admin/users/{nomail.id}/resend" not in listing
    assert post(client, f"/admin/users/{nomail.id}/resend").status_code == 422
    manager = client.application.test_client()
    login(manager, "mgrA")
    assert (
        post(
            manager,
            f"/admin/users/{p['bob'].id}/resend",
            csrf=re.search(
                r'name="csrf_token" value="([^"]+)"', body(manager.get("/admin/users"))
            ).group(1),
        ).status_code
        == 403
    )


def test_admin_set_password_keeps_what_was_typed(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    typed = "quiet meadow copper 4471 kite"
    r = post(
        client,
        f"/admin/users/{p['alice'].id}/password",
        {"password": typed, "confirm": typed + "x", "must_change": "y"},
        htmx=True,
    )
    assert r.status_code == 422
    text = body(r)
    # Both fields come back filled; the mismatch is under Confirm, not under the password.
    assert text.count(f'value="{typed}"') == 1 and f'value="{typed}x"' in text
    assert 'id="confirm-error"' in text and says(text, "PASSWORDS_DIFFER")
    assert 'id="password-error"' not in text
    # The checklist describes what is in the fields now.
    assert re.search(r'class="ok" data-rule="min_length"', text)
    assert re.search(r'class="bad" data-rule="match"', text)
    assert english(app, lambda: _match_text(False)) in text


def test_live_checklist_match_line_reads_true_in_every_state(app, client, make_user):
    people(make_user)
    login(client, "alice")
    page = client.get("/password/change")
    token = re.search(r'name="csrf-token" content="([^"]+)"', body(page)).group(1)

    def check(password, confirm):
        return body(
            client.post(
                "/password/check",
                data={"password": password, "confirm": confirm},
                headers={**HX, "X-CSRFToken": token},
            )
        )

    todo, no, yes = (english(app, lambda ok=ok: _match_text(ok)) for ok in (None, False, True))
    assert todo in body(page)  # listed before typing
    pending = check("quiet meadow copper 4471 kite", "")
    assert re.search(r'class="todo" data-rule="match"', pending)
    bad = check("quiet meadow copper 4471 kite", "quiet")
    assert no in bad and yes not in bad
    good = check("quiet meadow copper 4471 kite", "quiet meadow copper 4471 kite")
    assert re.search(r'class="ok" data-rule="match"', good)
    assert yes in good


def test_import_lists_new_teams_before_creating_them(app, client, make_user):
    from portal.models import Team

    from ..helpers import upload

    people(make_user)
    login(client, "admin")
    text = (
        "username,email,team\n"
        "nora,nora@example.test,A\n"
        "otto,otto@example.test,Warehouse\n"
        "pia,,warehouse\n"
        "quin,,Accounts\n"
    )
    r = upload(client, text)
    page = body(r)
    assert r.status_code == 200 and says(page, "IMPORT_NEW_TEAMS", num=2)
    assert "<li>Accounts</li>" in page and "<li>Warehouse</li>" in page and "<li>A</li>" not in page
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert Team.get_or_none(Team.name == "Warehouse") is None  # nothing created yet
        assert User.get_or_none(User.username == "nora") is None
    r = confirm_import(client, r)
    assert r.status_code == 200 and says(body(r), "USERS_IMPORTED", num=4)
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert Team.get(Team.name == "Warehouse")
        assert User.get(User.username == "pia").team.name == "Warehouse"
