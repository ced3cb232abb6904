"""Bulk actions: eligibility preview, typed confirmation, all-or-nothing access, per-user
audit rows, background runs with progress, once-only results."""

from __future__ import annotations

import csv
import io
import re
import time

from portal.db import database
from portal.models import AuditEvent, BulkJob, ResetToken, User

from ..helpers import (
    HX,
    PASSWORD,
    age_session,
    audit_actions,
    body,
    db_get,
    login,
    people,
    post,
    says,
)


def ids_of(*users) -> list[str]:
    return [str(u.id) for u in users]


def test_recovery_preview_counts_and_typed_confirmation(app, client, make_user, outbox):
    p = people(make_user)
    noemail = make_user("nina", email="", team="A", first_name="Nina", last_name="Noemail")
    disabled = make_user("dora", team="A")
    pending = make_user("pete", team="A")
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        User.update(disabled=True).where(User.id == disabled.id).execute()
        from portal.links import issue as issue_link

        issue_link(User.get_by_id(pending.id), "reset")
        database.close()
    already = len(outbox.deliver())
    login(client, "admin")
    selected = ids_of(p["alice"], p["bob"], noemail, disabled, pending)
    preview = post(client, "/admin/users/bulk/recovery/confirm", {"ids": selected}, htmx=True)
    text = body(preview)
    assert preview.status_code == 200 and "<dialog" in text
    assert re.search(r'data-count="eligible">2<', text)
    assert re.search(r'data-count="no_email">1<', text) and "Nina Noemail (nina)" in text
    assert re.search(r'data-count="excluded">1<', text)
    assert re.search(r'data-count="pending">1<', text)
    # Sending links harms nobody: no number to type (issue 8), the button says what it does.
    assert "confirm_count" not in text and says(text, "SEND_RECOVERY_LINKS", num=2)
    r = post(client, "/admin/users/bulk/recovery", {"ids": selected}, htmx=True)
    assert r.status_code == 200 and "2 of 2 done" in body(r)
    outbox.deliver()
    assert sorted(m.recipients[0] for m in outbox[already:]) == [
        "alice@example.test",
        "bob@example.test",
    ]
    per_user = audit_actions(app, "admin.bulk_recovery")
    assert sorted(e.target_name for e in per_user) == ["alice", "bob"]
    summary = audit_actions(app, "admin.bulk")
    assert len(summary) == 1 and '"succeeded": 2' in summary[0].detail


def test_bulk_needs_step_up(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    age_session(app)
    data = {"ids": ids_of(p["alice"]), "confirm_count": "1"}
    r = post(client, "/admin/users/bulk/recovery", data, htmx=True)
    assert r.status_code == 401 and "reauth_password" in body(r)
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert ResetToken.select().count() == 0
    r = post(client, "/admin/users/bulk/recovery", {**data, "reauth_password": PASSWORD}, htmx=True)
    assert r.status_code == 200


def test_manager_bulk_with_other_team_is_refused_whole(app, client, make_user, outbox):
    p = people(make_user)
    login(client, "mgrA")
    selected = ids_of(p["alice"], p["bob"])
    assert post(client, "/admin/users/bulk/recovery/confirm", {"ids": selected}).status_code == 403
    r = post(client, "/admin/users/bulk/recovery", {"ids": selected, "confirm_count": "1"})
    assert r.status_code == 403
    r = post(client, "/admin/users/bulk/disable", {"ids": selected, "confirm_count": "2"})
    assert r.status_code == 403
    assert not db_get(app, User, User.id == p["alice"].id).disabled
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert ResetToken.select().count() == 0
        assert AuditEvent.select().where(AuditEvent.action.startswith("admin.bulk")).count() == 0
    assert outbox.deliver() == []
    assert audit_actions(app, "access.denied")
    # Within the team it works.
    r = post(
        client,
        "/admin/users/bulk/disable",
        {"ids": ids_of(p["alice"], p["carol"]), "confirm_count": "2"},
    )
    assert r.status_code == 200
    assert db_get(app, User, User.id == p["carol"].id).disabled


def test_bad_ids_are_400(app, client, make_user):
    people(make_user)
    login(client, "admin")
    assert post(client, "/admin/users/bulk/unlock", {"ids": ["1", "x"]}).status_code == 400
    assert post(client, "/admin/users/bulk/nope/confirm", {"ids": ["1"]}).status_code == 404
    r = post(client, "/admin/users/bulk/unlock/confirm", {}, htmx=True)
    assert r.status_code == 422 and says(body(r), "BULK_NONE_SELECTED")


def test_bulk_reset_results_shown_once_and_downloadable_once(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    selected = ids_of(p["alice"], p["bob"])
    # Taking passwords away is confirmed by typing the number of users.
    r = post(client, "/admin/users/bulk/reset", {"ids": selected, "reason": "new term"}, htmx=True)
    assert r.status_code == 422 and says(body(r), "BULK_CONFIRM_COUNT")
    assert "new term" in body(r)
    r = post(
        client,
        "/admin/users/bulk/reset",
        {"ids": selected, "reason": "new term", "confirm_count": "2"},
        htmx=True,
    )
    text = body(r)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    shown = re.findall(r'<code class="temp-password-cell">([^<]+)</code>', text)
    assert len(shown) == 2 and shown[0] != shown[1]
    public_id = re.search(r"/admin/users/bulk/jobs/([A-Za-z0-9_-]+)/download", text).group(1)
    with app.app_context():
        database.connect(reuse_if_open=True)
        job = BulkJob.get(BulkJob.public_id == public_id)
        assert job.results and shown[0] not in job.results  # encrypted at rest
        assert not any(shown[0] in (e.detail or "") for e in AuditEvent.select())
    # Shown once: the job page no longer shows the passwords.
    again = client.get(f"/admin/users/bulk/jobs/{public_id}", headers=HX)
    assert shown[0] not in body(again) and says(body(again), "DOWNLOAD_ONCE")
    download = post(client, f"/admin/users/bulk/jobs/{public_id}/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "id" and {r[4] for r in rows[1:]} == set(shown)
    assert post(client, f"/admin/users/bulk/jobs/{public_id}/download").status_code == 410
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert BulkJob.get(BulkJob.public_id == public_id).results == ""
    assert len(audit_actions(app, "admin.reset")) == 2
    # Each user's own temporary password signs in (and must be changed).
    alice_temp = next(r[4] for r in rows[1:] if r[1] == "alice")
    response = login(app.test_client(), "alice", alice_temp)
    assert response.status_code == 303 and response.headers["Location"].endswith("/password/change")


def test_other_admin_cannot_read_job(app, client, make_user):
    p = people(make_user)
    make_user("admin2", role="admin")
    login(client, "admin")
    r = post(
        client,
        "/admin/users/bulk/reset",
        {"ids": ids_of(p["alice"]), "confirm_count": "1"},
        htmx=True,
    )
    public_id = re.search(r"/admin/users/bulk/jobs/([A-Za-z0-9_-]+)/download", body(r)).group(1)
    other = app.test_client()
    login(other, "admin2")
    assert other.get(f"/admin/users/bulk/jobs/{public_id}").status_code == 404
    assert post(other, f"/admin/users/bulk/jobs/{public_id}/download").status_code == 404


def test_select_all_matching_search(app, client, make_user):
    people(make_user)
    for i in range(3):
        make_user(f"temp{i}", team="A")
    login(client, "admin")
    r = post(
        client, "/admin/users/bulk/disable/confirm", {"all_matching": "1", "q": "temp"}, htmx=True
    )
    assert r.status_code == 200 and "these 3 users" in body(r)
    r = post(
        client,
        "/admin/users/bulk/disable",
        {"all_matching": "1", "q": "temp", "confirm_count": "3"},
        htmx=True,
    )
    assert r.status_code == 200
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.select().where(User.disabled == True).count() == 3
        assert not User.get(User.username_key == "alice").disabled


def test_large_run_in_background_with_progress(app, client, make_user):
    make_user("admin", role="admin")
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        from portal.accounts import new_stamp

        User.insert_many(
            [
                {
                    "username": f"bulk{i:02}",
                    "username_key": f"bulk{i:02}",
                    "security_stamp": new_stamp(),
                    "hard_locked": True,
                }
                for i in range(25)
            ]
        ).execute()
        ids = [str(u.id) for u in User.select().where(User.username_key.startswith("bulk"))]
        database.close()
    login(client, "admin")
    r = post(client, "/admin/users/bulk/unlock", {"ids": ids}, htmx=True)
    assert r.status_code in (200, 202)
    public_id = re.search(r"/admin/users/bulk/jobs/([A-Za-z0-9_-]+)", body(r)).group(1)
    if r.status_code == 202:  # still running when the answer left: a progress bar
        assert "<progress" in body(r)
    deadline = time.monotonic() + 30  # a busy machine (CI, two test processes) is slow
    while True:
        page = client.get(f"/admin/users/bulk/jobs/{public_id}", headers=HX)
        if "25 of 25 done" in body(page) and "every 1s" not in body(page):
            break
        assert 'data-hx-trigger="every 1s"' in body(page)
        assert time.monotonic() < deadline, "the background job did not finish"
        time.sleep(0.05)
    assert len(audit_actions(app, "admin.unlock")) == 25
    assert len(audit_actions(app, "admin.bulk")) == 1
    with app.app_context():
        database.connect(reuse_if_open=True)
        assert User.select().where(User.hard_locked == True).count() == 0
    # A plain request gets a full page.
    assert "<html" in body(client.get(f"/admin/users/bulk/jobs/{public_id}"))


def test_more_than_500_refused(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    r = post(client, "/admin/users/bulk/unlock", {"ids": [str(i) for i in range(1, 503)]})
    assert r.status_code == 422 and says(body(r), "BULK_TOO_MANY", num=500)


def test_own_account_is_left_out(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    selected = ids_of(p["admin"], p["alice"])
    preview = post(client, "/admin/users/bulk/disable/confirm", {"ids": selected}, htmx=True)
    assert says(body(preview), "BULK_SKIPPED_SELF") and "these 1 users" not in body(preview)
    r = post(
        client, "/admin/users/bulk/disable", {"ids": selected, "confirm_count": "1"}, htmx=True
    )
    assert r.status_code == 200
    assert not db_get(app, User, User.id == p["admin"].id).disabled
    assert db_get(app, User, User.id == p["alice"].id).disabled
    assert client.get("/admin/users").status_code == 200  # still signed in
