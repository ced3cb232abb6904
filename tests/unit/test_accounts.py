"""Account data rules that the forms, the CSV import and the CLI share."""

from __future__ import annotations

import pytest

from portal.accounts import AccountError, clean_email


def test_addresses_are_stored_in_a_form_every_mail_server_delivers_to(ctx):
    assert clean_email("  Ada@Example.TEST ") == "Ada@example.test"
    # An internationalised domain is kept as punycode: deliverable without SMTPUTF8.
    assert clean_email("bob@élève.fr") == "bob@xn--lve-6lad.fr"
    assert clean_email("") is None


def test_a_non_ascii_mailbox_name_is_refused_with_a_clear_message(ctx):
    # Flask-Mail (and most mail servers) cannot deliver to it: every mail would fail.
    with pytest.raises(AccountError) as error:
        clean_email("inès.davis@example.test")
    assert error.value.field == "email"
    assert "non-ASCII" in str(error.value)
    with pytest.raises(AccountError):
        clean_email("not an address")
