"""Checklist section E: sessions, against a live server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import portal
from portal import config
from portal.models import UserSession

from .client import NEW_PASSWORD, PASSWORD, SESSION_COOKIE, cookie_payload
from .flows import admin_reset, admin_set_password


def test_E1_cookie_attributes(live):
    account = live.account("eone", first_name="Evelyn", last_name="Onesworth")
    browser = live.client()
    response = browser.login(account.username)
    (session_cookie,) = [c for c in response.cookies if c.startswith(SESSION_COOKIE + "=")]
    attributes = [part.strip().lower() for part in session_cookie.split(";")[1:]]
    assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
    assert not any(a.startswith("domain") for a in attributes)
    for cookie in response.cookies:
        assert "Secure" in cookie and "HttpOnly" in cookie
        value = cookie.split(";")[0].split("=", 1)[1]
        readable = json.dumps(cookie_payload(value)) if cookie.startswith(SESSION_COOKIE) else value
        for personal in (account.username, account.email, "Evelyn", "Onesworth"):
            assert personal.lower() not in readable.lower()


def test_E2_session_ids_have_256_bits(live):
    account = live.account("etwo")
    ids = []
    for _ in range(20):
        browser = live.client()
        assert browser.login(account.username).status == 303
        ids.append(cookie_payload(browser.session)["sid"])
    assert len(set(ids)) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_\-]{43,}", sid) for sid in ids)


def test_E3_new_session_at_sign_in(live):
    account = live.account("ethree")
    browser = live.client()
    browser.get("/login")
    before = dict(browser.cookies)
    assert browser.login(account.username).status == 303
    assert browser.session != before.get(SESSION_COOKIE)
    attacker = live.client()
    attacker.cookies = before  # the pre-login cookie (a planted one, say)
    response = attacker.get("/")
    assert response.status == 302 and response.location.startswith("/login")


def test_E4_logout_is_real_on_the_server(live):
    account = live.account("efour")
    browser = live.client()
    browser.login(account.username)
    copied = dict(browser.cookies)
    assert live.client().get("/logout").status == 405
    response = browser.logout()
    assert response.status == 303
    assert response.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    assert any(
        c.startswith(SESSION_COOKIE + "=;") or "Max-Age=0" in c or "1970" in c
        for c in response.cookies
        if c.startswith(SESSION_COOKIE)
    )
    replay = live.client()
    replay.cookies = copied
    after = replay.get("/")
    assert after.status == 302 and after.location.startswith("/login")


def test_E5_idle_and_absolute_timeouts_on_the_server(live):
    assert (config.DEFAULTS["SESSION_IDLE_MINUTES"], config.DEFAULTS["SESSION_ABSOLUTE_HOURS"]) == (
        30,
        12,
    )
    account = live.account("efive")
    idle, busy = live.client(), live.client()
    idle.login(account.username)
    busy.login(account.username)
    rows = {}
    with live.db():
        for row in UserSession.select().where(UserSession.user == account.id):
            rows[row.id_hash] = row
    idle_hash, busy_hash = sorted(rows, key=lambda h: rows[h].created_at)
    # 1. Idle for longer than the limit.
    live.age(UserSession, UserSession.id_hash == idle_hash, last_seen_at=31 * 60)
    kept = dict(idle.cookies)
    gone = idle.get("/")
    assert gone.status == 302 and gone.location.startswith("/login")
    # 2. Active all along, but started more than 12 hours ago.
    live.age(UserSession, UserSession.id_hash == busy_hash, created_at=12 * 3600 + 60)
    assert busy.get("/").status == 302
    # 3. The cookie itself cannot extend anything: the same value, resent, stays anonymous.
    replay = live.client()
    replay.cookies = kept
    assert replay.get("/").status == 302


def test_E6_no_remember_me(live):
    account = live.account("esix")
    browser = live.client()
    response = browser.login(account.username)
    names = [c.split("=", 1)[0] for c in response.cookies]
    assert not any("remember" in n.lower() for n in names), names
    (session_cookie,) = [c for c in response.cookies if c.startswith(SESSION_COOKIE)]
    assert "expires" not in session_cookie.lower() and "max-age" not in session_cookie.lower()
    # The long-lived device cookie (issue 11, finding 4) only spares this browser the
    # account's lockout waits: on its own it signs nobody in.
    device = {k: v for k, v in browser.cookies.items() if "device" in k}
    assert device
    alone = live.client()
    alone.cookies = device
    home = alone.get("/")
    assert home.status == 302 and home.location.startswith("/login")


@pytest.mark.parametrize(
    "how", ["own_change", "admin_reset", "admin_password", "disable", "end_sessions"]
)
def test_E7_every_session_ends_at_once(live, admin, how):
    account = live.account("eseven")
    a, b = live.client(), live.client()
    a.login(account.username)
    b.login(account.username)
    if how == "own_change":
        old = a.session
        assert a.change_password(PASSWORD, NEW_PASSWORD).status == 303
        assert a.get("/").status == 200 and a.session != old
    elif how == "admin_reset":
        assert admin_reset(admin[1], account.id)[1]
    elif how == "admin_password":
        assert admin_set_password(admin[1], account.id, NEW_PASSWORD).status in (200, 303)
    else:
        action = "disable" if how == "disable" else "sessions/end"
        response = admin[1].form(f"/admin/users/{account.id}/{action}", {}, page="/admin/users")
        assert response.status in (200, 303)
    for browser in [b] if how == "own_change" else [a, b]:
        response = browser.get("/")
        assert response.status == 302 and response.location.startswith("/login"), how


def test_E8_reauthentication_before_changing_ones_own_email(live):
    """Own email change (/account/email): refused without the current password; with it, a
    confirmation to the new address and a notice to the old one; the email changes only
    when the confirmation link is used."""
    account = live.account("eeight")
    browser = live.client()
    browser.login(account.username)
    new = f"moved.{account.username}@example.test"
    refused = browser.form("/account/email", {"email": new, "current_password": ""})
    assert refused.status == 422
    wrong = browser.form("/account/email", {"email": new, "current_password": "not it at all 1"})
    assert wrong.status == 422
    assert not live.mails_to(new)
    asked = browser.form("/account/email", {"email": new, "current_password": PASSWORD})
    assert asked.status == 303
    (confirmation,) = live.wait_mails(new)
    (notice,) = live.wait_mails(account.email)  # to the old address, with "this wasn't me"
    assert "/account/not-me/" in live.text(notice)
    assert live.user(account.id).email == account.email  # nothing changes yet
    link = re.search(
        r"https?://[^/\s]+(/account/confirm/[A-Za-z0-9_-]+)", live.text(confirmation)
    ).group(1)
    landing = browser.get(link)
    assert landing.status == 302 and landing.location == "/account/confirm"
    assert live.user(account.id).email == account.email  # opening the link does not act
    done = browser.form("/account/confirm", {})
    assert done.status == 303
    assert live.user(account.id).email == new


def test_E9_no_caching_of_authenticated_or_auth_flow_pages(live, admin):
    account = live.account("enine")
    anonymous = live.client()
    link = live.request_link(account)
    responses = [anonymous.get(p) for p in ("/login", "/password/forgot")]
    responses.append(anonymous.get(link))
    responses.append(anonymous.get("/password/reset"))
    user = live.client()
    user.login(account.username)
    responses += [user.get("/password/change"), user.get("/")]
    for path in (
        "/admin/users",
        f"/admin/users/{account.id}",
        "/admin/audit",
        "/admin/overview",
        "/admin/teams",
        "/admin/settings",
    ):
        responses.append(admin[1].get(path))
        responses.append(admin[1].get(path, headers={"HX-Request": "true"}))
    for response in responses:
        assert response.headers.get("cache-control") == "no-store", response.status


def test_E10_htmx_history_keeps_no_secrets(live, admin):
    account = live.account("eten")
    page = admin[1].get("/admin/users").text
    config_meta = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', page)
    assert json.loads(config_meta.group(1))["history"] == "reload"  # no snapshots kept
    vendored = Path(portal.__file__).parent / "static" / "vendor"
    for script in vendored.glob("htmx*.js"):
        assert "localStorage" not in script.read_text()
    response, temp = admin_reset(admin[1], account.id, **{"HX-Request": "true"})
    assert temp and response.headers["hx-push-url"] == "false"
    assert response.headers["cache-control"] == "no-store"
