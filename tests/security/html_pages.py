"""Every page, dialog and fragment the app renders, collected through the Flask test client
for tests/security/test_html_validity.py.

* every GET route of the url_map (so new pages are covered), as anonymous, user, manager
  and administrator, in English and French, as a plain request and as an htmx request
  (fragments, dialogs), with ids of real rows in the path;
* the error states of the forms (422, 401, 429 answers), the step-up dialog, and the
  answers of the POSTs that render something (a dialog, a result fragment).

Fragments are wrapped in a minimal document before validation; full pages are checked as
they are.
"""

from __future__ import annotations

import re
from datetime import timedelta

from portal import tokens
from portal.bulk import service as bulk
from portal.models import OutboxMail, ResetToken, Team, User, UserSession, utcnow

from ..e2e.tour import ADMIN, MANAGER, seed
from ..helpers import CSRF_RE, csrf_of, in_request, login

USER = "a.martin"
SIGNED_IN = {"user": USER, "manager": MANAGER, "admin": ADMIN}
LANGUAGES = ("en", "fr")
SKIP_GET = {
    "static",
    "auth.healthz",
    "admin.users_export",
    "admin.audit_export",
    "admin.users_import_sample",
}  # not HTML: files, a health probe
HX = {"HX-Request": "true"}
WRAP = (
    '<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
    "<title>fragment {name}</title></head><body>\n{body}\n</body></html>"
)


class Collector:
    def __init__(self, app):
        self.app = app
        self.pages: dict[str, str] = {}
        self._seen: set[str] = set()

    def db(self):
        return in_request(self.app)

    def add(self, name: str, response, lang: str) -> None:
        if not response.mimetype == "text/html":
            return
        body = response.get_data(as_text=True)
        masked = CSRF_RE.sub("", body)
        masked = re.sub(r'content="[^"]*"', "", masked)
        if not body.strip() or masked in self._seen:
            return
        self._seen.add(masked)
        if not body.lstrip().lower().startswith("<!doctype"):
            body = WRAP.format(lang=lang, name=name, body=body)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]
        self.pages[f"{len(self.pages):03d}-{safe}"] = body

    # --- setup ------------------------------------------------------------------------

    def prepare(self) -> dict:
        """Seed realistic data; return the values that fill path parameters."""
        seed(self.app)
        with self.db():
            admin = User.get(User.username_key == ADMIN)
            users = list(User.select().where(User.username_key.in_(["a.martin", "i.haddad"])))
            job = bulk.start(admin, "unlock", users)
            raw, digest = tokens.new_token()
            target = User.get(User.username_key == "g.bernard")
            ResetToken.create(
                user=target,
                token_hash=digest,
                purpose="reset",
                stamp=target.security_stamp,
                expires_at=utcnow() + timedelta(hours=1),
            )
            return {
                "user_id": str(User.get(User.username_key == "i.haddad").id),
                "team_id": str(Team.get(Team.name_key == "front desk").id),
                "mail_id": str(OutboxMail.select().first().id),
                "public_id": job.public_id,
                "token": raw,
            }

    def client(self, role: str, lang: str):
        client = self.app.test_client()
        if role != "anonymous":
            assert login(client, SIGNED_IN[role]).status_code == 303
        client.get(f"/?lang={lang}", headers={"Sec-Fetch-Site": "same-origin"})
        return client

    def age_sessions(self) -> None:
        with self.db():
            UserSession.update(authenticated_at=utcnow() - timedelta(hours=2)).execute()

    # --- collecting -------------------------------------------------------------------

    def every_get_route(self, values: dict) -> None:
        rules = [
            r
            for r in self.app.url_map.iter_rules()
            if "GET" in r.methods and r.endpoint not in SKIP_GET
        ]
        for lang in LANGUAGES:
            for role in ("anonymous", *SIGNED_IN):
                client = self.client(role, lang)
                for rule in rules:
                    # A parameter of a route added later: id 1 (a 404 page is a page too).
                    path = re.sub(
                        r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), rule.rule
                    )
                    if rule.endpoint == "recovery.landing":
                        path = f"/password/reset/{values['token']}"
                    for hx in (False, True):
                        name = f"{lang}-{role}-{rule.endpoint}{'-hx' if hx else ''}"
                        self.add(name, client.get(path, headers=HX if hx else {}), lang)
                if role == "anonymous":
                    self.anonymous_states(client, lang, values)
                else:
                    self.form_states(client, role, lang, values)

    def anonymous_states(self, client, lang: str, values: dict) -> None:
        token = csrf_of(client.get("/login"))
        self.add(
            f"{lang}-login-error",
            client.post(
                "/login", data={"identifier": "nobody", "password": "wrong", "csrf_token": token}
            ),
            lang,
        )
        self.add(f"{lang}-login-empty", client.post("/login", data={"csrf_token": token}), lang)
        self.add(
            f"{lang}-forgot-empty",
            client.post("/password/forgot", data={"csrf_token": token}),
            lang,
        )
        self.add(f"{lang}-reset-landing", client.get(f"/password/reset/{values['token']}"), lang)
        page = client.get("/password/reset")
        self.add(f"{lang}-reset-form", page, lang)
        self.add(
            f"{lang}-reset-errors",
            client.post(
                "/password/reset",
                data={"password": "short", "confirm": "other", "csrf_token": token},
            ),
            lang,
        )
        self.add(f"{lang}-reset-invalid", client.get("/password/reset/not-a-token"), lang)
        self.add(f"{lang}-csrf-missing", client.post("/login", data={}), lang)
        self.add(f"{lang}-not-found", client.get("/no/such/page"), lang)
        self.add(
            f"{lang}-policy-check",
            client.post(
                "/password/check",
                data={"password": "abc", "confirm": "abd", "csrf_token": token},
                headers=HX,
            ),
            lang,
        )

    def form_states(self, client, role: str, lang: str, values: dict) -> None:
        token = csrf_of(client.get("/password/change"))
        uid = values["user_id"]

        def post(name, url, data=None, hx=False):
            response = client.post(
                url, data={"csrf_token": token, **(data or {})}, headers=HX if hx else {}
            )
            self.add(f"{lang}-{role}-{name}{'-hx' if hx else ''}", response, lang)

        for hx in (False, True):
            post(
                "change-errors",
                "/password/change",
                {"current_password": "not mine", "password": "short", "confirm": "x"},
                hx,
            )
            post("policy-check", "/password/check", {"password": "abc", "confirm": ""}, hx)
        if role == "user":
            return
        for hx in (False, True):
            post(
                "user-new-errors",
                "/admin/users/new",
                {"username": "аlice", "email": "not an email", "role": "user"},
                hx,
            )
            post(
                "user-new-ok",
                "/admin/users/new",
                {
                    "username": f"n.{lang}{role}{int(hx)}",
                    "email": "",
                    "role": "user",
                    "provider": "identity",
                    "team": "",
                },
                hx,
            )
            post(
                "user-edit-errors",
                f"/admin/users/{uid}/edit",
                {"username": "", "email": "x@", "role": "user", "provider": "identity"},
                hx,
            )
            post(
                "set-password-errors",
                f"/admin/users/{uid}/password",
                {"password": "short", "confirm": "other"},
                hx,
            )
            post("reset-ok", f"/admin/users/{uid}/reset", {"reason": "checked"}, hx)
            post("bulk-confirm", "/admin/users/bulk/reset/confirm", {"ids": [uid]}, hx)
            post("bulk-confirm-recovery", "/admin/users/bulk/recovery/confirm", {"ids": [uid]}, hx)
            post(
                "bulk-run-wrong-count",
                "/admin/users/bulk/reset",
                {"ids": [uid], "confirm_count": "99"},
                hx,
            )
            post("team-create-errors", "/admin/teams", {"name": ""}, hx)
            post("team-edit-errors", f"/admin/teams/{values['team_id']}", {"name": ""}, hx)
            post("import-no-file", "/admin/users/import", {}, hx)
            post("settings-errors", "/admin/settings", {"reset_link_ttl": "99999"}, hx)
            self.add(
                f"{lang}-{role}-audit-bad-date",
                client.get("/admin/audit?date_to=9999-12-31", headers=HX if hx else {}),
                lang,
            )
            self.add(
                f"{lang}-{role}-users-search",
                client.get(
                    "/admin/users?q=a&status=active&sort=last_login&direction=desc",
                    headers=HX if hx else {},
                ),
                lang,
            )
        self.age_sessions()  # now every privileged action asks for the password
        for hx in (False, True):
            post("reauth-dialog", f"/admin/users/{uid}/disable", {}, hx)
            post(
                "reauth-wrong",
                "/admin/reauth",
                {"reauth_password": "wrong", "next": f"/admin/users/{uid}/disable"},
                hx,
            )
            post("settings-stale", "/admin/settings", {"org_name": "X"}, hx)


def collect(app) -> dict[str, str]:
    collector = Collector(app)
    values = collector.prepare()
    collector.every_get_route(values)
    return collector.pages
