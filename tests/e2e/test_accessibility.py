"""Issue 8: every page and dialog, in English and in French, passes axe-core with no
serious or critical violation, under the app's own Content-Security-Policy (the browser
watch also fails the test on any CSP violation, e.g. htmx re-rendering a dialog)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.axe import AXE_VERSION, axe_violations
from tests.e2e.tour import seed, sign_in, tour

pytestmark = pytest.mark.e2e


def _stale(live):
    def make_stale():
        from portal.models import UserSession, utcnow

        with live.db():
            UserSession.update(authenticated_at=utcnow() - timedelta(hours=3)).execute()

    return make_stale


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_screen_and_dialog_passes_axe(live, new_page, lang):
    seed(live.app)
    page = new_page(viewport={"width": 1280, "height": 800})
    found: dict[str, list] = {}
    visited: list[str] = []

    def visit(name):
        visited.append(name)
        violations = axe_violations(page)
        if violations:
            found[name] = violations

    tour(page, live.url, lang, visit, stale=_stale(live))
    # The tour really went everywhere (a shortened walk would pass trivially).
    for name in (
        "login-error",
        "forgot-sent",
        "overview",
        "overview-numbers",
        "change-password-errors",
        "users-one-row-menu",
        "dialog-edit-user",
        "dialog-reset-result",
        "dialog-bulk-reset-error",
        "dialog-reauth-error",
        "dialog-bulk-reset-results",
        "import",
        "import-new-teams",
        "import-done",
        "teams-error",
        "team-edit",
        "team-delete",
        "audit",
        "settings",
    ):
        assert name in visited, visited
    assert not found, f"axe-core {AXE_VERSION} ({lang}): " + "\n".join(
        f"{screen}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}"
        for screen, violations in found.items()
        for v in violations
    )


def test_the_axe_check_can_fail(live, page):
    """The two violations the first walk-through found are reported when put back."""
    seed(live.app)
    sign_in(page, live.url)
    page.goto(f"{live.url}/admin/users/import")
    assert axe_violations(page) == []
    page.evaluate("""() => {
      document.querySelector('input[type=file]').setAttribute('aria-invalid', 'None');
      const wrap = document.createElement('div');
      wrap.className = 'table-wrap';
      wrap.innerHTML = '<table class="data"><tr><td>' + 'x'.repeat(4000) + '</td></tr></table>';
      document.querySelector('main').append(wrap);
    }""")
    assert {v["id"] for v in axe_violations(page)} == {
        "aria-valid-attr-value",
        "scrollable-region-focusable",
    }


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_recovery_link_pages_pass_axe(live, new_page, lang):
    """The page a recovery link opens, before and after an error (reached through mail)."""
    import uuid

    address = f"rita-{uuid.uuid4().hex[:8]}@example.test"
    live.make_user("rita", email=address, first_name="Rita", last_name="Recovery")
    page = new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{live.url}/password/forgot?lang={lang}")
    page.locator("input[name=identifier]").fill("rita")
    with page.expect_navigation():
        page.locator("form button[type=submit]").first.click()
    page.goto(live.link(address))
    page.locator("[data-countdown]").wait_for()
    found = {"reset": axe_violations(page)}
    page.locator("input[name=password]").fill("amber cobble lighthouse 3190 fern")
    page.locator("input[name=confirm]").fill("amber cobble lighthouse 3190 fen")
    page.locator("#reset-form button[type=submit]").click()
    page.locator("#confirm-error").wait_for()
    # What was typed is still there after the error.
    assert page.locator("input[name=password]").input_value() == "amber cobble lighthouse 3190 fern"
    found["reset-error"] = axe_violations(page)
    assert found == {"reset": [], "reset-error": []}, found
