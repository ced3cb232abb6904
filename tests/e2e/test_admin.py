"""Issue 3 in a real browser: live search, Reset & Unlock through the dialog with Copy,
bulk recovery links through real SMTP, and a manager confined to their own team."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.helpers import PASSWORD, fill_live, sign_in

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "amber cobble lighthouse 3190 fern"


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.test"


def rows(page):
    return page.locator("table tbody tr")


def row_of(page, username: str):
    return rows(page).filter(has=page.get_by_text(username, exact=True))


def action(scope, name):
    """A row or dialog action, whether it is rendered as a link or a button."""
    return scope.get_by_role("link", name=name).or_(scope.get_by_role("button", name=name)).first


def search_box(page):
    return page.get_by_role("searchbox").first


def open_users(page, base_url: str) -> None:
    page.goto(f"{base_url}/admin/users")
    assert page.get_by_role("heading", level=1).first.inner_text().strip() == "Users"
    rows(page).first.wait_for()


def test_live_search_narrows_without_reload(live, page):
    live.make_user("root", role="admin", email=unique_email("root"))
    for name in ("maple", "maplewood", "oak", "birch", "cedar", "willow"):
        live.make_user(name, email=unique_email(name), last_name=name.title())

    sign_in(page, live.url, "root")
    open_users(page, live.url)
    total = rows(page).count()
    assert total >= 7, total
    page.evaluate("window.__marker = 'no reload'")

    search_box(page).press_sequentially("maple", delay=30)
    page.wait_for_function("n => document.querySelectorAll('table tbody tr').length < n", arg=total)
    names = rows(page).all_inner_texts()
    assert len(names) == 2, names
    assert all("maple" in text for text in names), names
    assert page.evaluate("window.__marker") == "no reload"
    # The URL reflects the search (bookmarkable), and Back returns to the full list.
    assert "maple" in page.url, page.url
    page.go_back()
    page.wait_for_function(
        "n => document.querySelectorAll('table tbody tr').length == n", arg=total
    )
    assert "maple" not in page.url, page.url
    assert search_box(page).input_value() == ""


def test_reset_and_unlock_copy_then_forced_change(live, page, new_page):
    live.make_user("root", role="admin", email=unique_email("root"))
    live.make_user("frank", email=None, first_name="Frank", last_name="Moreau")

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, live.url, "root")
    open_users(page, live.url)
    row = row_of(page, "frank")
    action(row, "Reset & Unlock").click()

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert re.search(
        r"Are you sure you want to reset the password and unlock the account for "
        r".*Frank",
        dialog.inner_text(),
    ), dialog.inner_text()
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/reset")
    ) as posted:
        dialog.get_by_role("button", name="Reset & Unlock").click()
    # The answer carrying the password is never stored by the browser or pushed to history.
    assert "no-store" in (posted.value.headers.get("cache-control") or ""), posted.value.headers

    page.get_by_role("heading", name=re.compile(r"Password has been reset for .*Frank")).wait_for()
    assert page.url == f"{live.url}/admin/users", page.url
    shown = page.locator(".temp-password").first
    temp = re.sub(r"\s+", "", shown.inner_text())
    assert len(temp) >= 12, temp
    # No email on file: Send email is disabled, with the reason.
    send = page.get_by_role("button", name=re.compile("Send email"))
    assert send.is_disabled()

    page.get_by_role("button", name="Copy").first.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == temp, (copied, temp)

    other = new_page()
    sign_in(other, live.url, "frank", copied)
    assert other.url == f"{live.url}/password/change", other.url
    other.goto(f"{live.url}/")
    assert other.url == f"{live.url}/password/change"
    other.get_by_label("Current password").fill(copied)
    fill_live(other, "New password", NEW_PASSWORD, exact=True)
    fill_live(other, "Confirm new password", NEW_PASSWORD)
    other.get_by_role("button", name="Save new password").click()
    # The 303 and the page it leads to: wait for the URL, not the first navigation event
    # (under load that event came before the redirect was followed).
    other.wait_for_url(f"{live.url}/")


def test_bulk_recovery_links_preview_and_mail(live, page):
    live.make_user("root", role="admin", email=unique_email("root"))
    address = unique_email("gina")
    live.make_user("gina", email=address)
    live.make_user("hugo", email=None, password=PASSWORD)
    live.make_user("ines", email=unique_email("ines"))

    sign_in(page, live.url, "root")
    open_users(page, live.url)
    before = len(live.smtp.to(address))
    row_of(page, "gina").get_by_role("checkbox").check()
    row_of(page, "hugo").get_by_role("checkbox").check()
    page.get_by_role("button", name="Send recovery links").click()

    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    preview = dialog.inner_text()
    assert re.search(r"No email on file", preview, re.IGNORECASE), preview
    assert "hugo" in preview, preview
    assert "ines" not in preview, preview
    eligible = dialog.locator("[data-count=eligible]").inner_text().strip()
    assert eligible == "1", preview
    # Sending links is not destructive: no number to type; the button says what it does.
    assert dialog.locator("input[name=confirm_count]").count() == 0
    dialog.get_by_role("button", name="Send 1 recovery link").click()

    link = live.link(address, count=before + 1)
    assert "/password/reset/" in link
    page.wait_for_timeout(500)
    assert live.smtp.to(address) and len(live.smtp.to(address)) == before + 1
    # Nobody else was mailed: the user without email cannot be, ines was not selected.
    ines_mail = [m for r, m in live.smtp.messages if any(x.startswith("ines-") for x in r)]
    assert not ines_mail


def test_manager_sees_only_own_team(live, page):
    live.make_user("mona", role="manager", team="Red", email=unique_email("mona"))
    live.make_user("rita", team="Red", email=unique_email("rita"))
    blue = live.make_user("bert", team="Blue", email=unique_email("bert"))

    sign_in(page, live.url, "mona")
    open_users(page, live.url)
    listed = " ".join(rows(page).all_inner_texts())
    assert "rita" in listed
    assert "bert" not in listed
    # Searching for the other team's user finds nothing either.
    search_box(page).fill("bert")
    page.wait_for_function(
        "() => !document.querySelector('table tbody')"
        " || !document.querySelector('table tbody').innerText.includes('rita')"
    )
    assert "bert" not in page.locator("main").inner_text()

    # The edit (pencil) URL of a user in another team is forbidden, not a 500 or a blank;
    # it is built from the real link of the manager's own user.
    open_users(page, live.url)
    href = action(row_of(page, "rita"), re.compile(r"^Edit")).get_attribute("href")
    rita_id = re.search(r"/admin/users/(\d+)", href).group(1)
    assert int(rita_id) != blue.id
    own = page.goto(live.url + href)
    assert own.status == 200, own.status
    other = href.replace(f"/admin/users/{rita_id}", f"/admin/users/{blue.id}", 1)
    response = page.goto(live.url + other)
    assert response.status == 403, response.status
    assert page.get_by_role("heading", level=1).is_visible()
    assert "bert" not in page.locator("main").inner_text()
