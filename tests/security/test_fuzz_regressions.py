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
