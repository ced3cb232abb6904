"""Every screen and dialog of Passgate, visited in a real browser.

Used by the axe-core check (tests/e2e/test_accessibility.py) and by
``tools/screenshots.py``: ``seed`` fills a database with realistic, long data and
``tour`` walks the screens as administrator, calling ``visit(name)`` on each one.
"""

from __future__ import annotations

from datetime import timedelta

PASSWORD = "violet lantern harbour 1987"
ADMIN = "camille.lefebvre"
MANAGER = "m.dubois"

TEAMS = ["Accounting & Payroll", "Front Desk", "Warehouse — North site", "Direction"]
PEOPLE = [
    # username, first, last, email, team, state
    ("a.martin", "Alice", "Martin", "alice.martin@cabinet-exemple.fr", "Front Desk", "active"),
    (
        "b.nguyen",
        "Bao",
        "Nguyen",
        "bao.nguyen@cabinet-exemple.fr",
        "Accounting & Payroll",
        "locked",
    ),
    (
        "c.dupont",
        "Céline",
        "Dupont-Aignan",
        "celine.dupont-aignan@cabinet-exemple.fr",
        "Accounting & Payroll",
        "waiting",
    ),
    ("d.okafor", "Daniel", "Okafor", None, "Warehouse — North site", "must_change"),
    ("e.rossi", "Elena", "Rossi", "elena.rossi@cabinet-exemple.fr", "Front Desk", "invited"),
    ("f.moreau", "François", "Moreau", "francois.moreau@cabinet-exemple.fr", None, "disabled"),
    ("g.bernard", "Gaëlle", "Bernard", "gaelle.bernard@cabinet-exemple.fr", "Direction", "active"),
    (
        "h.larochefoucauld",
        "Maximilien-Alexandre",
        "de La Rochefoucauld-Montbel",
        "maximilien-alexandre.de-la-rochefoucauld-montbel@services-comptables-regionaux.example.fr",
        "Accounting & Payroll",
        "active",
    ),
    ("i.haddad", "Inès", "Haddad", "ines.haddad@cabinet-exemple.fr", "Front Desk", "active"),
    (
        "j.schmidt",
        "Jonas",
        "Schmidt",
        "jonas.schmidt@cabinet-exemple.fr",
        "Warehouse — North site",
        "active",
    ),
    (
        "k.traore",
        "Kadiatou",
        "Traoré",
        "kadiatou.traore@cabinet-exemple.fr",
        "Front Desk",
        "active",
    ),
    ("l.petit", "Louis", "Petit", None, "Warehouse — North site", "active"),
]


def seed(app) -> None:
    """Teams, an administrator, a manager and a dozen users in every status."""
    from portal.accounts import create_user
    from portal.db import database
    from portal.models import ManagedTeam, Team, User, utcnow

    with app.test_request_context():
        database.connect(reuse_if_open=True)
        try:
            admin, _ = create_user(
                ADMIN,
                role="admin",
                email="camille.lefebvre@cabinet-exemple.fr",
                first_name="Camille",
                last_name="Lefebvre",
                password=PASSWORD,
                team="Direction",
            )
            manager, _ = create_user(
                MANAGER,
                role="manager",
                email="marc.dubois@cabinet-exemple.fr",
                first_name="Marc",
                last_name="Dubois",
                password=PASSWORD,
                team="Front Desk",
            )
            for name in TEAMS:
                from portal.accounts import ensure_team

                ensure_team(name)
            ManagedTeam.create(manager=manager, team=Team.get(Team.name == "Front Desk"))
            now = utcnow()
            for i, (username, first, last, email, team, state) in enumerate(PEOPLE):
                password = None if state in ("invited", "must_change") else PASSWORD
                user, _ = create_user(
                    username,
                    email=email,
                    first_name=first,
                    last_name=last,
                    team=team,
                    password=password,
                )
                fields = {}
                if state in ("active", "locked", "waiting", "disabled"):
                    fields["last_login_at"] = now - timedelta(days=i, hours=3 * i)
                if state == "locked":
                    fields.update(hard_locked=True, failed_count=50, last_failed_at=now)
                if state == "waiting":
                    fields.update(
                        locked_until=now + timedelta(minutes=1), failed_count=5, last_failed_at=now
                    )
                if state == "disabled":
                    fields["disabled"] = True
                if fields:
                    User.update(**fields).where(User.id == user.id).execute()
            User.update(last_login_at=now - timedelta(minutes=5)).where(
                User.id == admin.id
            ).execute()
            # 30 days of activity for the overview, and one email that bounced.
            from portal.models import AuditEvent, OutboxMail

            events = []
            for day in range(30):
                at = now - timedelta(days=day, hours=2)
                for action, n in (
                    ("login.success", 6 + (day * 7) % 11),
                    ("login.failure", (day * 5) % 4),
                    ("account.lock", 1 if day % 9 == 3 else 0),
                    ("recovery.request", day % 3),
                    ("password.reset", 1 if day % 4 == 1 else 0),
                ):
                    events += [
                        {
                            "created_at": at,
                            "action": action,
                            "actor_name": "",
                            "target_name": "a.martin",
                            "detail": "",
                        }
                    ] * n
            AuditEvent.insert_many(events).execute()
            rossi = User.get(User.username == "e.rossi")
            OutboxMail.create(
                kind="invite",
                user=rossi,
                recipient=rossi.email,
                subject="Invitation",
                status="failed",
                last_error="550 5.1.1 mailbox unavailable",
            )
        finally:
            database.close()


def sign_in(page, base: str, username: str = ADMIN, lang: str = "en") -> None:
    page.goto(f"{base}/login?lang={lang}")
    page.locator("input[name=identifier]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("form button[type=submit]").first.click()


def _dialog(page):
    dialog = page.locator("dialog[open]").last
    dialog.wait_for()
    page.wait_for_timeout(150)
    return dialog


def _close_dialogs(page) -> None:
    page.evaluate("""() => { for (const d of document.querySelectorAll('dialog')) {
        d.removeAttribute('data-secret'); d.close(); d.remove(); } }""")


def _row(page, username: str):
    return page.locator("table tbody tr").filter(has=page.get_by_text(username, exact=True))


def tour(page, base: str, lang: str, visit, stale=None) -> None:
    """Walk every screen and dialog in ``lang``; ``visit(name)`` is called on each.

    ``stale()``, if given, makes the signed-in session old enough to need a password
    again (so the step-up dialog is visited too).
    """
    page.goto(f"{base}/login?lang={lang}")
    visit("login")
    page.locator("input[name=identifier]").fill("nobody-" + lang)
    page.locator("input[name=password]").fill("not the password")
    page.locator("form button[type=submit]").first.click()
    page.locator(".flash-error").wait_for()
    visit("login-error")
    page.goto(f"{base}/password/forgot")
    visit("forgot")
    page.locator("input[name=identifier]").fill("nobody-" + lang)
    with page.expect_navigation():
        page.locator("form button[type=submit]").first.click()
    visit("forgot-sent")

    sign_in(page, base, ADMIN, lang)
    visit("home")
    page.goto(f"{base}/password/change")
    visit("change-password")
    page.locator("input[name=current_password]").fill("not my password at all")
    page.locator("input[name=password]").fill("short")
    page.locator("input[name=confirm]").fill("different")
    page.locator("form button[type=submit]").last.click()
    page.locator(".field-error").first.wait_for()
    visit("change-password-errors")

    page.goto(f"{base}/admin/overview")
    visit("overview")
    page.locator("details.numbers summary").click()
    visit("overview-numbers")
    page.goto(f"{base}/admin/users")
    visit("users")
    row = _row(page, "h.larochefoucauld")
    row.locator(".row-menu-button").click()
    visit("users-more-menu")
    page.goto(f"{base}/admin/users?q=a.martin")
    _row(page, "a.martin").locator(".row-menu-button").click()
    visit("users-one-row-menu")

    page.goto(f"{base}/admin/users")
    page.locator("a[href$='/admin/users/new']").first.click()
    _dialog(page)
    visit("dialog-add-user")
    _close_dialogs(page)

    _row(page, "h.larochefoucauld").locator("a[href$='/edit']").click()
    _dialog(page)
    visit("dialog-edit-user")
    _close_dialogs(page)

    _row(page, "g.bernard").locator("a[href$='/reset']").click()
    dialog = _dialog(page)
    visit("dialog-reset-confirm")
    dialog.locator("button[type=submit]").click()
    page.locator("#temp-password").wait_for()
    visit("dialog-reset-result")
    _close_dialogs(page)

    page.goto(f"{base}/admin/users")
    _row(page, "i.haddad").locator(".row-menu-button").click()
    _row(page, "i.haddad").locator("a[href$='/password']").click()
    _dialog(page)
    visit("dialog-set-password")
    _close_dialogs(page)

    page.goto(f"{base}/admin/users")
    for username in ("a.martin", "i.haddad", "e.rossi"):
        _row(page, username).locator("input[name=ids]").check()
    page.locator("button[formaction$='/bulk/recovery/confirm']").click()
    _dialog(page)
    visit("dialog-bulk-recovery")
    _close_dialogs(page)

    page.goto(f"{base}/admin/users")
    for username in ("j.schmidt", "k.traore", "h.larochefoucauld"):
        _row(page, username).locator("input[name=ids]").check()
    page.locator("button[formaction$='/bulk/reset/confirm']").click()
    dialog = _dialog(page)
    visit("dialog-bulk-reset-confirm")
    dialog.locator("input[name=confirm_count]").fill("99")
    dialog.locator("button[type=submit]").click()
    page.locator("#confirm-error").wait_for()
    visit("dialog-bulk-reset-error")
    dialog = page.locator("dialog[open]").last
    dialog.locator("input[name=confirm_count]").fill("3")
    if stale is not None:
        stale()
    dialog.locator("button[type=submit]").click()
    if stale is not None:
        reauth = page.locator("dialog.reauth-dialog")
        reauth.wait_for()
        page.wait_for_timeout(150)
        visit("dialog-reauth")
        reauth.locator("input[name=reauth_password]").fill("not my password")
        reauth.locator("button[type=submit]").click()
        page.locator("#reauth-error").wait_for()
        visit("dialog-reauth-error")
        page.locator("dialog.reauth-dialog input[name=reauth_password]").fill(PASSWORD)
        page.locator("dialog.reauth-dialog button[type=submit]").click()
    page.locator("table.bulk-results").wait_for()
    page.wait_for_timeout(150)
    visit("dialog-bulk-reset-results")
    _close_dialogs(page)

    user_id = page.evaluate(
        '() => document.querySelector(\'a[href*="/admin/users/"][href$="/edit"]\')'
        ".getAttribute('href').split('/')[3]"
    )
    page.goto(f"{base}/admin/users/{user_id}")
    visit("user-detail")
    page.goto(f"{base}/admin/users/import")
    visit("import")
    sample = (
        "username,email,first_name,last_name,role,team,language\r\n"
        "n.girard,nadia.girard@cabinet-exemple.fr,Nadia,Girard,user,Front Desk,fr\r\n"
        "o.weber,,Otto,Weber,user,Archives — Sud,en\r\n"
    )
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "users.csv", "mimeType": "text/csv", "buffer": sample.encode()}]
    )
    page.locator("form[enctype] button[type=submit]").click()
    page.locator("ul.new-teams").wait_for()
    visit("import-new-teams")
    page.locator("input[name=teams_ok] ~ button[type=submit]").click()
    page.locator("code").first.wait_for()
    visit("import-done")
    page.goto(f"{base}/admin/teams")
    visit("teams")
    page.locator("input[name=name]").fill("Front Desk")
    page.locator("form button[type=submit]").last.click()
    page.locator("#team-name-error").wait_for()
    visit("teams-error")
    page.locator("a[href*='/admin/teams/']").first.click()
    page.locator("input[name=managers]").first.wait_for()
    visit("team-edit")
    page.goto(page.url + "/delete")
    visit("team-delete")
    page.goto(f"{base}/admin/audit")
    visit("audit")
    page.goto(f"{base}/admin/settings")
    visit("settings")
