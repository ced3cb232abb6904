"""Passcodes in a real browser (F19): the live checklist and setting one's own passcode,
an administrator's Reset passcode through the row menu with Copy and Send email (real
SMTP), the temporary-passcode gate, and axe on each screen, under the app's CSP."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.axe import axe_violations
from tests.e2e.helpers import PASSWORD, sign_in
from tests.helpers import says

pytestmark = pytest.mark.e2e

GOOD = "730541"


def text_of(message) -> str:
    """The plain-text body of a received mail."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def turn_on(live) -> None:
    from portal import settings

    with live.app.test_request_context():
        with live.db():
            settings.save({"PASSCODES_ENABLED": True})


def test_user_sets_a_passcode_with_the_live_checklist(live, page):
    live.make_user("nina", email=f"nina-{uuid.uuid4().hex[:8]}@example.test")
    turn_on(live)
    sign_in(page, live.url, "nina")
    page.get_by_role("link", name="Set or change my passcode").click()
    page.get_by_role("heading", name="Set your passcode").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("New passcode", exact=True).press_sequentially("1234", delay=30)
    page.locator('#passcode-rules li.bad[data-rule="no_sequence"]').wait_for()
    page.get_by_label("New passcode", exact=True).fill("")
    page.get_by_label("New passcode", exact=True).press_sequentially(GOOD, delay=30)
    page.get_by_label("Confirm new passcode").press_sequentially(GOOD, delay=30)
    page.locator('#passcode-rules li.ok[data-rule="match"]').wait_for()
    assert page.locator("#passcode-rules li.bad").count() == 0
    page.get_by_label("Current password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Save passcode").click()
    assert page.url.rstrip("/") == live.url
    assert "Your passcode has been saved." in page.inner_text("main")


def test_admin_resets_a_passcode_copy_send_and_the_gate(live, page, new_page):
    address = f"omar-{uuid.uuid4().hex[:8]}@example.test"
    live.make_user("root", role="admin", email=f"root-{uuid.uuid4().hex[:8]}@example.test")
    live.make_user("omar", email=address, first_name="Omar", last_name="Benali")
    turn_on(live)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, live.url, "root")
    page.goto(f"{live.url}/admin/users")
    row = page.locator("table tbody tr").filter(has=page.get_by_text("omar", exact=True))
    row.get_by_role("button", name=re.compile("More")).click()
    row.get_by_role("link", name="Reset passcode").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "Omar Benali" in dialog.inner_text()
    assert axe_violations(page) == []
    dialog.get_by_role("button", name="Reset passcode").click()
    page.get_by_role("heading", name=re.compile("Passcode has been reset for")).wait_for()
    temp = page.locator("#temp-passcode").inner_text().strip()
    assert re.fullmatch(r"[0-9]{6}", temp), temp
    assert axe_violations(page) == []
    page.get_by_role("button", name="Copy").first.click()
    assert page.evaluate("navigator.clipboard.readText()") == temp
    page.get_by_role("button", name="Send email").click()
    page.get_by_text(f"Email sent to {address}").wait_for(timeout=15_000)
    live.smtp.wait_for(address, count=2)  # the notice of the reset, and the passcode
    mails = live.smtp.to(address)
    assert any(temp in text_of(m) for m in mails)

    other = new_page()
    sign_in(other, live.url, "omar")
    other.goto(f"{live.url}/")
    assert other.url == f"{live.url}/account/passcode", other.url
    assert says(other.inner_text("main"), "PASSCODE_TEMPORARY")
    other.get_by_label("Current password").fill(PASSWORD)
    other.get_by_label("New passcode", exact=True).fill(GOOD)
    other.get_by_label("Confirm new passcode").fill(GOOD)
    with other.expect_navigation():
        other.get_by_role("button", name="Save passcode").click()
    assert other.url.rstrip("/") == live.url


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_passcode_settings_and_account_pages_pass_axe(live, new_page, lang):
    live.make_user("root", role="admin", email=f"root-{uuid.uuid4().hex[:8]}@example.test")
    turn_on(live)
    page = new_page()
    sign_in(page, live.url, "root")
    page.goto(f"{live.url}/admin/settings/passcodes?lang={lang}")
    page.locator("input[name=name]").fill("Téléphonie")
    with page.expect_navigation():
        page.locator("#api-keys form button[type=submit]").first.click()
    key = page.locator("#new-api-key").inner_text().strip()
    assert key.startswith("pgk_")
    assert axe_violations(page) == []
    page.goto(f"{live.url}/account/passcode?lang={lang}")
    page.locator("#passcode").press_sequentially("1111", delay=20)
    page.locator('#passcode-rules li.bad[data-rule="no_repeat"]').wait_for()
    assert axe_violations(page) == []
