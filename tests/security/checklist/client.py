"""The checklist suite's browser: http.client with raw headers, its own cookie jar and its
own loopback source address (per-IP limits), no redirect following; CSRF tokens scraped
from the pages. Also the suite's constants and comparisons of responses."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import re
import zlib
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

PASSWORD = "violet lantern harbour 1987"  # meets the default policy
NEW_PASSWORD = "copper meadow tangent 4471"
OTHER_PASSWORD = "quiet orchard signal 2208"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
LINK_RE = re.compile(r"https?://[^/\s]+(/password/reset/([A-Za-z0-9_\-]+))")
HX = {"HX-Request": "true"}
SESSION_COOKIE = "__Host-session"


def cookie_payload(value: str) -> dict:
    """What anyone holding Flask's signed cookie can read (it is signed, not encrypted)."""
    data = value.split(".")[1 if value.startswith(".") else 0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    if value.startswith("."):
        raw = zlib.decompress(raw)
    return json.loads(raw)


def normalize(body: str) -> str:
    """The body with CSRF values masked, for byte-for-byte comparisons."""
    body = CSRF_RE.sub('name="csrf_token" value="X"', body)
    return CSRF_META_RE.sub('name="csrf-token" content="X"', body)


@dataclass
class Response:
    status: int
    headers: dict
    cookies: list[str]
    text: str

    @property
    def location(self) -> str:
        raw = self.headers.get("location", "")
        parts = urlsplit(raw)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def csrf(self) -> str:
        match = CSRF_RE.search(self.text) or CSRF_META_RE.search(self.text)
        assert match, f"no CSRF token in the page ({self.status})"
        return match.group(1)


_ips = itertools.count(10)


def next_ip() -> str:
    """A loopback source address of its own: 127.0.1.10, 127.0.1.11, … (per-IP limits)."""
    n = next(_ips)
    return f"127.{1 + n // 250}.{n % 250 + 2}.{n % 7 + 2}"


class Client:
    """One browser: cookies, a source address, no redirect following."""

    def __init__(self, port: int, ip: str | None = None):
        self.port = port
        self.ip = ip or next_ip()
        self.cookies: dict[str, str] = {}
        self.csrf_token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        data=None,
        headers: dict | None = None,
        *,
        body: bytes | None = None,
        target: str | None = None,
    ) -> Response:
        sent = {"Host": f"127.0.0.1:{self.port}", "Accept-Language": "en", **(headers or {})}
        if data is not None:
            body = urlencode(data, doseq=True).encode()
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(self.ip, 0)
        )
        try:
            conn.putrequest(method, target or path, skip_host=True, skip_accept_encoding=True)
            for key, value in sent.items():
                conn.putheader(key, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
            set_cookies = raw.headers.get_all("Set-Cookie") or []
            response = Response(
                raw.status, {k.lower(): v for k, v in raw.getheaders()}, set_cookies, text
            )
        finally:
            conn.close()
        self._keep(set_cookies)
        return response

    def _keep(self, headers: list[str]) -> None:
        for header in headers:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                gone = morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if gone or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data, **kw) -> Response:
        return self.request("POST", path, data, **kw)

    def form(
        self, path: str, data: dict, page: str | None = None, headers: dict | None = None
    ) -> Response:
        """POST ``data`` with a CSRF token scraped from ``page`` (default: ``path``)."""
        token = self.get(page or path).csrf()
        return self.post(path, {**data, "csrf_token": token}, headers=headers)

    def token(self) -> str:
        """A CSRF token valid for this browser's session (from the sign-in page, or home)."""
        page = self.get("/login")
        if page.status != 200:
            page = self.get("/")
        return page.csrf()

    @property
    def session(self) -> str | None:
        return self.cookies.get(SESSION_COOKIE)

    def login(self, identifier: str, password: str = PASSWORD, **extra) -> Response:
        return self.form("/login", {"identifier": identifier, "password": password, **extra})

    def logout(self) -> Response:
        return self.post("/logout", {"csrf_token": self.get("/").csrf()})

    def change_password(self, current: str, new: str, confirm: str | None = None) -> Response:
        return self.form(
            "/password/change",
            {
                "current_password": current,
                "password": new,
                "confirm": new if confirm is None else confirm,
            },
        )
