"""My sessions in a real browser (issue 10, item 4): the page lists the user's browsers,
ends another one with htmx (that browser is signed out), ends all others, and passes
axe-core in English and French; the admin's view on the user page too."""

from __future__ import annotations

import pytest

from portal.messages import MESSAGES
from tests.e2e.axe import AXE_VERSION, axe_violations
from tests.e2e.tour import sign_in

pytestmark = pytest.mark.e2e

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
TABLET_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel Tablet) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/126.0.0.0 Safari/537.36"
)


def _no_violations(page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"axe-core {AXE_VERSION} on {where}: " + "\n".join(
        f"{v['impact']} {v['id']} ({v['help']}) at {v['nodes']}" for v in violations
    )


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_sessions_page_ends_other_browsers(live, new_page, lang):
    live.make_user("alice", email="alice@example.test", first_name="Alice")
    phone = new_page(user_agent=PHONE_UA)
    tablet = new_page(user_agent=TABLET_UA)
    laptop = new_page(viewport={"width": 1280, "height": 800})
    for page in (phone, tablet, laptop):
        sign_in(page, live.url, "alice", lang)
    # From the navigation to the page.
    label = "Mes sessions" if lang == "fr" else "My sessions"
    laptop.get_by_role("navigation").get_by_role("link", name=label).click()
    laptop.wait_for_url(f"{live.url}/account/sessions")
    rows = laptop.locator("tr[data-session]")
    assert rows.count() == 3
    current = laptop.locator("tr[data-current]")
    assert current.count() == 1
    assert ("Cette session" if lang == "fr" else "This session") in current.inner_text()
    phone_row = laptop.locator("tr[data-session]", has_text="Safari")
    assert ("Safari sous iOS" if lang == "fr" else "Safari on iOS") in phone_row.inner_text()
    _no_violations(laptop, f"/account/sessions ({lang})")

    # End the phone's session: htmx swaps the list in place (no navigation).
    end = "Terminer la session" if lang == "fr" else "End session"
    phone_row.get_by_role("button", name=end).click()
    ended = "La session a été terminée." if lang == "fr" else "The session has been ended."
    laptop.get_by_text(ended).wait_for()
    assert laptop.url == f"{live.url}/account/sessions"
    assert laptop.locator("tr[data-session]").count() == 2
    _no_violations(laptop, f"/account/sessions after ending one ({lang})")
    phone.goto(f"{live.url}/")
    assert "/login" in phone.url  # the phone is signed out
    tablet.goto(f"{live.url}/")
    assert "/login" not in tablet.url

    # End all the others.
    laptop.get_by_role(
        "button",
        name="Terminer toutes les autres sessions" if lang == "fr" else "End all other sessions",
    ).click()
    laptop.get_by_text(
        "1 autre session a été terminée." if lang == "fr" else "1 other session has been ended."
    ).wait_for()
    assert laptop.locator("tr[data-session]").count() == 1
    tablet.goto(f"{live.url}/")
    assert "/login" in tablet.url
    laptop.goto(f"{live.url}/")
    assert "/login" not in laptop.url


def test_admin_sees_and_ends_a_users_session(live, new_page):
    live.make_user("admin", role="admin", email="admin@example.test", first_name="Ada")
    alice = live.make_user("alice", email="alice@example.test", first_name="Alice")
    phone = new_page(user_agent=PHONE_UA)
    sign_in(phone, live.url, "alice")
    admin = new_page(viewport={"width": 1280, "height": 800})
    sign_in(admin, live.url, "admin")
    for lang in ("fr", "en"):
        admin.goto(f"{live.url}/admin/users/{alice.id}?lang={lang}")
        admin.locator("#sessions-region tr[data-session]").first.wait_for()
        _no_violations(admin, f"admin user page with sessions ({lang})")
    row = admin.locator("#sessions-region tr[data-session]", has_text="Safari")
    row.get_by_role("button", name="End session").click()
    admin.get_by_text(MESSAGES["SESSION_ENDED"]).wait_for()
    assert admin.locator("#sessions-region tr[data-session]").count() == 0
    phone.goto(f"{live.url}/")
    assert "/login" in phone.url
