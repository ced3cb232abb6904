"""Regression tests for the 5xx the fuzzers (test_fuzz.py) found, one per finding."""

from __future__ import annotations

import pytest

from ..helpers import csrf_of, login

NAMELESS_PART = (
    b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n"
    b'--b\r\nContent-Disposition: form-data; name="identifier"\r\n\r\nalice\r\n--b--\r\n'
)


def test_multipart_part_without_a_name_is_ignored(client):
    """Werkzeug parses a nameless part under the key None; Flask-WTF's CSRF check then
    raised AttributeError (500). Now: the part is dropped and the CSRF check answers."""
    r = client.post("/login", data=NAMELESS_PART, content_type="multipart/form-data; boundary=b")
    assert r.status_code == 400
    token = csrf_of(client.get("/login"))
    body = NAMELESS_PART.replace(
        b"--b--",
        b"--b\r\nContent-Disposition: form-data; "
        b'name="csrf_token"\r\n\r\n' + token.encode() + b"\r\n--b--",
    )
    r = client.post("/login", data=body, content_type="multipart/form-data; boundary=b")
    assert r.status_code == 422 and b'value="alice"' in r.data


@pytest.mark.parametrize(
    "url",
    ["/admin/users/{}/edit", "/admin/users/{}/reset", "/admin/teams/{}", "/admin/users/mail/{}"],
)
@pytest.mark.parametrize("number", [2**63 - 1, 2**63, 2**70])
def test_ids_beyond_64_bits_are_not_found(client, make_user, url, number):
    """An id the database cannot hold raised OverflowError in the driver (500)."""
    make_user("admin", role="admin")
    login(client, "admin")
    assert client.get(url.format(number)).status_code == 404


@pytest.mark.parametrize("typed", ["9223372036854775808", "²", "99999999999999999999999"])
def test_typed_ids_beyond_64_bits_or_not_ascii_are_no_ids(client, make_user, typed):
    """``for_user`` on the live checklist (OverflowError on SQLite), the user search box,
    the list's page number, bulk ids and a team's managers ("²" passes ``str.isdigit`` and
    made ``int`` raise ValueError): each is a plain "no such id", never a 500."""
    admin = make_user("admin", role="admin")
    login(client, "admin")
    token = csrf_of(client.get("/password/change"))
    check = client.post(
        "/password/check", data={"csrf_token": token, "password": "x", "for_user": typed}
    )
    assert check.status_code == 200
    assert client.get(f"/admin/users?q={typed}&page={typed}").status_code == 200
    bulk = client.post(
        "/admin/users/bulk/unlock/confirm", data={"csrf_token": token, "ids": [typed]}
    )
    assert bulk.status_code == 400
    client.post("/admin/teams", data={"csrf_token": token, "name": "Team A"})
    team = client.get("/admin/teams").get_data(as_text=True)
    team_id = team.split('href="/admin/teams/')[1].split('"')[0]
    edit = client.post(
        f"/admin/teams/{team_id}",
        data={"csrf_token": token, "name": "Team A", "managers": [typed, str(admin.id)]},
    )
    assert edit.status_code < 500


def test_a_bulk_job_id_with_a_nul_is_not_found(client, make_user):
    """PostgreSQL refuses a NUL in a query ("A string literal cannot contain NUL"): a job
    id is ``token_urlsafe``, anything else names no job (404, never a 500)."""
    make_user("admin", role="admin")
    login(client, "admin")
    assert client.get("/admin/users/bulk/jobs/%00").status_code == 404
