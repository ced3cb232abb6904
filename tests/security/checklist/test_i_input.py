"""Checklist section I: input handling, against a live server."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, quote, urlsplit

from portal.models import User

from .client import HX, PASSWORD
from .flows import form_values, signs_in

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}"]


def test_I1_output_is_encoded(live, admin):
    accounts = [live.account("ione", first_name=p, last_name=p) for p in PAYLOADS]
    browser = admin[1]
    for account in accounts:
        live.client().login(account.username, "wrong password entirely i1")  # audit rows
    pages = [
        browser.get("/admin/users?q=ione"),
        browser.get("/admin/users?q=ione", headers=HX),
        browser.get("/admin/audit"),
        browser.get("/admin/audit", headers=HX),
    ]
    pages += [browser.get(f"/admin/users/{a.id}") for a in accounts]
    pages += [browser.get(f"/admin/users/{a.id}/reset", headers=HX) for a in accounts]
    for account in accounts:
        live.request_link(account)
    htmls = [live.html(m) for a in accounts for m in live.mails_to(a.email)]
    assert len(htmls) == 3 and all(htmls)
    texts = [p.text for p in pages] + htmls
    for text in texts:
        assert "<script>alert(1)" not in text and "<img src=x" not in text
    listing = pages[0].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "{{7*7}}" in listing  # shown literally, never evaluated
    assert any("&lt;script&gt;" in html or "{{7*7}}" in html for html in htmls)


def test_I2_no_sql_injection(live, admin):
    """The full sqlmap run is in tools/scan (issue 11, scanners); here the classic payloads
    must neither sign in, nor widen a search, nor break a query."""
    alice = live.account("itwo")
    for payload in (
        "' OR '1'='1",
        f"{alice.username}'--",
        '" OR 1=1 --',
        "') OR ('a'='a",
        f"{alice.username}' OR 1=1; --",
    ):
        response = live.client().login(payload, "' OR '1'='1")
        assert response.status == 401, payload
        assert live.client().form("/password/forgot", {"identifier": payload}).status == 303
        search = admin[1].get(f"/admin/users?q={quote(payload)}", headers=HX)
        assert search.status in (200, 422)
        assert f"/admin/users/{alice.id}" not in search.text  # no row: nothing widened
    everything = admin[1].get(f"/admin/users?q={quote(chr(37) + chr(39) + ' OR 1=1 --')}")
    assert everything.status in (200, 422)
    assert f"/admin/users/{alice.id}" not in everything.text
    assert "Traceback" not in live.logs()


def _new_user(browser, **fields):
    values = form_values(browser.get("/admin/users/new").text, "/admin/users/new")
    values.update(fields)
    return browser.post("/admin/users/new", values)


def test_I3_no_mail_header_injection(live, admin):
    account = live.account("ithree")
    forgot = live.client().form(
        "/password/forgot", {"identifier": account.email + "\r\nBcc: x@evil.example"}
    )
    assert forgot.status == 422
    for field, value in (
        ("first_name", "Eve\r\nBcc: x@evil.example"),
        ("email", "ithreenew@example.test\r\nBcc: x@evil.example"),
        ("last_name", "Doe\nSubject: hi"),
    ):
        response = _new_user(admin[1], username=f"ithree{field.replace('_', '')}", **{field: value})
        assert response.status == 422, field
    assert not any("x@evil.example" in r for rcpts, _m in live.sink.messages for r in rcpts)


def test_I4_server_side_validation_with_limits(live, admin):
    browser = admin[1]
    for fields in (
        {"username": "i" * 65},
        {"username": "ifourmail", "email": "a" * 250 + "@example.test"},
        {"username": "ifour\x01ctl"},
        {"username": "ifourname", "first_name": "a\x00b"},
        {"username": "ifourlong", "first_name": "x" * 65},
    ):
        response = _new_user(browser, **fields)
        assert response.status == 422, fields
    with live.db():
        assert not User.select().where(User.username.startswith("ifour")).exists()
    big = live.client()
    token = big.get("/login").csrf()
    response = big.post(
        "/login", {"identifier": "x", "password": "y" * 1_000_000, "csrf_token": token}
    )
    assert response.status == 413
    long_identifier = big.post(
        "/login", {"identifier": "z" * 300, "password": PASSWORD, "csrf_token": token}
    )
    assert long_identifier.status in (401, 422)


def test_I5_no_open_redirect(live):
    alice = live.account("ifive")
    for target in (
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%2F/evil.example",
        "https:/evil.example",
        "\t//evil.example",
    ):
        browser = live.client()
        token = browser.get("/login").csrf()
        response = browser.post(
            f"/login?next={quote(target)}",
            {"identifier": alice.username, "password": PASSWORD, "csrf_token": token},
        )
        assert response.status == 303
        location = response.headers["location"]
        parts = urlsplit(location)
        assert parts.netloc in ("", f"127.0.0.1:{live.main.port}"), (target, location)
        assert parts.path.startswith("/") and not parts.path.startswith("//"), location
    browser = live.client()
    token = browser.get("/login").csrf()
    good = browser.post(
        "/login?next=/password/change",
        {"identifier": alice.username, "password": PASSWORD, "csrf_token": token},
    )
    assert good.location == "/password/change"
    # The HX-Redirect the server builds from the page the fragment came from.
    fragment = live.client().get(
        "/admin/users", headers={**HX, "HX-Current-URL": "https://evil.example//evil.example/x"}
    )
    redirect = urlsplit(fragment.headers["hx-redirect"])
    assert redirect.netloc == "" and redirect.path == "/login"
    back = parse_qs(redirect.query).get("next", ["/"])[0]
    assert back.startswith("/") and not back.startswith("//"), back
    same = live.client().get(
        "/admin/users",
        headers={**HX, "HX-Current-URL": f"https://127.0.0.1:{live.main.port}/admin/users?q=a"},
    )
    assert same.headers["hx-redirect"] == "/login?next=/admin/users?q%3Da"


def test_I6_parameter_pollution_and_types(live, admin):
    alice, bob = live.account("isix"), live.account("isixb")
    browser = live.client()
    token = browser.get("/login").csrf()
    response = browser.post(
        "/login",
        {"identifier": [alice.username, bob.username], "password": PASSWORD, "csrf_token": token},
    )
    assert response.status == 303  # the first value
    assert alice.username in browser.get("/").text
    token = admin[1].get("/admin/users").csrf()
    for ids in (["abc"], ["1.5"], ["-1"], [str(alice.id), "x"], ["1e3"], ["9" * 40]):
        response = admin[1].post(
            "/admin/users/bulk/recovery/confirm", {"ids": ids, "csrf_token": token}
        )
        assert response.status == 400, ids
        response = admin[1].post("/admin/users/bulk/recovery", {"ids": ids, "csrf_token": token})
        assert response.status == 400, ids


def test_I7_identifiers_are_normalized(live, admin):
    alice = live.account("iseven")
    for lookalike in (
        alice.username.upper(),
        alice.username.capitalize(),
        "\u0430" + alice.username[1:] if alice.username[0] == "i" else None,
        "\u0456" + alice.username[1:],
    ):
        if lookalike is None:
            continue
        response = _new_user(admin[1], username=lookalike)
        assert response.status == 422, lookalike
    assert signs_in(live, alice.username.upper(), PASSWORD)
    assert signs_in(live, alice.email.upper(), PASSWORD)


def test_I8_csv_exports_are_spreadsheet_safe(live, admin):
    formula = '=HYPERLINK("http://x")'
    account = live.account("ieight", first_name=formula, last_name="@SUM(A1)")
    live.client().login(account.username, "wrong password entirely i8")
    users = admin[1].get(f"/admin/users/export.csv?q={account.username}").text
    audit = admin[1].get("/admin/audit/export.csv").text
    for text in (users, audit):
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), cell
    assert "'" + formula in users.replace('""', '"')
