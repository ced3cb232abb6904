"""Checklist section F: CSRF, response headers and CSP, against a live server."""

from __future__ import annotations

import re

from portal.models import Team, User

from .client import NEW_PASSWORD, PASSWORD
from .flows import csrf_exempt, routes, signs_in

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def _actions(live, admin):
    """(path, form data, check that nothing happened) for every kind of state change."""
    victim = live.account("fonev")
    hash_before = live.user(victim.id).password_hash
    unchanged = lambda: live.user(victim.id).password_hash == hash_before  # noqa: E731
    return victim, [
        ("/login", {"identifier": victim.username, "password": PASSWORD}, None),
        ("/password/forgot", {"identifier": victim.username}, None),
        ("/password/reset", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, unchanged),
        (f"/admin/users/{victim.id}/reset", {"reason": ""}, unchanged),
        (
            f"/admin/users/{victim.id}/password",
            {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            unchanged,
        ),
        (f"/admin/users/{victim.id}/disable", {}, lambda: not live.user(victim.id).disabled),
        (f"/admin/users/{victim.id}/unlock", {}, None),
        (f"/admin/users/{victim.id}/sessions/end", {}, None),
        (
            f"/admin/users/{victim.id}/edit",
            {"username": victim.username, "email": "", "role": "admin"},
            lambda: live.user(victim.id).role == "user",
        ),
        (
            "/admin/users/new",
            {"username": "fcsrfmade", "role": "user"},
            lambda: not signs_in(live, "fcsrfmade", PASSWORD),
        ),
        ("/admin/users/bulk/recovery", {"ids": [victim.id]}, None),
        (
            "/admin/users/bulk/disable",
            {"ids": [victim.id], "confirm_count": "1"},
            lambda: not live.user(victim.id).disabled,
        ),
        ("/admin/teams", {"name": "Team made by CSRF"}, None),
        ("/admin/settings", {"org_name": "Pwned"}, None),
        ("/admin/reauth", {"reauth_password": PASSWORD}, None),
        (
            "/password/change",
            {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
            None,
        ),
        ("/logout", {}, None),
    ]


def test_F1_csrf_token_on_every_state_change(live, admin):
    account, browser = admin
    victim, actions = _actions(live, admin)
    stranger = live.client()
    foreign = stranger.get("/login").csrf()  # valid, but for another session
    for path, data, unchanged in actions:
        for token in (None, foreign):
            sent = dict(data) if token is None else {**data, "csrf_token": token}
            response = browser.post(path, sent)
            assert response.status == 400, (path, token is not None, response.status)
            if unchanged is not None:
                assert unchanged(), path
    assert browser.get("/").status == 200  # still signed in: /logout did nothing
    with live.db():
        assert not Team.select().where(Team.name == "Team made by CSRF").exists()
    # And every other POST route of the app, with no token at all.
    for path, methods, endpoint in routes(live, victim.id, public=True):
        if "POST" in methods:
            status = browser.post(path, {"ids": [victim.id]}).status
            # A CSRF-exempt view (an API with its own credentials) still refuses a browser.
            expected = (401, 403) if csrf_exempt(live, endpoint) else (400,)
            assert status in expected, (path, status)
    assert browser.get("/").status == 200
    # The htmx path: the token in the X-CSRFToken header (hx-headers) is accepted.
    token = browser.get("/admin/users").csrf()
    response = browser.post(
        f"/admin/users/{victim.id}/disable",
        {},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status == 200 and live.user(victim.id).disabled


def test_F2_no_state_change_on_safe_methods(live, admin):
    account, browser = admin
    victim = live.account("ftwo")
    before = live.user(victim.id)
    with live.db():
        team = Team.create(name="F2 team", name_key="f2 team")
    for method in ("GET", "HEAD"):
        for path in (
            f"/admin/users/{victim.id}/disable",
            f"/admin/users/{victim.id}/unlock",
            f"/admin/users/{victim.id}/enable",
            f"/admin/users/{victim.id}/resend",
            f"/admin/users/{victim.id}/sessions/end",
            f"/admin/users/{victim.id}/reset/email",
            "/admin/reauth",
            "/admin/users/bulk/disable",
            "/logout",
            "/password/check",
        ):
            assert browser.request(method, path).status == 405, (method, path)
        for path in (
            f"/admin/users/{victim.id}/reset",
            f"/admin/users/{victim.id}/password",
            f"/admin/teams/{team.id}/delete",
            f"/admin/users/{victim.id}/edit",
            "/password/change",
            "/admin/settings",
        ):
            assert browser.request(method, path).status == 200, (method, path)
    allowed: dict[str, set] = {}
    for path, methods, _endpoint in routes(live, victim.id, public=True):
        allowed.setdefault(path, set()).update(methods)
    for path, methods in allowed.items():  # every POST-only URL
        if "GET" not in methods:
            for method in ("GET", "HEAD"):
                assert browser.request(method, path).status == 405, (method, path)
    after = live.user(victim.id)
    assert (after.password_hash, after.disabled, after.must_change) == (
        before.password_hash,
        before.disabled,
        before.must_change,
    )
    with live.db():
        assert Team.get_or_none(Team.id == team.id) is not None
    assert browser.get("/").status == 200


def test_F3_cross_site_requests_are_refused(live, admin):
    _account, browser = admin
    victim = live.account("fthree")
    token = browser.get("/admin/users").csrf()
    for headers in (
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Origin": "https://evil.example"},
    ):
        response = browser.post(
            f"/admin/users/{victim.id}/disable", {"csrf_token": token}, headers=headers
        )
        assert response.status == 403
    assert not live.user(victim.id).disabled
    same = browser.post(
        f"/admin/users/{victim.id}/disable",
        {"csrf_token": token},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": f"https://127.0.0.1:{live.main.port}"},
    )
    assert same.status in (200, 303) and live.user(victim.id).disabled


def test_F4_referer_strictness_and_referrer_policy(live, admin):
    """Pages that post back send `Referrer-Policy: same-origin` (browsers keep the Referer
    Flask-WTF's SSL-strict check wants); only the token landing, a bare 302, has
    `no-referrer`. A same-origin post with its Referer goes through."""
    account = live.account("ffour")
    browser = live.client()
    landing = browser.get(live.request_link(account))
    assert landing.headers["referrer-policy"] == "no-referrer" and "<form" not in landing.text
    page = browser.get("/password/reset")
    assert page.headers["referrer-policy"] == "same-origin"
    origin = f"https://127.0.0.1:{live.main.port}"
    response = browser.post(
        "/password/reset",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": page.csrf()},
        headers={"Referer": origin + "/password/reset", "Origin": origin},
    )
    assert response.status == 303
    for path in ("/admin/users", f"/admin/users/{account.id}/password", "/admin/settings"):
        assert admin[1].get(path).headers["referrer-policy"] == "same-origin"


def _pages(live, admin):
    account = live.account("ffive", first_name="<script>alert(1)</script>")
    anonymous, user = live.client(), live.client()
    user.login(account.username)
    pages = [
        anonymous.get(p)
        for p in ("/login", "/password/forgot", "/password/forgot/sent", "/no-such-page")
    ]
    pages += [user.get(p) for p in ("/", "/password/change")]
    for path in (
        "/admin/users",
        f"/admin/users/{account.id}",
        "/admin/audit",
        "/admin/overview",
        "/admin/teams",
        "/admin/settings",
        "/admin/users/new",
        f"/admin/users/{account.id}/edit",
        f"/admin/users/{account.id}/reset",
        "/admin/users/import",
    ):
        pages.append(admin[1].get(path))
        pages.append(admin[1].get(path, headers={"HX-Request": "true"}))
    return pages


def test_F5_strict_csp_on_every_html_response(live, admin):
    for response in _pages(live, admin):
        assert response.headers["content-security-policy"] == CSP
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
        assert "<style" not in html and not re.search(r"\sstyle=", html)
        assert not re.search(r"\shx-on[:\-]|\son[a-z]+=", html)
        assert "javascript:" not in html
    login = live.client().get("/login").text
    settings = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', login).group(1)
    assert '"includeIndicatorCSS":false' in settings


def test_F6_hsts(live):
    for path in ("/login", "/healthz", "/static/css/passgate.css", "/no-such-page"):
        value = live.client().get(path).headers["strict-transport-security"]
        age = int(re.search(r"max-age=(\d+)", value).group(1))
        assert age >= 31536000 and "includeSubDomains" in value


def test_F7_other_response_headers(live):
    client = live.client()
    for path in ("/login", "/static/css/passgate.css", "/healthz", "/no-such-page"):
        response = client.get(path, headers={"Origin": "https://evil.example"})
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["referrer-policy"] == "same-origin"
        assert "access-control-allow-origin" not in headers


def test_F8_no_debug_output_or_versions(live):
    client = live.client()
    assert client.request("TRACE", "/").status == 405
    token = client.get("/login").csrf()
    bad_utf8 = client.request(
        "POST", "/login", body=b"identifier=%ff%fe&password=x&csrf_token=" + token.encode()
    )
    duplicated = client.request(
        "POST",
        "/login",
        body=(f"identifier=a&password=b&csrf_token={token}&csrf_token=other").encode(),
    )
    broken = client.request(
        "POST",
        "/login",
        body=b"\xff\xfe=\x00&&&=",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    for response in (bad_utf8, duplicated, broken, client.get("/no-such-page")):
        assert response.status < 500
        assert "Traceback" not in response.text and "Werkzeug" not in response.text
        assert "x-powered-by" not in response.headers
        server = response.headers.get("server", "")
        assert not re.search(r"\d", server), server
    with live.db():
        assert User.select().count() > 0
