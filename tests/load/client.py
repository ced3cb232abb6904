"""A minimal browser for the load tests: http.client, its own cookie jar, its own source
address (127.0.0.x), one TCP connection per request, no redirect following unless asked."""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF_FIELD_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
HX = {"HX-Request": "true"}


def source_address(index: int) -> str:
    """A distinct loopback address per client: 127.0.0.2, 127.0.0.3, … (index from 0)."""
    if not 0 <= index < 250 * 250:
        raise ValueError(index)
    return f"127.0.{index // 250}.{index % 250 + 2}"


@dataclass
class Response:
    status: int
    headers: dict
    text: str
    method: str
    path: str

    @property
    def location(self) -> str:
        """The redirect target as a path (the server may answer with an absolute URL)."""
        raw = self.headers.get("location", "")
        parts = urlsplit(raw)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def csrf(self) -> str:
        match = CSRF_FIELD_RE.search(self.text) or CSRF_META_RE.search(self.text)
        assert match, f"no CSRF token in {self.method} {self.path} ({self.status})"
        return match.group(1)


@dataclass
class Stats:
    """Every status every client saw (thread-safe), and the 5xx answers in full."""

    statuses: Counter = field(default_factory=Counter)
    server_errors: list = field(default_factory=list)
    transport_errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, response: Response) -> None:
        with self.lock:
            self.statuses[response.status] += 1
            if response.status >= 500:
                self.server_errors.append(
                    (response.method, response.path, response.status, response.text[:300])
                )

    def transport_error(self, method: str, path: str, exc: BaseException) -> None:
        with self.lock:
            self.transport_errors.append((method, path, repr(exc)))


class Browser:
    """One user's browser: cookies kept per host (any port, like a real browser)."""

    def __init__(
        self,
        port: int,
        source_ip: str = "127.0.0.1",
        *,
        stats: Stats | None = None,
        timeout: float = 60,
    ):
        self.port = port
        self.source_ip = source_ip
        self.cookies: dict[str, str] = {}
        self.stats = stats
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        data=None,
        headers: dict | None = None,
        *,
        port: int | None = None,
        follow: bool = False,
    ) -> Response:
        body = None
        sent = {
            "Host": f"127.0.0.1:{port or self.port}",
            "Connection": "close",
            "Accept-Language": "en",
            **(headers or {}),
        }
        if data is not None:
            body = urlencode(data, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection(
            "127.0.0.1", port or self.port, timeout=self.timeout, source_address=(self.source_ip, 0)
        )
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            text = raw.read().decode("utf-8", "replace")
            response = Response(
                raw.status, {k.lower(): v for k, v in raw.getheaders()}, text, method, path
            )
            self._keep_cookies(raw.headers.get_all("Set-Cookie") or [])
        except (OSError, http.client.HTTPException) as exc:
            if self.stats is not None:
                self.stats.transport_error(method, path, exc)
            raise
        finally:
            conn.close()
        if self.stats is not None:
            self.stats.add(response)
        if follow and response.status in (301, 302, 303, 307, 308) and response.location:
            return self.request("GET", response.location, port=port, follow=True)
        return response

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data, **kw) -> Response:
        return self.request("POST", path, data, **kw)

    def _keep_cookies(self, headers: list[str]) -> None:
        for header in headers:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                expired = morsel["max-age"] == "0" or (
                    morsel["expires"] and _in_the_past(morsel["expires"])
                )
                if expired or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    # --- Passgate steps ---------------------------------------------------------------------

    def sign_in(self, identifier: str, password: str, **kw) -> Response:
        page = self.get("/login", **kw)
        return self.post(
            "/login",
            {"identifier": identifier, "password": password, "csrf_token": page.csrf()},
            **kw,
        )

    def form_post(self, page_path: str, path: str, data: dict, **kw) -> Response:
        """POST ``data`` with a CSRF token taken from ``page_path``."""
        page = self.get(page_path, **{k: v for k, v in kw.items() if k == "port"})
        return self.post(path, {**data, "csrf_token": page.csrf()}, **kw)


def _in_the_past(expires: str) -> bool:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(expires).timestamp() < time.time()
    except (TypeError, ValueError):
        return False
