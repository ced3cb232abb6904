"""Passcodes through the test client (F19): settings, one's own passcode on the account
page, API keys in Settings (administrators' resets: test_passcode_admin.py)."""

from __future__ import annotations

import re

from portal import settings
from portal.db import database
from portal.models import ApiKey, OutboxMail
from portal.passcodes import apikeys
from portal.passcodes.policy import error_text, rule_text

from ..helpers import (
    HX,
    PASSWORD,
    age_session,
    audit_actions,
    body,
    csrf_of,
    english,
    login,
    people,
    post,
    says,
)
from .passcode_helpers import (
    GOOD,
    OTHER,
    account_post,
    configure,
    in_ctx,
    passcode_row,
    set_passcode,
    verify,
)

# --- settings -------------------------------------------------------------------------------


def test_passcodes_are_off_by_default_and_everything_about_them_is_hidden(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    assert "passcode" not in body(client.get("/")).lower()
    assert client.get("/account/passcode").status_code == 404
    assert client.get(f"/admin/users/{p['alice'].id}/passcode/reset").status_code == 404
    assert not says(body(client.get("/admin/users")), "RESET_PASSCODE")  # nor RESET_PASSCODES
    assert says(body(client.get("/admin/settings")), "PASSCODE_SETTINGS")


def test_admin_turns_passcodes_on_and_sets_the_length(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    page = client.get("/admin/settings/passcodes")
    assert page.status_code == 200 and 'value="6"' in body(page)
    bad = post(
        client, "/admin/settings/passcodes", {"passcodes_enabled": "y", "passcode_length": "13"}
    )
    assert bad.status_code == 422 and says(body(bad), "NUMBER_RANGE", low=4, high=12)
    assert 'value="13"' in body(bad)
    bad = post(
        client, "/admin/settings/passcodes", {"passcodes_enabled": "y", "passcode_length": "six"}
    )
    assert bad.status_code == 422 and says(body(bad), "WHOLE_NUMBER") and 'value="six"' in body(bad)
    ok = post(
        client, "/admin/settings/passcodes", {"passcodes_enabled": "y", "passcode_length": "8"}
    )
    assert ok.status_code == 303
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        values = settings.current()
        assert values["PASSCODES_ENABLED"] is True and values["PASSCODE_LENGTH"] == 8
    (event,) = audit_actions(app, "settings.update")
    assert '"PASSCODE_LENGTH": [6, 8]' in event.detail
    assert english(app, lambda: rule_text("length", 8)) in body(client.get("/account/passcode"))


def test_only_administrators_reach_passcode_settings(app, client, make_user):
    people(make_user)
    login(client, "mgrA")
    assert client.get("/admin/settings/passcodes").status_code == 403
    r = post(
        client, "/admin/settings/api-keys", {"name": "x"}, csrf=csrf_of(client.get("/admin/users"))
    )
    assert r.status_code == 403


# --- one's own passcode ----------------------------------------------------------------------


def test_user_sets_and_changes_own_passcode(app, client, make_user):
    alice = make_user("alice")
    configure(app)
    login(client, "alice")
    home = body(client.get("/"))
    assert says(home, "PASSCODE_LINK") and says(home, "PASSCODE_NOT_SET")
    page = body(client.get("/account/passcode"))
    rules = [english(app, lambda k=k: rule_text(k, 6)) for k in ("length", "no_sequence")]
    assert says(page, "SET_PASSCODE") and all(rule in page for rule in rules)
    wrong = account_post(client, current_password="not my password", passcode=GOOD, confirm=GOOD)
    assert wrong.status_code == 422 and says(body(wrong), "CURRENT_PASSWORD_WRONG")
    assert f'value="{GOOD}"' in body(wrong)  # nothing typed is lost
    weak = account_post(client, current_password=PASSWORD, passcode="123456", confirm="123456")
    errors = {
        k: english(app, lambda k=k: error_text(k, 6)) for k in ("no_sequence", "match", "digits")
    }
    assert weak.status_code == 422 and errors["no_sequence"] in body(weak)
    mismatch = account_post(client, current_password=PASSWORD, passcode=GOOD, confirm=OTHER)
    assert mismatch.status_code == 422 and errors["match"] in body(mismatch)
    letters = account_post(client, current_password=PASSWORD, passcode="73a541", confirm="73a541")
    assert letters.status_code == 422 and errors["digits"] in body(letters)
    assert passcode_row(app, alice) is None
    done = account_post(client, current_password=PASSWORD, passcode=GOOD, confirm=GOOD)
    assert done.status_code == 303
    row = passcode_row(app, alice)
    assert row.passcode_hash.startswith("$2b$") and GOOD not in row.passcode_hash
    assert not row.temporary
    assert says(body(client.get("/account/passcode")), "CHANGE_PASSCODE")
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
    refusal = english(app, lambda: error_text("not_personal", 6))
    assert r.status_code == 422 and refusal in body(r)


def test_live_checklist(app, client, make_user):
    make_user("alice")
    configure(app)
    login(client, "alice")
    token = csrf_of(client.get("/account/passcode"))
    r = client.post(
        "/account/passcode/check", data={"passcode": "1111", "csrf_token": token}, headers=HX
    )
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
    raw = re.search(
        r'<output id="new-api-key" class="temp-password">([^<]+)</output>', body(r)
    ).group(1)
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
    assert says(body(client.get("/admin/settings/passcodes")), "API_KEY_REVOKED")
    details = [
        e.detail for e in audit_actions(app) if e.action in ("apikey.create", "apikey.revoke")
    ]
    assert audit_actions(app, "apikey.refused")
    assert len(details) == 2 and all("Phone system" in d and raw not in d for d in details)


def test_api_key_actions_need_a_recent_password_entry(app, client, make_user):
    make_user("admin", role="admin")
    login(client, "admin")
    age_session(app)
    r = post(client, "/admin/settings/api-keys", {"name": "Phone system"})
    assert r.status_code == 401 and 'name="name" value="Phone system"' in body(r)
    assert in_ctx(app, apikeys.listing) == []
