"""Directory (SSO) accounts in a real browser: the provider choice on the sign-in and
recovery pages in English and French, a directory sign-in, and recovery through a real
mail whose new password lands in a real slapd."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import fill_live, sign_in
from tests.helpers import says
from tests.ldap_server import GROUPS, Slapd

pytestmark = pytest.mark.e2e

DORA = "dora directory pass 1"
NEW = "harbour lantern meadow 7731"


@pytest.fixture
def sso(live, tmp_path):
    try:
        server = Slapd(tmp_path / "slapd").setup().start()
    except Exception as exc:  # no slapd: fail, never skip
        pytest.fail(f"could not start slapd: {exc}")
    live.app.config.update(server.settings(LDAP_ATTR_TEAM=GROUPS))
    yield server
    server.stop()


def options(page) -> list[str]:
    return [o.strip() for o in page.locator("select[name=provider] option").all_inner_texts()]


def test_provider_choice_in_english_and_french(live, sso, page):
    page.goto(f"{live.url}/login?lang=en")
    assert page.get_by_label("Sign in with").is_visible()
    assert options(page) == ["Passgate account", "Organisation directory (SSO)"]
    page.goto(f"{live.url}/password/forgot")
    assert page.get_by_label("Account type").is_visible()
    assert options(page) == ["Passgate account", "Organisation directory (SSO)"]

    page.goto(f"{live.url}/login?lang=fr")
    assert page.get_by_label("Se connecter avec").is_visible()
    assert options(page) == ["Compte Passgate", "Annuaire de l’organisation (SSO)"]
    page.goto(f"{live.url}/password/forgot")
    assert page.get_by_label("Type de compte").is_visible()
    assert options(page) == ["Compte Passgate", "Annuaire de l’organisation (SSO)"]


def test_no_provider_choice_without_a_directory(live, page):
    page.goto(f"{live.url}/login")
    assert page.locator("select[name=provider]").count() == 0
    page.goto(f"{live.url}/password/forgot")
    assert page.locator("select[name=provider]").count() == 0


def test_directory_sign_in_and_recovery_through_mail(live, sso, page):
    page.goto(f"{live.url}/login")
    page.get_by_label("Sign in with").select_option("sso")
    page.get_by_label("Username or email").fill("dora")
    page.locator("input[name=password]").fill(DORA)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url.rstrip("/") == live.url
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()

    page.goto(f"{live.url}/password/forgot")
    page.get_by_label("Account type").select_option("sso")
    page.get_by_label("Username or email").fill("dora@school.test")
    with page.expect_navigation():
        page.get_by_role("button", name="Email me a link").click()
    page.goto(live.link("dora@school.test"))
    fill_live(page, "New password", NEW, exact=True)
    fill_live(page, "Confirm new password", NEW)
    with page.expect_navigation():
        page.get_by_role("button", name="Save password").click()
    assert says(page.locator(".flash").first.inner_text(), "PASSWORD_RESET_DONE")
    assert sso.can_bind("dora", NEW) and not sso.can_bind("dora", DORA)

    # The local provider does not accept a directory account, whatever was typed.
    sign_in(page, live.url, "dora", NEW)
    assert "incorrect" in page.get_by_role("alert").inner_text()
