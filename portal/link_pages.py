"""The pages behind mailed single-use links: a password link (recovery, invitation), an
address confirmation, "this wasn't me".

The URL in the mail never acts (mail scanners open links): it keeps the token's digest in
the session and moves to a token-free page. That page looks the link up on every request;
a button on it (a POST with a CSRF token) does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import redirect, render_template, request, session, url_for

from . import audit, links, ratelimit, tokens
from .forms import EmptyForm


@dataclass(frozen=True)
class LinkPage:
    key: str  # the session entry that keeps the token's digest
    kinds: tuple[str, ...]  # the link purposes the page accepts
    invalid_template: str
    invalid_action: str  # audited when the session held a link that no longer works

    def land(self, token: str, endpoint: str):
        """The mailed URL: keep the digest, move to the token-free page (no Referer)."""
        ratelimit.check("reset_token")
        session[self.key] = tokens.digest(token[:128])
        response = redirect(url_for(endpoint), 302)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def state(self) -> links.LinkState:
        return links.lookup(session.get(self.key), self.kinds)

    def invalid(self, audited: bool = True):
        """The 404 page of a link that cannot be used (any reason looks the same)."""
        if audited and session.get(self.key):
            audit.record(self.invalid_action, outcome="failure")
        return render_template(self.invalid_template), 404

    def forget(self) -> None:
        session.pop(self.key, None)

    def serve(self, template: str, act: Callable):
        """A page whose one button does ``act(state, page)``: its response, or None when
        another request used the link first. The page gets the form, the link's user, its
        token and the token's kind."""
        state = self.state()
        if not state.valid:
            return self.invalid()
        form = EmptyForm()
        page = {"form": form, "user": state.user, "token": state.token, "kind": state.token.purpose}
        if not form.validate_on_submit():  # the page; a POST without a valid CSRF token: 400
            return render_template(template, **page), 400 if request.method == "POST" else 200
        response = act(state, page)
        return self.invalid() if response is None else response
