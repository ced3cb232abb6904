"""Issue 2 in a real browser: sign-in, recovery through real mail with the countdown,
forced change, the live policy checklist, the French UI and an expired link."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest

from portal.messages import MESSAGES
from tests.e2e.helpers import PASSWORD, fill_live, sign_in
from tests.helpers import says

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "quiet meadow lantern 2041 river"


def unique_email(name: str) -> str:
    # One SMTP sink serves the whole session: keep every test's addresses distinct.
    return f"{name}-{uuid.uuid4().hex[:8]}@example.test"


def seconds(text: str) -> int:
    parts = [int(p) for p in re.findall(r"\d+", text)]
    assert 2 <= len(parts) <= 3, f"countdown text {text!r} is not M:SS / H:MM:SS"
    total = 0
    for p in parts:
        total = total * 60 + p
    return total


def test_sign_in_and_generic_error(live, page):
    live.make_user("alice", email=unique_email("alice"), first_name="Alice", last_name="Martin")

    sign_in(page, live.url, "alice", "not the right password at all")
    assert "/login" in page.url
    alert = page.get_by_role("alert")
    assert says(alert.inner_text(), "LOGIN_FAILED")
    # The typed identifier is kept, the password is not.
    assert page.get_by_label("Username or email").input_value() == "alice"
    assert page.locator("input[name=password]").input_value() == ""

    # An unknown account gets exactly the same message.
    sign_in(page, live.url, "nobody-here", PASSWORD)
    assert says(page.get_by_role("alert").inner_text(), "LOGIN_FAILED")

    sign_in(page, live.url, "ALICE", PASSWORD)  # usernames are case-insensitive
    assert page.url.rstrip("/") == live.url
    assert page.get_by_role("heading", level=1).inner_text().startswith("Hello")
    assert page.get_by_role("button", name="Sign out").is_visible()


def test_recovery_through_real_mail(live, page):
    address = unique_email("bob")
    live.make_user("bob", email=address)

    page.goto(f"{live.url}/login")
    page.get_by_role(
        "link", name="Forgotten your password or signing in for the first time?"
    ).click()
    page.wait_for_url("**/password/forgot")
    page.get_by_label("Username or email").fill(address)
    with page.expect_navigation():
        page.get_by_role("button", name="Email me a link").click()
    assert page.get_by_role("heading", name="Check your email").is_visible()

    link = live.link(address)

    # From the landing on, no request may carry the token (URL or Referer).
    token = link.rsplit("/", 1)[1]
    seen: list[str] = []
    page.goto(link)
    page.on("request", lambda r: seen.append(f"{r.url} referer={r.headers.get('referer')}"))
    assert page.url == f"{live.url}/password/reset", page.url
    assert page.get_by_role("heading", name="Choose a new password").is_visible()

    timer = page.locator("[data-countdown]")
    assert timer.is_visible()
    first = seconds(timer.inner_text())
    time.sleep(1.6)
    second = seconds(timer.inner_text())
    assert 0 < second < first, (first, second)

    rule = page.locator("#policy li[data-rule=min_length]")
    assert "ok" not in (rule.get_attribute("class") or "").split()
    fill_live(page, "New password", NEW_PASSWORD, exact=True)
    page.wait_for_selector("#policy li[data-rule=min_length].ok")
    fill_live(page, "Confirm new password", NEW_PASSWORD)
    page.wait_for_selector("#policy li[data-rule=match].ok")
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url("**/login**")
    assert says(page.locator(".flash").first.inner_text(), "PASSWORD_RESET_DONE")

    sign_in(page, live.url, "bob", NEW_PASSWORD)
    assert page.url.rstrip("/") == live.url
    assert page.get_by_role("heading", level=1).inner_text().startswith("Hello")

    assert seen, "no request recorded after the landing"
    leaked = [s for s in seen if token in s]
    assert not leaked, leaked


def test_forced_change_with_temporary_password(live, page):
    user = live.make_user("carol", password=None, email=None)
    assert user.temp, "a user without email must get a temporary password"

    sign_in(page, live.url, "carol", user.temp)
    assert page.url == f"{live.url}/password/change"
    assert page.get_by_text(MESSAGES["TEMP_PASSWORD_SIGNED_IN"]).is_visible()

    page.goto(f"{live.url}/")
    assert page.url == f"{live.url}/password/change", "home reachable before the change"

    page.get_by_label("Current password").fill(user.temp)
    fill_live(page, "New password", NEW_PASSWORD, exact=True)
    fill_live(page, "Confirm new password", NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    page.wait_for_url(f"{live.url}/")  # the 303's target, not just the first navigation
    assert page.get_by_role("heading", level=1).inner_text().startswith("Hello")
    page.goto(f"{live.url}/")
    assert page.url.rstrip("/") == live.url


def test_live_policy_checklist(live, page):
    live.make_user("dave", email=unique_email("dave"))
    sign_in(page, live.url, "dave")
    page.goto(f"{live.url}/password/change")
    rule = "#policy li[data-rule=min_length]"
    page.evaluate("window.__marker = 'still here'")

    fill_live(page, "New password", "abcdefghij", exact=True)  # 10 characters
    page.wait_for_selector(f"{rule}.bad")
    assert "ok" not in page.locator(rule).get_attribute("class").split()

    fill_live(page, "New password", "copper kettle orbit 19", exact=True)  # 22
    page.wait_for_selector(f"{rule}.ok")

    # Nothing was submitted: same document, fields still filled.
    assert page.evaluate("window.__marker") == "still here"
    assert page.url == f"{live.url}/password/change"


def test_french_ui(live, page):
    page.goto(f"{live.url}/login?lang=fr")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Se connecter"
    assert page.get_by_role("button", name="Se connecter").is_visible()
    # The choice is remembered without the parameter.
    page.goto(f"{live.url}/login")
    assert page.get_by_role("heading", level=1).inner_text() == "Se connecter"


def test_expired_link(live, page):
    from portal.links import issue as issue_link
    from portal.models import ResetToken, User, utcnow

    address = unique_email("erin")
    user = live.make_user("erin", email=address)
    with live.app.test_request_context():
        from portal.db import database

        database.connect(reuse_if_open=True)
        with database.atomic():
            issue_link(User.get_by_id(user.id), "reset")
        database.close()
    link = live.link(address)
    with live.db():
        updated = (
            ResetToken.update(expires_at=utcnow() - timedelta(minutes=1))
            .where(ResetToken.user == user.id)
            .execute()
        )
    assert updated == 2  # the link and its "this wasn't me" sibling

    page.goto(link)
    assert page.get_by_role("heading", name="This link can no longer be used").is_visible()
    assert "/password/reset/" not in page.url
    page.get_by_role("link", name="Ask for a new link").click()
    page.wait_for_url("**/password/forgot")
    assert page.get_by_label("Username or email").is_visible()


def test_invitation_sets_first_password(live, page):
    address = unique_email("fay")
    live.make_user("fay", password=None, email=address)  # invited: no password yet

    page.goto(live.link(address))
    assert page.url == f"{live.url}/password/reset"
    assert page.get_by_role("heading", name="Set your first password").is_visible()
    fill_live(page, "New password", NEW_PASSWORD, exact=True)
    fill_live(page, "Confirm new password", NEW_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Save password").click()
    sign_in(page, live.url, address, NEW_PASSWORD)  # by email this time
    assert page.url.rstrip("/") == live.url
