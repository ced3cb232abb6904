"""Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies").

A browser that signed in successfully gets a signed, HttpOnly cookie naming the account
and a random device id. When the account is throttled or locked by failures from
elsewhere, a sign-in (or a password re-entry) from that browser is judged by the device's
own failure counter instead, so an attacker who keeps an account locked does not lock
its owner out (issue 11, finding 4). The device counter follows the same rules as every
other throttle; a forged, expired or foreign cookie is simply ignored.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import after_this_request, has_request_context, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from . import settings
from .models import LoginThrottle, User

MAX_AGE_DAYS = 180
SALT = "passgate device cookie v1"


def cookie_name() -> str:
    return "__Host-passgate_device" if settings.get("SECURE") else "passgate_device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.get("SECRET_KEY"), salt=SALT)


def _device_id(user: User) -> str | None:
    """The device id of this browser's cookie, if it is valid for ``user``."""
    if user is None or not has_request_context():
        return None
    raw = request.cookies.get(cookie_name())
    if not raw or len(raw) > 512:
        return None
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != user.id or not isinstance(data.get("d"), str):
        return None
    return data["d"]


def state_for(user: User | None) -> LoginThrottle | None:
    """The throttle row of this browser for ``user``; None when it is not a known device."""
    device = _device_id(user)
    if device is None:
        return None
    key = hashlib.sha256(f"device:{device}".encode()).hexdigest()
    row = LoginThrottle.get_or_none(LoginThrottle.key == key)
    return row or LoginThrottle(key=key, failed_count=0)


def remember(user: User) -> None:
    """After a successful sign-in: (re)issue this browser's device cookie for ``user``."""
    device = _device_id(user) or secrets.token_urlsafe(16)
    value = _serializer().dumps({"u": user.id, "d": device})

    @after_this_request
    def _set(response):
        response.set_cookie(
            cookie_name(),
            value,
            max_age=MAX_AGE_DAYS * 86400,
            path="/",
            secure=settings.get("SECURE"),
            httponly=True,
            samesite="Strict",
        )
        return response
