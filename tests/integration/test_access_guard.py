"""The order of the checks every admin view makes (portal.access.guard.requires): signed
in, permission, reach, and only then a recent password entry (step-up)."""

from __future__ import annotations

import pytest

from ..helpers import age_session, body, csrf_of, login, people, post, says

ACTIONS = ("reset", "unlock", "disable", "enable", "sessions/end", "resend", "password")


@pytest.mark.parametrize("action", ACTIONS)
def test_a_plain_user_with_a_stale_session_gets_403_never_the_password_dialog(
    app, client, make_user, action
):
    p = people(make_user)
    login(client, "alice")
    age_session(app)
    r = post(
        client,
        f"/admin/users/{p['bob'].id}/{action}",
        htmx=True,
        csrf=csrf_of(client.get("/password/change")),
    )  # no admin page to take it from
    assert r.status_code == 403 and "HX-Reauth" not in r.headers


@pytest.mark.parametrize("action", ACTIONS)
def test_a_manager_out_of_reach_gets_403_in_reach_the_dialog(app, client, make_user, action):
    p = people(make_user)
    login(client, "mgrA")
    age_session(app)
    assert post(client, f"/admin/users/{p['bob'].id}/{action}", htmx=True).status_code == 403
    r = post(client, f"/admin/users/{p['alice'].id}/{action}", htmx=True)
    assert r.status_code == 401 and r.headers["HX-Reauth"] == "true"


def test_an_unknown_user_is_404_for_an_administrator_403_for_a_manager(app, client, make_user):
    people(make_user)
    login(client, "admin")
    assert post(client, "/admin/users/999999/reset").status_code == 404
    other = app.test_client()
    login(other, "mgrA")
    assert post(other, "/admin/users/999999/reset").status_code == 403


def test_one_cannot_disable_or_demote_oneself_even_with_a_fresh_password(app, client, make_user):
    p = people(make_user)
    login(client, "admin")
    me = p["admin"].id
    assert post(client, f"/admin/users/{me}/disable").status_code == 403
    r = post(
        client,
        f"/admin/users/{me}/edit",
        {
            "username": "admin",
            "email": "admin@example.test",
            "role": "user",
            "provider": "identity",
            "team": "",
        },
        htmx=True,
    )
    assert r.status_code == 422 and says(body(r), "SELF_ROLE")
