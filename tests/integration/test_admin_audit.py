"""Audit log screen: scope, filters, pagination, htmx fragment, CSV export, append-only."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import pytest

from portal import audit as audit_module
from portal.audit_log.labels import ACTION_LABELS
from portal.db import database
from portal.models import AuditEvent, ManagedTeam, Team, User, utcnow

from ..helpers import PASSWORD, csrf_of, english, login, post_form, says

HX = {"HX-Request": "true"}


def _db(app):
    ctx = app.app_context()
    ctx.push()
    database.connect(reuse_if_open=True)
    return ctx


def _event(
    app,
    action,
    *,
    actor=None,
    target=None,
    target_name=None,
    outcome="success",
    detail=None,
    at=None,
    ip="10.0.0.1",
):
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        actor = User.get_by_id(actor.id) if actor else None
        target = User.get_by_id(target.id) if target else None
        event = audit_module.record(
            action,
            outcome=outcome,
            actor=actor,
            target=target,
            target_name=target_name,
            detail=detail,
            ip=ip,
        )
        if at is not None:
            AuditEvent.update(created_at=at).where(AuditEvent.id == event.id).execute()
        database.close()
        return event.id


def _rows(response):
    """The <tr> bodies of the results table."""
    body = response.get_data(as_text=True)
    tbody = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in body else ""
    return re.findall(r"<tr>(.*?)</tr>", tbody, re.DOTALL)


@pytest.fixture
def people(app, make_user):
    admin = make_user("admin", role="admin", team="Ops")
    mgr = make_user("mgra", role="manager", team="Alpha")
    alice = make_user("alice", team="Alpha")
    bob = make_user("bob", team="Beta")
    return {"admin": admin, "mgr": mgr, "alice": alice, "bob": bob}


def test_anonymous_is_sent_to_sign_in(client):
    for url in ("/admin/audit", "/admin/audit/export.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_user_gets_403_page_and_no_link(client, people):
    login(client, "alice")
    assert "/admin/audit" not in client.get("/").get_data(as_text=True)
    for url in ("/admin/audit", "/admin/audit/export.csv"):
        assert client.get(url).status_code == 403
        assert client.get(url, headers=HX).status_code == 403


def test_admin_sees_page_with_filters_and_nav_link(app, client, people):
    login(client, "admin")
    assert 'href="/admin/audit"' in client.get("/").get_data(as_text=True)
    response = client.get("/admin/audit")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<!doctype html>" in body and 'id="audit-results"' in body
    assert 'data-hx-get="/admin/audit"' in body and 'data-hx-push-url="true"' in body
    for name in ("actor", "target", "action", "outcome", "date_from", "date_to"):
        assert f'name="{name}"' in body
    assert "HX-Request" in response.headers["Vary"]
    assert "no-store" in response.headers["Cache-Control"]
    # Sign-ins of the fixture users are in the log, with their labels.
    assert english(app, ACTION_LABELS["login.success"]) in body


def test_htmx_request_gets_the_fragment_only(client, people):
    login(client, "admin")
    response = client.get("/admin/audit?actor=admin", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<!doctype html>" not in body and "<form" not in body
    assert body.lstrip().startswith('<div id="audit-results"')
    assert 'data-hx-swap-oob="true"' in body  # the date error slots are refreshed too


def test_newest_first_with_labels_and_raw_unknown_actions(app, client, people):
    _event(
        app,
        "password.change",
        actor=people["alice"],
        target=people["alice"],
        at=datetime(2026, 1, 1, 10, 0),
    )
    _event(
        app,
        "custom.thing",
        actor=people["admin"],
        target=people["bob"],
        at=datetime(2026, 1, 2, 10, 0),
    )
    login(client, "admin")
    rows = _rows(client.get("/admin/audit?date_from=2026-01-01&date_to=2026-01-02"))
    assert len(rows) == 2
    assert "custom.thing" in rows[0] and "bob" in rows[0]
    assert english(app, ACTION_LABELS["password.change"]) in rows[1] and "alice" in rows[1]


def test_filters_actor_target_action_outcome(app, client, people):
    a, b = people["alice"], people["bob"]
    _event(app, "custom.one", actor=people["admin"], target=a)
    _event(app, "custom.one", actor=people["admin"], target=b, outcome="failure")
    _event(app, "custom.two", actor=b, target=b)
    login(client, "admin")

    def count(query):
        return len(_rows(client.get("/admin/audit?" + query)))

    assert count("action=custom.one") == 2
    assert count("action=custom.one&target=BO") == 1  # case-insensitive prefix
    assert count("action=custom.one&target=ob") == 0  # prefix, not substring
    assert count("action=custom.one&outcome=failure") == 1
    assert count("actor=bo&action=custom.two") == 1
    assert count("actor=bob&action=custom.one") == 0
    assert count("action=custom.nothing") == 0


def test_date_range_uses_the_org_time_zone(app, client, people):
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        from portal import settings

        settings.save({"TIMEZONE": "Europe/Paris"})
        database.close()
    # 2026-03-09 23:30 UTC is already 2026-03-10 00:30 in Paris (UTC+1 in March).
    _event(app, "custom.tz", target=people["bob"], at=datetime(2026, 3, 9, 23, 30))
    _event(app, "custom.tz", target=people["bob"], at=datetime(2026, 3, 10, 22, 59))
    _event(app, "custom.tz", target=people["bob"], at=datetime(2026, 3, 10, 23, 0))  # 11th in Paris
    login(client, "admin")
    rows = _rows(
        client.get("/admin/audit?action=custom.tz&date_from=2026-03-10&date_to=2026-03-10")
    )
    assert len(rows) == 2
    assert "Europe/Paris" in client.get("/admin/audit").get_data(as_text=True)
    assert len(_rows(client.get("/admin/audit?action=custom.tz&date_to=2026-03-09"))) == 0


@pytest.mark.parametrize(
    "query, field",
    [
        ("date_from=2026-13-01", "date_from"),
        ("date_from=yesterday", "date_from"),
        ("date_to=2026-02-30", "date_to"),
        ("date_from=2026-03-02&date_to=2026-03-01", "date_to"),
        ("date_from=%00%0a", "date_from"),
    ],
)
def test_bad_dates_are_422_with_message_next_to_field_and_input_kept(client, people, query, field):
    login(client, "admin")
    response = client.get("/admin/audit?actor=adm&" + query)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="audit-{field}-error"\s*>([^<]+)</p>', body)
    assert error and error.group(1).strip()
    assert 'value="adm"' in body
    assert client.get("/admin/audit/export.csv?" + query).status_code == 422
    htmx = client.get("/admin/audit?" + query, headers=HX)
    assert htmx.status_code == 422
    assert f'id="audit-{field}-error" data-hx-swap-oob="true" >' in htmx.get_data(as_text=True)


def test_garbage_page_numbers_do_not_fail(client, people):
    login(client, "admin")
    for page in ("0", "-3", "abc", "99999999999999999999", "2"):
        assert client.get(f"/admin/audit?page={page}").status_code == 200


def test_pagination_50_per_page(app, client, people):
    with app.app_context():
        database.connect(reuse_if_open=True)
        now = utcnow()
        AuditEvent.insert_many(
            [
                {
                    "action": "custom.bulk",
                    "target_name": f"n{i:03d}",
                    "created_at": now,
                    "detail": "",
                }
                for i in range(120)
            ]
        ).execute()
        database.close()
    login(client, "admin")
    first = client.get("/admin/audit?action=custom.bulk")
    assert len(_rows(first)) == 50 and "n119" in _rows(first)[0]
    assert says(first.get_data(as_text=True), "PAGE_OF", page=1, pages=3)
    assert "page=2" in first.get_data(as_text=True)
    third = client.get("/admin/audit?action=custom.bulk&page=3")
    assert len(_rows(third)) == 20 and "n000" in _rows(third)[-1]
    assert len(_rows(client.get("/admin/audit?action=custom.bulk&page=9"))) == 20  # clamped


def test_manager_sees_only_events_about_their_teams(app, client, people, make_user):
    carol = make_user("carol", team="Gamma")
    with app.app_context():
        database.connect(reuse_if_open=True)
        ManagedTeam.create(manager=people["mgr"].id, team=Team.get(Team.name == "Gamma").id)
        database.close()
    _event(app, "custom.scope", actor=people["admin"], target=people["alice"])  # Alpha
    _event(app, "custom.scope", actor=people["admin"], target=carol)  # Gamma (managed)
    _event(app, "custom.scope", actor=people["alice"], target=people["bob"])  # Beta
    _event(app, "custom.scope", actor=people["admin"], target=people["admin"])  # Ops
    _event(app, "custom.scope", target_name="ghost")  # no target
    _event(app, "custom.scope", actor=people["mgr"], target=people["bob"])  # by mgr, on Beta
    login(client, "mgra")
    response = client.get("/admin/audit?action=custom.scope")
    assert response.status_code == 200
    rows = _rows(response)
    assert len(rows) == 2
    assert not any("bob" in r or "ghost" in r or "<td>admin</td><td>admin" in r for r in rows)
    body = client.get("/admin/audit").get_data(as_text=True)
    assert "bob" not in body and "ghost" not in body
    # The manager's own sign-in is about a member of their own team: visible.
    own = _rows(client.get("/admin/audit?action=login.success&target=mgra"))
    assert len(own) == 1
    csv_body = client.get("/admin/audit/export.csv?action=custom.scope").get_data(as_text=True)
    assert "carol" in csv_body and "alice" in csv_body and "bob" not in csv_body
    # The admin sees all five.
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/"))})
    login(client, "admin")
    assert len(_rows(client.get("/admin/audit?action=custom.scope"))) == 6


def test_demoted_manager_loses_access_at_once(app, client, people):
    login(client, "mgra")
    assert client.get("/admin/audit").status_code == 200
    with app.app_context():
        database.connect(reuse_if_open=True)
        User.update(role="user").where(User.id == people["mgr"].id).execute()
        database.close()
    assert client.get("/admin/audit").status_code == 403


def test_csv_export_is_filtered_safe_and_excel_friendly(app, client, people):
    _event(app, "custom.csv", target_name='=HYPERLINK("http://x")', detail={"note": "+1"})
    _event(app, "custom.csv", target_name="@SUM(A1)")
    _event(app, "custom.csv", target_name="-2+3")
    _event(app, "custom.other", target_name="élodie")
    login(client, "admin")
    response = client.get("/admin/audit/export.csv?action=custom.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, data = rows[0], rows[1:]
    assert "Action" in header and "IP address" in header
    targets = {r[header.index("Target")] for r in data}
    assert targets == {'\'=HYPERLINK("http://x")', "'@SUM(A1)", "'-2+3"}
    assert all(r[header.index("Action code")] == "custom.csv" for r in data)
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in data for cell in r)
    everything = client.get("/admin/audit/export.csv").get_data().decode("utf-8-sig")
    assert "élodie" in everything
    # Taking a copy is recorded, with the filters used.
    with app.app_context():
        database.connect(reuse_if_open=True)
        exports = list(
            AuditEvent.select().where(AuditEvent.action == "audit.export").order_by(AuditEvent.id)
        )
        database.close()
    assert [e.actor_name for e in exports] == ["admin", "admin"]
    assert json.loads(exports[0].detail) == {"action": "custom.csv"}


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
@pytest.mark.parametrize("url", ["/admin/audit", "/admin/audit/export.csv"])
def test_audit_is_append_only(app, client, people, method, url):
    login(client, "admin")
    token = csrf_of(client.get("/admin/audit"))
    with app.app_context():
        database.connect(reuse_if_open=True)
        before = AuditEvent.select().count()
        database.close()
    response = getattr(client, method)(url, data={"csrf_token": token, "id": "1"})
    assert response.status_code == 405
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert AuditEvent.select().count() == before
        database.close()


def test_no_password_or_token_ever_reaches_the_audit_log(
    app, client, make_user, outbox, monkeypatch
):
    """A full flow: sign-ins, a failure, recovery by link, a change, an admin Reset & Unlock
    (temporary password, emailed), an admin-typed password; then search every row."""
    from portal import passwords

    temps = []
    original = passwords.generate_temporary

    def capture(*args, **kwargs):
        temps.append(original(*args, **kwargs))
        return temps[-1]

    monkeypatch.setattr(passwords, "generate_temporary", capture)
    make_user("admin", role="admin")
    dave = make_user("dave", team="Alpha")
    secrets_seen = [PASSWORD]
    bad = "not-the-password-x9!"
    secrets_seen.append(bad)
    login(client, "dave", bad)
    post_form(client, "/password/forgot", {"identifier": "dave"})
    mails = outbox.deliver()
    link = re.search(r"http://localhost(/password/reset/\S+)", mails[-1].body).group(1)
    secrets_seen.append(link.rsplit("/", 1)[1])
    page = client.get(link, follow_redirects=True)
    new = "quiet orchard lantern 2291"
    secrets_seen.append(new)
    response = client.post(
        "/password/reset", data={"password": new, "confirm": new, "csrf_token": csrf_of(page)}
    )
    assert response.status_code in (200, 302, 303)
    assert login(client, "dave", new).status_code == 303
    newer = "amber kettle meadow 5521"
    secrets_seen.append(newer)
    page = client.get("/password/change")
    assert (
        client.post(
            "/password/change",
            data={
                "current_password": new,
                "password": newer,
                "confirm": newer,
                "csrf_token": csrf_of(page),
            },
        ).status_code
        == 303
    )
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/"))})
    # The administrator resets dave's password, mails the temporary one, then types one.
    login(client, "admin")
    page = client.get(f"/admin/users/{dave.id}/reset")
    reset = client.post(
        f"/admin/users/{dave.id}/reset",
        data={"reason": "called the help desk", "csrf_token": csrf_of(page)},
    )
    assert reset.status_code == 200 and temps and temps[-1] in reset.get_data(as_text=True)
    secrets_seen.append(temps[-1])
    client.post(
        f"/admin/users/{dave.id}/reset/email",
        data={"password": temps[-1], "csrf_token": csrf_of(page)},
    )
    typed = "copper willow basin 7713"
    secrets_seen.append(typed)
    page = client.get(f"/admin/users/{dave.id}/password")
    assert client.post(
        f"/admin/users/{dave.id}/password",
        data={"password": typed, "confirm": typed, "must_change": "y", "csrf_token": csrf_of(page)},
    ).status_code in (200, 303)
    outbox.deliver()
    with app.app_context():
        database.connect(reuse_if_open=True)
        events = list(AuditEvent.select())
        hashes = [u.password_hash for u in User.select()]
        database.close()
    actions = {e.action for e in events}
    assert {
        "login.failure",
        "recovery.request",
        "password.reset",
        "password.change",
        "login.success",
        "mail.sent",
        "admin.reset",
        "admin.temp_password_mail",
        "admin.set_password",
    } <= actions
    assert "called the help desk" in dump_of(events)  # the reason is kept with the event
    dump = dump_of(events)
    for secret in secrets_seen + hashes:
        assert secret not in dump
    assert "$2b$" not in dump
    # And the screen and the export show none of them either.
    shown = client.get("/admin/audit").get_data(as_text=True)
    shown += client.get("/admin/audit/export.csv").get_data(as_text=True)
    assert english(app, ACTION_LABELS["password.reset"]) in shown
    for secret in secrets_seen:
        assert secret not in shown
    assert "$2b$" not in shown


def dump_of(events) -> str:
    return json.dumps([e.__data__ for e in events], default=str, ensure_ascii=False)


def test_log_injection_is_shown_on_one_line(app, client, people):
    _event(app, "custom.inject", target_name="x\r\n2026-01-01 admin login.success")
    login(client, "admin")
    body = client.get("/admin/audit?action=custom.inject").get_data(as_text=True)
    assert "x\\r\\n2026-01-01 admin login.success" in body


def test_french_labels_and_page(client, people):
    login(client, "admin")
    response = client.get("/admin/audit?lang=fr")
    assert response.status_code == 200
    assert '<html lang="fr">' in response.get_data(as_text=True)
    assert client.get("/admin/audit/export.csv?lang=fr").status_code == 200


def test_output_is_escaped(app, client, people):
    _event(app, "custom.xss", target_name="<script>alert(1)</script>", detail={"n": "{{7*7}}"})
    login(client, "admin")
    body = client.get("/admin/audit?action=custom.xss").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "{{7*7}}" in body and ">49<" not in body
