#!/usr/bin/env python3
"""Render every Passgate screen and dialog in English and French as PNG files.

    .venv/bin/python tools/screenshots.py [--out screenshots] [--size 1280x800] [--port 0]

A throw-away SQLite database is filled with realistic data (tests/e2e/tour.py), a local
server runs on 127.0.0.1, and Debian's Chromium (/usr/bin/chromium, driven by
Playwright; never `playwright install`) visits each screen as an administrator.
Files are named ``<lang>-<screen>.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def serve(port: int = 0):
    """A seeded Passgate on 127.0.0.1:``port`` in a thread: (base URL, stop function, app)."""
    from werkzeug.serving import make_server

    from portal import create_app
    from portal.db import database
    from portal.schema import migrate
    from tests.e2e.tour import seed

    tmp = tempfile.mkdtemp(prefix="passgate-shots-")
    holder: dict = {}
    server = make_server("127.0.0.1", port, lambda e, s: holder["app"](e, s), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = create_app(
        {
            "SECRET_KEY": "screenshots-only-" + os.urandom(8).hex(),
            "DATABASE_URL": f"sqlite:///{tmp}/passgate.db",
            "BASE_URL": base,
            "MAIL_BACKEND": "console",
            "BCRYPT_ROUNDS": 4,
            "ORG_NAME": "Cabinet Exemple",
            "LIMIT_LOGIN": "1000 per minute",
            "LIMIT_POLICY_CHECK": "1000 per minute",
        },
        instance_path=f"{tmp}/instance",
    )
    with app.app_context():
        database.connect(reuse_if_open=True)
        migrate()
        database.close()
    seed(app)
    holder["app"] = app
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return base, server.shutdown, app


def make_stale(app) -> None:
    """Every session last saw a password 3 hours ago (the step-up dialog then shows)."""
    from datetime import timedelta

    from portal.db import database
    from portal.models import UserSession, utcnow

    with app.app_context():
        database.connect(reuse_if_open=True)
        UserSession.update(authenticated_at=utcnow() - timedelta(hours=3)).execute()
        database.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots", help="output folder")
    parser.add_argument("--size", default="1280x800", help="viewport WIDTHxHEIGHT")
    parser.add_argument("--port", type=int, default=0, help="local port (0: any free one)")
    parser.add_argument("--lang", nargs="+", default=["en", "fr"], choices=["en", "fr"])
    parser.add_argument("--only", nargs="*", default=None, help="screen names to keep")
    parser.add_argument("--full-page", action="store_true", help="whole page, not the viewport")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from tests.e2e.tour import tour

    written = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for lang in args.lang:
            # A fresh server and database per language: the tour creates accounts and teams.
            base, stop, _app = serve(args.port)
            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale="fr-FR" if lang == "fr" else "en-GB",
            )
            context.set_default_timeout(10_000)
            page = context.new_page()

            def visit(name, lang=lang, page=page):
                if args.only is not None and name not in args.only:
                    return
                path = out / f"{lang}-{name}.png"
                page.screenshot(path=str(path), full_page=args.full_page)
                written.append(path)

            tour(page, base, lang, visit, stale=lambda app=_app: make_stale(app))
            context.close()
            stop()
        browser.close()
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
