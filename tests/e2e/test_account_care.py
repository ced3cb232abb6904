"""Issue 10, items 1-3 in a real browser: "this wasn't me" from the delivered mail to the
locked account, and axe-core on every account-care page in English and French."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.axe import axe_violations
from tests.e2e.helpers import fill_live, sign_in
from tests.helpers import PASSWORD

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "quiet meadow lantern 2041 river"


def text_of(message) -> str:
    """The text/plain part of a delivered message."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.test"


def account_link(live, address: str, kind: str, count: int = 1) -> str:
    text = text_of(live.smtp.wait_for(address, count=count))
    found = re.findall(re.escape(live.url) + rf"/account/{kind}/[A-Za-z0-9_\-]+", text)
    assert found, f"no /account/{kind}/ link in:\n{text}"
    return found[0]


def test_not_me_from_the_mail_to_the_locked_account(live, new_page):
    address, admin_address = unique_email("alice"), unique_email("root")
    live.make_user("alice", email=address, first_name="Alice")
    live.make_user("root", email=admin_address, role="admin")
    # Someone who knows the password changes it...
    intruder = new_page()
    sign_in(intruder, live.url, "alice")
    intruder.goto(f"{live.url}/password/change")
    intruder.get_by_label("Current password").fill(PASSWORD)
    fill_live(intruder, "New password", NEW_PASSWORD, exact=True)
    fill_live(intruder, "Confirm new password", NEW_PASSWORD)
    with intruder.expect_navigation():
        intruder.get_by_role("button", name="Save new password").click()
    assert intruder.url.rstrip("/") == live.url
    # ...and the owner reads the notice: when, from where, which browser.
    notice = text_of(live.smtp.wait_for(address))
    assert "127.0.0.1" in notice and "Chrom" in notice
    owner = new_page()
    owner.goto(account_link(live, address, "not-me"))
    assert owner.url == f"{live.url}/account/not-me"  # the token left the address bar
    assert axe_violations(owner) == []
    with owner.expect_navigation():
        owner.get_by_role("button", name="Lock my account").click()
    assert owner.get_by_role("heading", name="Your account is locked").is_visible()
    assert axe_violations(owner) == []
    # The intruder's session is over and the password no longer signs in.
    intruder.goto(f"{live.url}/")
    assert "/login" in intruder.url
    sign_in(intruder, live.url, "alice", NEW_PASSWORD)
    assert "/login" in intruder.url
    assert "incorrect" in intruder.get_by_role("alert").inner_text()
    alert = text_of(live.smtp.wait_for(admin_address))
    assert "alice" in alert
    # The link worked once.
    owner.goto(account_link(live, address, "not-me"))
    assert owner.get_by_role("heading", name="This link can no longer be used").is_visible()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_account_care_pages_pass_axe(live, new_page, lang):
    address = unique_email("carla")
    live.make_user("carla", email=address, first_name="Carla")
    page = new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, live.url, "carla")
    found = {}

    def check(name):
        violations = axe_violations(page)
        if violations:
            found[name] = violations

    page.goto(f"{live.url}/account/recovery?lang={lang}")
    check("recovery")
    backup = unique_email("carla-home")
    page.locator("input[name=backup_email]").fill(backup)
    page.locator("input[name=current_password]").fill("not the password")
    with page.expect_navigation():
        page.locator("form[action$='/account/recovery'] button[type=submit]").click()
    assert page.locator("#current_password-error").is_visible()
    assert page.locator("input[name=backup_email]").input_value() == backup  # kept
    check("recovery-error")
    page.locator("input[name=current_password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form[action$='/account/recovery'] button[type=submit]").click()
    check("recovery-pending")
    page.goto(account_link(live, backup, "confirm"))
    check("confirm")
    with page.expect_navigation():
        page.locator("form[action$='/account/confirm'] button[type=submit]").click()
    check("recovery-with-backup")  # the remove form is there now
    page.goto(f"{live.url}/account/email")
    check("email")
    page.locator("input[name=email]").fill("not an address")
    page.locator("input[name=current_password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form[action$='/account/email'] button[type=submit]").click()
    assert page.locator("#email-error").is_visible()
    check("email-error")
    page.goto(f"{live.url}/password/forgot")
    page.locator("input[name=identifier]").fill(backup)
    with page.expect_navigation():
        page.locator("form[action$='/password/forgot'] button[type=submit]").click()
    page.goto(account_link(live, backup, "not-me", count=2))
    check("not-me-reset")
    with page.expect_navigation():
        page.locator("form[action$='/account/not-me'] button[type=submit]").click()
    check("not-me-done")
    page.goto(account_link(live, backup, "not-me", count=2))
    check("link-invalid")
    assert page.locator("html").get_attribute("lang") == lang
    assert not found, found
