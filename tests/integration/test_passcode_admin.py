"""Administrators' passcode actions through the test client (F19): Reset passcode (Copy /
Send email through a real SMTP server), managers' reach, step-up, the temporary-passcode
gate and its expiry, bulk Reset passcodes."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from portal.db import database
from portal.models import AuditEvent, BulkJob, OutboxMail, Passcode, utcnow

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
    says,
    subject,
)
from ..load.smtp import Sink
from .passcode_helpers import (
    GOOD,
    TEMP_RE,
    account_post,
    configure,
    new_key,
    passcode_row,
    set_passcode,
    verify,
)

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
        r = post(client, f"/admin/users/{user_id}/passcode/reset", {"reason": "lost it"}, htmx=True)
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
        forged = post(
            client,
            f"/admin/users/{user_id}/passcode/reset/email",
            {"passcode": "000000"},
            htmx=True,
        )
        assert forged.status_code == 422 and "no longer valid" in body(forged)
        sent = post(
            client, f"/admin/users/{user_id}/passcode/reset/email", {"passcode": temp}, htmx=True
        )
        assert sent.status_code == 200 and says(body(sent), "EMAIL_QUEUED")
        mail_id = int(re.search(r"/admin/passcodes/mail/(\d+)", body(sent)).group(1))
        with app.app_context():
            database.connect(reuse_if_open=True)
            queued = OutboxMail.get_by_id(mail_id)
            assert queued.encrypted and temp not in queued.context
            from portal.worker import run_once

            run_once()
            database.close()
        reset = subject(app, "temp_passcode")
        messages = sink.wait_until(
            lambda ms: [m for rcpt, m in ms if m["Subject"] == reset] and ms,
            timeout=10,
        )
        texts = [sink.text_of(m) for _rcpt, m in messages]
        assert any(temp in t for t in texts)
        assert all(rcpt == ["alice@example.test"] for rcpt, _m in messages)
        status = client.get(f"/admin/passcodes/mail/{mail_id}", headers=HX)
        assert says(body(status), "TEMP_MAIL_SENT", to="alice@example.test")
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
    assert (
        post(
            carol, f"/admin/users/{p['alice'].id}/passcode/reset", csrf=csrf_of(carol.get("/"))
        ).status_code
        == 403
    )


def test_reset_needs_a_recent_password_entry(app, client, make_user):
    p = people(make_user)
    configure(app)
    login(client, "admin")
    age_session(app)
    r = post(client, f"/admin/users/{p['alice'].id}/passcode/reset", htmx=True)
    assert r.status_code == 401 and r.headers["HX-Reauth"] == "true"
    assert passcode_row(app, p["alice"]) is None
    r = post(client, f"/admin/users/{p['alice'].id}/passcode/reset", {"reauth_password": PASSWORD})
    assert r.status_code == 200 and TEMP_RE.search(body(r))


def test_temporary_passcode_must_be_replaced_at_next_sign_in(app, client, make_user):
    p = people(make_user)
    configure(app)
    key = new_key(app, p["admin"])
    login(client, "admin")
    temp = TEMP_RE.search(body(post(client, f"/admin/users/{p['alice'].id}/passcode/reset"))).group(
        1
    )
    alice = app.test_client()
    signed_in = login(alice, "alice")
    assert signed_in.status_code == 303
    home = alice.get("/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/account/passcode")
    assert says(body(alice.get("/account/passcode")), "PASSCODE_TEMPORARY")
    r = account_post(alice, current_password=PASSWORD, passcode=GOOD, confirm=GOOD)
    assert r.status_code == 303 and alice.get("/").status_code == 200
    assert verify(client, key, "alice", temp).json == {"valid": False}
    assert verify(client, key, "alice", GOOD).json == {"valid": True}


def test_expired_temporary_passcode_answers_no(app, client, make_user):
    p = people(make_user)
    configure(app)
    key = new_key(app, p["admin"])
    login(client, "admin")
    temp = TEMP_RE.search(body(post(client, f"/admin/users/{p['alice'].id}/passcode/reset"))).group(
        1
    )
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
    assert says(body(client.get("/admin/users")), "RESET_PASSCODES")
    selected = [str(p["alice"].id), str(p["bob"].id), str(p["admin"].id)]
    confirm = post(client, "/admin/users/bulk/passcodes/confirm", {"ids": selected}, htmx=True)
    assert confirm.status_code == 200 and says(body(confirm), "BULK_SKIPPED_SELF")
    r = post(
        client, "/admin/users/bulk/passcodes", {"ids": selected, "reason": "new phones"}, htmx=True
    )
    assert r.status_code == 422 and says(body(r), "BULK_CONFIRM_COUNT")
    assert "new phones" in body(r)
    r = post(
        client,
        "/admin/users/bulk/passcodes",
        {"ids": selected, "reason": "new phones", "confirm_count": "2"},
        htmx=True,
    )
    text = body(r)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    shown = re.findall(r'<code class="temp-password-cell">([0-9]+)</code>', text)
    assert len(shown) == 2 and all(len(s) == 6 for s in shown)
    public_id = re.search(
        r"/admin/users/bulk/passcodes/jobs/([A-Za-z0-9_-]+)/download", text
    ).group(1)
    with app.app_context():
        database.connect(reuse_if_open=True)
        job = BulkJob.get(BulkJob.public_id == public_id)
        assert job.results and shown[0] not in job.results
        assert not any(s in (e.detail or "") for s in shown for e in AuditEvent.select())
        assert Passcode.select().where(Passcode.temporary == True).count() == 2  # noqa: E712
        database.close()
    again = client.get(f"/admin/users/bulk/passcodes/jobs/{public_id}", headers=HX)
    assert shown[0] not in body(again) and says(body(again), "DOWNLOAD_ONCE")
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
    r = post(
        client,
        "/admin/users/bulk/passcodes",
        {"ids": [str(p["alice"].id), str(p["bob"].id)], "confirm_count": "2"},
    )
    assert r.status_code == 403
    assert audit_actions(app, "admin.passcode_reset") == []
    assert post(client, "/admin/users/bulk/passcodes/confirm", {"ids": ["x"]}).status_code == 400
