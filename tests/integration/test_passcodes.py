"""Passcodes through the test client (F19): settings, one's own passcode on the account
page, an administrator's Reset passcode (Copy / Send email through a real SMTP server),
the temporary-passcode gate, bulk Reset passcodes and API keys in Settings."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from portal import settings
from portal.db import database
from portal.models import ApiKey, AuditEvent, BulkJob, OutboxMail, Passcode, utcnow
from portal.passcodes import apikeys

from ..helpers import (
    HX,
    PASSWORD,
    age_session,
    audit_actions,
    body,
    csrf_of,
    login,
    people,
    post,
    prepare_database,
)
from ..load.smtp import Sink
from .passcode_helpers import GOOD, OTHER, configure, in_ctx, new_key, set_passcode, verify

TEMP_RE = re.compile(r'<input type="hidden" name="passcode" value="([0-9]+)">')


def account_post(client, **data):
    token = csrf_of(client.get("/account/passcode"))
    return client.post("/account/passcode", data={"csrf_token": token, **data})


def passcode_row(app, user):
    with app.app_context():
        database.connect(reuse_if_open=True)
        return Passcode.get_or_none(Passcode.user == user.id)


# --- settings -------------------------------------------------------------------------------

def test_passcodes_are_off_by_default_and_everything_about_them_is_hidden(app, client,
                                                                          make_user):
    p = people(make_user)
    login(client, "admin")
    assert "passcode" not in body(client.get("/")).lower()
    assert client.get("/account/passcode").status_code == 404
    assert client.get(f"/admin/users/{p['alice'].id}/passcode/reset").status_code == 404
    assert "Reset passcode" not in body(client.get("/admin/users"))
    assert "Passcodes and API keys" in body(client.get("/admin/settings"))


def test_admin_turns_passcodes_on_and_sets_the_length(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    page = client.get("/admin/settings/passcodes")
    assert page.status_code == 200 and 'value="6"' in body(page)
    bad = post(client, "/admin/settings/passcodes",
               {"passcodes_enabled": "y", "passcode_length": "13"})
    assert bad.status_code == 422 and "from 4 to 12" in body(bad) and 'value="13"' in body(bad)
    bad = post(client, "/admin/settings/passcodes",
               {"passcodes_enabled": "y", "passcode_length": "six"})
    assert bad.status_code == 422 and "whole number" in body(bad) and 'value="six"' in body(bad)
    ok = post(client, "/admin/settings/passcodes",
              {"passcodes_enabled": "y", "passcode_length": "8"})
    assert ok.status_code == 303
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        values = settings.current()
        assert values["PASSCODES_ENABLED"] is True and values["PASSCODE_LENGTH"] == 8
    (event,) = audit_actions(app, "settings.update")
    assert '"PASSCODE_LENGTH": [6, 8]' in event.detail
    assert "Exactly 8 digits" in body(client.get("/account/passcode"))


def test_only_administrators_reach_passcode_settings(app, client, make_user):
    people(make_user)
    login(client, "mgrA")
    assert client.get("/admin/settings/passcodes").status_code == 403
    r = post(client, "/admin/settings/api-keys", {"name": "x"},
             csrf=csrf_of(client.get("/admin/users")))
    assert r.status_code == 403


# --- one's own passcode ----------------------------------------------------------------------

def test_user_sets_and_changes_own_passcode(app, client, make_user):
    alice = make_user("alice")
    configure(app)
    login(client, "alice")
    home = body(client.get("/"))
    assert "Set or change my passcode" in home and "not set" in home
    page = body(client.get("/account/passcode"))
    assert "Set your passcode" in page and "Exactly 6 digits" in page and "1234" in page
    wrong = account_post(client, current_password="not my password", passcode=GOOD,
                         confirm=GOOD)
    assert wrong.status_code == 422 and "current password is not correct" in body(wrong)
    assert f'value="{GOOD}"' in body(wrong)  # nothing typed is lost
    weak = account_post(client, current_password=PASSWORD, passcode="123456", confirm="123456")
    assert weak.status_code == 422 and "Avoid runs of digits" in body(weak)
    mismatch = account_post(client, current_password=PASSWORD, passcode=GOOD, confirm=OTHER)
    assert mismatch.status_code == 422 and "do not match" in body(mismatch)
    letters = account_post(client, current_password=PASSWORD, passcode="73a541", confirm="73a541")
    assert letters.status_code == 422 and "digits only" in body(letters)
    assert passcode_row(app, alice) is None
    done = account_post(client, current_password=PASSWORD, passcode=GOOD, confirm=GOOD)
    assert done.status_code == 303
    row = passcode_row(app, alice)
    assert row.passcode_hash.startswith("$2b$") and GOOD not in row.passcode_hash
    assert not row.temporary
    assert "Change your passcode" in body(client.get("/account/passcode"))
    again = account_post(client, current_password=PASSWORD, passcode=OTHER, confirm=OTHER)
    assert again.status_code == 303
    events = audit_actions(app, "passcode.change")
    assert [e.outcome for e in events] == ["failure", "success", "success"]
    assert not any(GOOD in e.detail or OTHER in e.detail for e in audit_actions(app))
    with app.app_context():
        database.connect(reuse_if_open=True)
        kinds = [m.kind for m in OutboxMail.select().where(OutboxMail.user == alice.id)]
        assert kinds.count("passcode_changed") == 2


def test_personal_digits_of_the_account_are_refused(app, client, make_user):
    make_user("lea2468")
    configure(app)
    login(client, "lea2468")
    r = account_post(client, current_password=PASSWORD, passcode="246809", confirm="246809")
    assert r.status_code == 422 and "username, email address or account ID" in body(r)


def test_live_checklist(app, client, make_user):
    make_user("alice")
    configure(app)
    login(client, "alice")
    token = csrf_of(client.get("/account/passcode"))
    r = client.post("/account/passcode/check", data={"passcode": "1111", "csrf_token": token},
                    headers=HX)
    text = body(r)
    assert r.status_code == 200 and 'class="bad" data-rule="no_repeat"' in text
    assert 'class="ok" data-rule="digits"' in text


def test_wrong_current_password_counts_toward_the_sign_in_throttle(app, client, make_user):
    alice = make_user("alice")
    configure(app, LOCKOUT_FREE_FAILURES=2)
    login(client, "alice")
    for _ in range(2):
        account_post(client, current_password="nope nope", passcode=GOOD, confirm=GOOD)
    r = account_post(client, current_password=PASSWORD, passcode=GOOD, confirm=GOOD)
    assert r.status_code == 429 and passcode_row(app, alice) is None


# --- administrators' Reset passcode ---------------------------------------------------------

def test_admin_resets_a_passcode_copy_and_send_through_real_smtp(make_app, make_user):
    sink = Sink().start()
    try:
        app = make_app(MAIL_PORT=sink.port, MAIL_SUPPRESS_SEND=False)
        prepare_database(app)
        client = app.test_client()
        p = people(make_user)
        configure(app)
        set_passcode(app, p["alice"])
        login(client, "admin")
        user_id = p["alice"].id
        confirm = client.get(f"/admin/users/{user_id}/passcode/reset", headers=HX)
        assert "<dialog" in body(confirm) and "Alice Archer" in body(confirm)
        r = post(client, f"/admin/users/{user_id}/passcode/reset", {"reason": "lost it"},
                 htmx=True)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        temp = TEMP_RE.search(body(r)).group(1)
        assert len(temp) == 6 and "data-copy-target" in body(r)
        row = passcode_row(app, p["alice"])
        assert row.temporary and row.expires_at > utcnow() + timedelta(hours=47)
        (event,) = audit_actions(app, "admin.passcode_reset")
        assert event.detail == '{"reason": "lost it"}' and temp not in event.detail
        # The old passcode stopped working; the temporary one verifies.
        key = new_key(app, p["admin"])
        assert verify(client, key, "alice", GOOD).json == {"valid": False}
        assert verify(client, key, "alice", temp).json == {"valid": True}
        # Send email: only the current temporary passcode can be mailed.
        forged = post(client, f"/admin/users/{user_id}/passcode/reset/email",
                      {"passcode": "000000"}, htmx=True)
        assert forged.status_code == 422 and "no longer valid" in body(forged)
        sent = post(client, f"/admin/users/{user_id}/passcode/reset/email", {"passcode": temp},
                    htmx=True)
        assert sent.status_code == 200 and "Email queued" in body(sent)
        mail_id = int(re.search(r"/admin/passcodes/mail/(\d+)", body(sent)).group(1))
        with app.app_context():
            database.connect(reuse_if_open=True)
            queued = OutboxMail.get_by_id(mail_id)
            assert queued.encrypted and temp not in queued.context
            from portal.worker import run_once

            run_once()
            database.close()
        messages = sink.wait_until(
            lambda ms: [m for rcpt, m in ms if "reset" in m["Subject"] and "passcode" in
                        m["Subject"]] and ms, timeout=10)
        texts = [sink.text_of(m) for _rcpt, m in messages]
        assert any(temp in t for t in texts)
        assert all(rcpt == ["alice@example.test"] for rcpt, _m in messages)
        status = client.get(f"/admin/passcodes/mail/{mail_id}", headers=HX)
        assert "Email sent to alice@example.test" in body(status)
        assert audit_actions(app, "admin.temp_passcode_mail")
    finally:
        sink.stop()


def test_managers_reset_passcodes_only_within_reach(app, client, make_user):
    p = people(make_user)
    configure(app)
    login(client, "mgrA")
    assert client.get(f"/admin/users/{p['bob'].id}/passcode/reset").status_code == 403
    assert post(client, f"/admin/users/{p['bob'].id}/passcode/reset").status_code == 403
    assert post(client, f"/admin/users/{p['admin'].id}/passcode/reset").status_code == 403
    r = post(client, f"/admin/users/{p['alice'].id}/passcode/reset")
    assert r.status_code == 200 and TEMP_RE.search(body(r))
    carol = app.test_client()  # a plain user: no admin screens at all
    login(carol, "carol")
    assert post(carol, f"/admin/users/{p['alice'].id}/passcode/reset",
                csrf=csrf_of(carol.get("/"))).status_code == 403


def test_reset_needs_a_recent_password_entry(app, client, make_user):
    p = people(make_user)
    configure(app)
    login(client, "admin")
    age_session(app)
    r = post(client, f"/admin/users/{p['alice'].id}/passcode/reset", htmx=True)
    assert r.status_code == 401 and r.headers["HX-Reauth"] == "true"
    assert passcode_row(app, p["alice"]) is None
    r = post(client, f"/admin/users/{p['alice'].id}/passcode/reset",
             {"reauth_password": PASSWORD})
    assert r.status_code == 200 and TEMP_RE.search(body(r))


def test_temporary_passcode_must_be_replaced_at_next_sign_in(app, client, make_user):
    p = people(make_user)
    configure(app)
    key = new_key(app, p["admin"])
    login(client, "admin")
    temp = TEMP_RE.search(body(post(client, f"/admin/users/{p['alice'].id}/passcode/reset"))).group(1)
    alice = app.test_client()
    signed_in = login(alice, "alice")
    assert signed_in.status_code == 303
    home = alice.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/account/passcode")
    assert "temporary passcode" in body(alice.get("/account/passcode"))
    r = account_post(alice, current_password=PASSWORD, passcode=GOOD, confirm=GOOD)
    assert r.status_code == 303 and alice.get("/").status_code == 200
    assert verify(client, key, "alice", temp).json == {"valid": False}
    assert verify(client, key, "alice", GOOD).json == {"valid": True}


def test_expired_temporary_passcode_answers_no(app, client, make_user):
    p = people(make_user)
    configure(app)
    key = new_key(app, p["admin"])
    login(client, "admin")
    temp = TEMP_RE.search(body(post(client, f"/admin/users/{p['alice'].id}/passcode/reset"))).group(1)
    with app.app_context():
        database.connect(reuse_if_open=True)
        Passcode.update(expires_at=utcnow() - timedelta(minutes=1)).execute()
        database.close()
    assert verify(client, key, "alice", temp).json == {"valid": False}
    r = post(client, f"/admin/users/{p['alice'].id}/passcode/reset/email", {"passcode": temp})
    assert r.status_code == 422
    assert "temporary_expired" in audit_actions(app, "passcode.verify")[-1].detail


# --- bulk Reset passcodes --------------------------------------------------------------------

def test_bulk_reset_passcodes_results_once_and_csv_once(app, client, make_user):
    p = people(make_user)
    configure(app)
    login(client, "admin")
    assert "Reset passcodes" in body(client.get("/admin/users"))
    selected = [str(p["alice"].id), str(p["bob"].id), str(p["admin"].id)]
    confirm = post(client, "/admin/users/bulk/passcodes/confirm", {"ids": selected}, htmx=True)
    assert confirm.status_code == 200 and "Your own account is not included." in body(confirm)
    r = post(client, "/admin/users/bulk/passcodes", {"ids": selected, "reason": "new phones"},
             htmx=True)
    assert r.status_code == 422 and "Type the number of users" in body(r)
    assert "new phones" in body(r)
    r = post(client, "/admin/users/bulk/passcodes",
             {"ids": selected, "reason": "new phones", "confirm_count": "2"}, htmx=True)
    text = body(r)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    shown = re.findall(r'<code class="temp-password-cell">([0-9]+)</code>', text)
    assert len(shown) == 2 and all(len(s) == 6 for s in shown)
    public_id = re.search(r"/admin/users/bulk/passcodes/jobs/([A-Za-z0-9_-]+)/download",
                          text).group(1)
    with app.app_context():
        database.connect(reuse_if_open=True)
        job = BulkJob.get(BulkJob.public_id == public_id)
        assert job.results and shown[0] not in job.results
        assert not any(s in (e.detail or "") for s in shown for e in AuditEvent.select())
        assert Passcode.select().where(Passcode.temporary == True).count() == 2  # noqa: E712
        database.close()
    again = client.get(f"/admin/users/bulk/passcodes/jobs/{public_id}", headers=HX)
    assert shown[0] not in body(again) and "Download CSV" in body(again)
    download = post(client, f"/admin/users/bulk/passcodes/jobs/{public_id}/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][4] == "temporary_passcode" and {r[4] for r in rows[1:]} == set(shown)
    assert post(client, f"/admin/users/bulk/passcodes/jobs/{public_id}/download").status_code == 410
    assert len(audit_actions(app, "admin.passcode_reset")) == 2
    # The password bulk job page does not serve this job's results, and vice versa.
    assert client.get(f"/admin/users/bulk/passcodes/jobs/{public_id}x").status_code == 404


def test_bulk_reset_passcodes_refuses_users_out_of_reach(app, client, make_user):
    p = people(make_user)
    configure(app)
    login(client, "mgrA")
    r = post(client, "/admin/users/bulk/passcodes",
             {"ids": [str(p["alice"].id), str(p["bob"].id)], "confirm_count": "2"})
    assert r.status_code == 403
    assert audit_actions(app, "admin.passcode_reset") == []
    assert post(client, "/admin/users/bulk/passcodes/confirm", {"ids": ["x"]}).status_code == 400


# --- API keys ------------------------------------------------------------------------------

def test_api_keys_created_once_listed_and_revoked(app, client, make_user):
    p = people(make_user)
    configure(app)
    set_passcode(app, p["alice"])
    login(client, "admin")
    empty = post(client, "/admin/settings/api-keys", {"name": "  "})
    assert empty.status_code == 422 and "Enter a name" in body(empty)
    r = post(client, "/admin/settings/api-keys", {"name": "Phone system"})
    assert r.status_code == 201 and r.headers["Cache-Control"] == "no-store"
    raw = re.search(r'<output id="new-api-key" class="temp-password">([^<]+)</output>',
                    body(r)).group(1)
    assert raw.startswith("pgk_") and len(raw) > 40
    with app.app_context():
        database.connect(reuse_if_open=True)
        key = ApiKey.get(ApiKey.name == "Phone system")
        assert key.key_hash == apikeys.digest(raw) and raw not in key.key_hash
        assert key.last_used_at is None
        database.close()
    listing = body(client.get("/admin/settings/passcodes"))
    assert "Phone system" in listing and raw not in listing and key.prefix in listing
    assert verify(client, raw, "alice", GOOD).json == {"valid": True}
    assert "Never" not in body(client.get("/admin/settings/passcodes"))
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert ApiKey.get_by_id(key.id).last_used_at is not None
        database.close()
    revoked = post(client, f"/admin/settings/api-keys/{key.id}/revoke")
    assert revoked.status_code == 303
    assert post(client, f"/admin/settings/api-keys/{key.id}/revoke").status_code == 404
    assert verify(client, raw, "alice", GOOD).status_code == 401
    assert "Revoked" in body(client.get("/admin/settings/passcodes"))
    details = [e.detail for e in audit_actions(app)
               if e.action in ("apikey.create", "apikey.revoke")]
    assert audit_actions(app, "apikey.refused")
    assert len(details) == 2 and all("Phone system" in d and raw not in d for d in details)


def test_api_key_actions_need_a_recent_password_entry(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    age_session(app)
    r = post(client, "/admin/settings/api-keys", {"name": "Phone system"})
    assert r.status_code == 401 and 'name="name" value="Phone system"' in body(r)
    assert in_ctx(app, apikeys.listing) == []
