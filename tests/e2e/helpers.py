"""Helpers of the browser tests."""

from __future__ import annotations

from tests.helpers import PASSWORD


def sign_in(page, base_url: str, identifier: str, password: str = PASSWORD) -> None:
    """Fill and submit the sign-in form (waits for the resulting navigation)."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Username or email").fill(identifier)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def fill_live(page, label: str, value: str, exact: bool = False) -> None:
    """Type into a field the live password checklist follows and wait for its answer. A
    click right after the typing could otherwise land while the checklist above the
    buttons is swapped (300 ms later) and moves them: a busy machine saw clicks that
    submitted nothing."""
    with page.expect_response(lambda response: "/password/check" in response.url):
        page.get_by_label(label, exact=exact).fill(value)
