"""Where a request came from, as a mail tells it ("this wasn't me", issue 10).

The time, the IP address and a coarse description of the browser ("Firefox on Windows"):
enough for the owner of an account to recognise a request as theirs or not, nothing
that fingerprints them further. The User-Agent header is free text a client chooses, so
only a few well-known names are ever picked out of it; anything else is "unknown".
"""

from __future__ import annotations

from flask import has_request_context, request

from .models import utcnow

# Checked in order: the first match wins (Edge and Opera also say "Chrome", Chrome also
# says "Safari", every Android browser says "Linux").
BROWSERS = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Chromium/", "Chromium"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def describe(user_agent: str | None) -> tuple[str, str]:
    """(browser, system) names from a User-Agent header; "" for what is not recognised."""
    text = user_agent or ""
    browser = next((name for marker, name in BROWSERS if marker in text), "")
    system = next((name for marker, name in SYSTEMS if marker in text), "")
    return browser, system


def of_request(ip: str | None = None, user_agent: str | None = None, at=None) -> dict:
    """The mail context describing the current request (or the given IP, browser and
    time): ``origin_at`` (naive UTC), ``origin_ip``, ``origin_browser``, ``origin_system``."""
    if has_request_context():
        ip = request.remote_addr if ip is None else ip
        user_agent = request.user_agent.string if user_agent is None else user_agent
    browser, system = describe(user_agent)
    return {
        "origin_at": at or utcnow(),
        "origin_ip": (ip or "")[:64],
        "origin_browser": browser,
        "origin_system": system,
    }
