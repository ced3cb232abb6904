"""The sign-in and account-care pieces moved out of views (issue 7), called directly."""

from __future__ import annotations

import pytest

from portal import accounts, links
from portal.account import service as account
from portal.auth import service as auth
from portal.models import ResetToken, User


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/admin/users?q=a", "/admin/users?q=a"),
        (None, "/"),
        ("https://evil.test/", "/"),
        ("//evil.test/", "/"),
        ("/\\evil.test", "/"),
        ("/ok\nLocation: x", "/"),
    ],
)
def test_safe_next_keeps_only_same_origin_paths(ctx, target, expected):
    assert auth.safe_next(target) == expected


def test_a_temporary_password_is_changed_before_anything_else(ctx, make_user):
    alice = User.get_by_id(make_user("alice").id)
    assert auth.destination(alice, "/account/email") == "/account/email"
    alice.must_change = True
    assert auth.destination(alice, "/account/email") == "/password/change"


def test_the_checklist_is_about_a_reachable_target_or_oneself(ctx, make_user):
    root = User.get_by_id(make_user("root", role="admin").id)
    alice = User.get_by_id(make_user("alice").id)
    bob = User.get_by_id(make_user("bob").id)
    assert auth.password_owner(root, str(alice.id), None) == alice
    assert auth.password_owner(bob, str(alice.id), None) == bob  # out of reach: himself
    assert auth.password_owner(bob, "", None) == bob
    assert auth.password_owner(None, "", None) is None
    links.issue(alice, "reset")
    digest = ResetToken.get(ResetToken.user == alice.id).token_hash
    assert auth.password_owner(None, str(root.id), digest) == alice  # signed out: the link's


def test_a_new_address_is_clean_and_not_already_the_accounts(ctx, make_user):
    alice = User.get_by_id(make_user("alice").id)
    assert account.new_address(alice, " Alice@Home.test ") == "Alice@home.test"
    for taken in ("ALICE@example.test", "not an address"):
        with pytest.raises(accounts.AccountError):
            account.new_address(alice, taken)
