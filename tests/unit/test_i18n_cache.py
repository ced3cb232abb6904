"""Templates and list labels translate through a per-request cache: it must follow the
locale, including a switch inside the request (mail rendered in the recipient's language)."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale

from portal.users import labels as service


def test_template_strings_follow_the_locale_within_one_request(app):
    template = "{{ _('Edit') }}|{{ ngettext('%(num)d user', '%(num)d users', 2) }}"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert render_template_string(template) == "Edit|2 users"
        with force_locale("fr"):
            assert render_template_string(template) == "Modifier|2 utilisateurs"
        assert render_template_string(template) == "Edit|2 users"


def test_list_labels_follow_the_locale_within_one_request(app):
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert service.role_label("admin") == "Administrateur"
        with force_locale("en"):
            assert service.role_label("admin") == "Administrator"
            assert service.status_label("locked") == "Locked"
        assert service.role_label("admin") == "Administrateur"
        assert service.role_label("unknown-role") == "unknown-role"


def test_labels_outside_a_request_use_the_default_language(app):
    with app.app_context():
        assert service.provider_label("identity") == "Passgate"
