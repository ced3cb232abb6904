"""The French catalog is complete, well-formed, compiled, and used by pages and emails.

The extraction test is the one that fails when someone adds a user-facing string without
translating it: run ``python tools/translate.py update``, translate the new entries in
``portal/translations/fr/LC_MESSAGES/messages.po``, then ``python tools/translate.py compile``.
"""

from __future__ import annotations

import gettext
import importlib.util
import io
import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from portal.db import database

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "portal" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
MO = ROOT / "portal" / "translations" / "fr" / "LC_MESSAGES" / "messages.mo"
PLACEHOLDER = re.compile(r"%\(([^)]+)\)([#0 +-]*\d*(?:\.\d+)?[sdifr])")


def _tool():
    """tools/translate.py (not a package): the same extraction the workflow uses."""
    spec = importlib.util.spec_from_file_location(
        "passgate_translate", ROOT / "tools" / "translate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def catalog():
    with PO.open("rb") as fh:
        return read_po(fh, locale="fr")


def _messages(catalog):
    return [m for m in catalog if m.id]


def _strings(message) -> list[str]:
    return list(message.string) if message.pluralizable else [message.string]


def _ids(message) -> list[str]:
    return list(message.id) if message.pluralizable else [message.id]


def test_catalog_declares_french_plurals(catalog):
    assert catalog.locale_identifier == "fr"
    assert catalog.plural_forms == "nplurals=2; plural=(n > 1);"
    assert len(_messages(catalog)) > 100


def test_no_empty_or_fuzzy_translation(catalog):
    bad = [
        m.id for m in _messages(catalog) if m.fuzzy or not all(s and s.strip() for s in _strings(m))
    ]
    assert bad == []
    assert not catalog.obsolete, "obsolete entries: run tools/translate.py update"


def test_placeholders_are_kept_exactly(catalog):
    problems = []
    for m in _messages(catalog):
        # Singular and plural msgids share one set (ours always show the number).
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in _ids(m)))
        for s in _strings(m):
            if set(PLACEHOLDER.findall(s)) != wanted:
                problems.append((m.id, s))
            # A lone % breaks Jinja's newstyle gettext, which always %-formats.
            if "%" in PLACEHOLDER.sub("", s).replace("%%", ""):
                problems.append((m.id, s))
    assert problems == []


def test_translations_are_safe_inside_html_attributes(catalog):
    # Jinja marks translations safe, so a quote would break out of an attribute value.
    assert [
        m.id for m in _messages(catalog) if any(c in s for s in _strings(m) for c in "\"'<>")
    ] == []


def test_compiled_catalog_matches_the_po(catalog):
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    fresh.seek(0)
    with MO.open("rb") as fh:
        committed = gettext.GNUTranslations(fh)
    expected = gettext.GNUTranslations(fresh)
    # The header ("" key) names the Babel version that compiled it; only messages count.
    committed_messages = {k: v for k, v in committed._catalog.items() if k != ""}
    expected_messages = {k: v for k, v in expected._catalog.items() if k != ""}
    assert committed_messages == expected_messages, (
        "messages.mo is stale: run python tools/translate.py compile"
    )


def test_every_source_string_has_a_french_translation():
    missing = _tool().missing("fr")
    assert missing == [], "untranslated strings (run tools/translate.py update):\n" + "\n".join(
        missing
    )


def test_extraction_finds_strings_from_python_and_templates():
    # Guards the extraction map itself: if babel.cfg stopped matching a source tree,
    # the completeness test above would pass vacuously.
    found = {
        m.id if isinstance(m.id, str) else m.id[0]: m.locations
        for m in _tool().source_messages()
        if m.id
    }
    files = {f for locations in found.values() for f, _ in locations}
    assert any(f.startswith("portal/") and f.endswith(".py") for f in files)
    assert any(f.startswith("portal/templates/") and f.endswith(".html") for f in files)
    assert any(f.startswith("portal/templates/email/") and f.endswith(".txt") for f in files)
    assert "Sign in" in found and "Hello, %(name)s" in found


def test_sign_in_page_in_french(client):
    response = client.get("/login?lang=fr")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fr">' in body
    assert "Se connecter" in body
    assert "Mot de passe" in body
    # The choice is remembered for the next request without ?lang=.
    assert "Se connecter" in client.get("/login").get_data(as_text=True)


def test_sign_in_page_stays_english_by_default(client):
    body = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in body
    assert "Sign in" in body and "Se connecter" not in body


def test_french_plural_forms_apply(app):
    from flask_babel import force_locale, ngettext

    with app.test_request_context(), force_locale("fr"):
        assert ngettext("%(num)d event", "%(num)d events", 1) == "1 événement"
        assert ngettext("%(num)d event", "%(num)d events", 0) == "0 événement"
        assert ngettext("%(num)d event", "%(num)d events", 3) == "3 événements"


def test_templates_follow_a_locale_switch_within_one_request(app):
    """Template ``_()`` reuses the page's catalog, but never across force_locale/refresh."""
    from flask import render_template_string
    from flask_babel import force_locale, refresh

    page = "{{ _('Sign in') }}"
    assert app.jinja_env.from_string(page).render() == "Sign in"  # no app context at all
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert render_template_string(page) == "Sign in"
        with force_locale("fr"):
            assert render_template_string(page) == "Se connecter"
            assert (
                render_template_string("{{ ngettext('%(num)d event', '%(num)d events', 3) }}")
                == "3 événements"
            )
        assert render_template_string(page) == "Sign in"
        with force_locale("fr"):
            refresh()
            assert render_template_string(page) == "Se connecter"
        assert render_template_string(page) == "Sign in"


def test_email_is_rendered_in_the_users_language(app, make_user):
    from portal import mail
    from portal.models import OutboxMail, User

    make_user("camille", language="fr")
    with app.test_request_context():
        database.connect(reuse_if_open=True)
        try:
            user = User.get(User.username == "camille")
            row = OutboxMail.get_by_id(mail.queue("test", user.email, user=user).id)
            subject, text, html = mail.render(row)
        finally:
            database.close()
    assert "Ceci est un e-mail de test" in text
    assert "Merci de ne pas y répondre" in html
    assert row.subject.endswith("e-mail de test") and subject == row.subject
    assert "test email" not in text


def test_home_page_greets_in_french(client, make_user):
    from tests.helpers import login

    make_user("dominique", first_name="Dominique")
    assert login(client, "dominique").status_code in (302, 303)
    body = client.get("/?lang=fr").get_data(as_text=True)
    assert "Bonjour" in body and "Se déconnecter" in body
    assert "Hello" not in body
