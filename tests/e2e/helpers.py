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
