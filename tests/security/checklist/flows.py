"""Flows several checklist sections share: an administrator's Reset & Unlock and Set
password, a reset through the mailed link, "does this password sign in?", reading a
form's values, a link put straight into the database."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from portal import tokens
from portal.models import ResetToken, User, utcnow
from portal.security import csrf

from .client import Client, Response
from .live import Account, Live

TEMP_RE = re.compile(r'id="temp-password"[^>]*>(.*?)</output>', re.S)


def temp_password(page: str) -> str:
    match = TEMP_RE.search(page)
    assert match, "no temporary password in the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def admin_reset(browser: Client, user_id: int, **headers) -> tuple[Response, str | None]:
    """Reset & Unlock as an administrator; the response and the temporary password."""
    response = browser.form(
        f"/admin/users/{user_id}/reset",
        {"reason": ""},
        page=f"/admin/users/{user_id}/reset",
        headers=headers or None,
    )
    temp = temp_password(response.text) if response.status == 200 else None
    return response, temp


def admin_set_password(
    browser: Client, user_id: int, password: str, must_change: bool = True
) -> Response:
    data = {"password": password, "confirm": password}
    if must_change:
        data["must_change"] = "y"
    return browser.form(f"/admin/users/{user_id}/password", data)


def reset_with_link(
    client: Client, link: str, password: str, confirm: str | None = None
) -> Response:
    """Open the mailed link (302 to the token-free page) and post a new password."""
    landing = client.get(link)
    assert landing.status == 302, landing.status
    return client.form(
        "/password/reset",
        {"password": password, "confirm": password if confirm is None else confirm},
    )


def signs_in(live: Live, identifier: str, password: str) -> bool:
    """Does a fresh browser sign in with this password (303 away from /login)?"""
    response = live.client().login(identifier, password)
    return response.status == 303


def form_values(page: str, action: str | None = None) -> dict:
    """The values a browser would submit from the first form (or the one posting to
    ``action``): inputs, checked boxes, selected options, text areas."""
    forms = re.findall(r"<form\b[^>]*>.*?</form>", page, re.S)
    if action:
        forms = [f for f in forms if f'action="{action}"' in f]
    assert forms, "no such form"
    html = forms[0]
    values: dict = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        value = (re.search(r'value="([^"]*)"', tag) or [None, ""])[1]
        if kind in ("checkbox", "radio"):
            if "checked" in tag:
                values[name.group(1)] = value or "y"
        elif kind not in ("submit", "button"):
            values[name.group(1)] = unescape(value)
    for name, body in re.findall(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option[^>]*value="([^"]*)"[^>]*selected', body) or re.search(
            r'<option[^>]*value="([^"]*)"', body
        )
        values[name] = unescape(chosen.group(1)) if chosen else ""
    for name, body in re.findall(
        r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        values[name] = unescape(body)
    return values


def seed_link(live: Live, account: Account, *, expires_in: float = 1800) -> str:
    """A recovery link put straight into the database (as the worker would issue it, minus
    the mail): for tests that need many links at once (C4)."""

    raw, digest = tokens.new_token()
    with live.db():
        user = User.get_by_id(account.id)
        ResetToken.create(
            user=user.id,
            token_hash=digest,
            purpose="reset",
            stamp=user.security_stamp,
            expires_at=utcnow() + timedelta(seconds=expires_in),
        )
    return f"/password/reset/{raw}"


PUBLIC = {
    "auth.login",
    "auth.logout",
    "auth.healthz",
    "auth.policy_check",
    "recovery.forgot",
    "recovery.sent",
    "recovery.landing",
    "recovery.reset",
    "static",
    # mailed links (confirm an address, "this wasn't me"): whoever holds the link,
    # signed in or not; without one they answer 404 (tests/integration/test_account_care)
    "account.confirm_landing",
    "account.confirm",
    "account.not_me_landing",
    "account.not_me",
    "account.not_me_done",
}


def routes(live: Live, user_id: int, *, public: bool = False):
    """Every route of the app (without the public ones unless asked), placeholders filled
    in: (path, methods other than HEAD and OPTIONS, endpoint)."""
    values = {
        "user_id": user_id,
        "team_id": 1,
        "action": "recovery",
        "mail_id": 1,
        "public_id": "x" * 43,
        "token": "x" * 43,
        "filename": "css/passgate.css",
    }

    def fill(match):
        converter, name = match.groups()
        return str(values.get(name, "1" if converter == "int" else "x" * 43))

    for rule in live.app.url_map.iter_rules():
        if rule.endpoint in PUBLIC and not public:
            continue
        path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", fill, rule.rule)
        yield path, sorted(rule.methods - {"HEAD", "OPTIONS"}), rule.endpoint


def csrf_exempt(live: Live, endpoint: str) -> bool:
    """Did the app exempt this view from CSRF (an API with its own authentication)?"""
    view = live.app.view_functions[endpoint]
    blueprint = live.app.blueprints.get(endpoint.rpartition(".")[0])
    return (
        f"{view.__module__}.{view.__name__}" in csrf._exempt_views
        or blueprint in csrf._exempt_blueprints
    )
