"""The mailed account links: confirm an address, "this wasn't me".

As with the reset link, the mailed URL never acts (mail scanners open links): it keeps
the token's digest in the session and moves to a token-free page, whose button (a POST
with a CSRF token) does the work.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import audit, links, messages, ratelimit, tokens
from . import bp, notme, service
from .forms import ActionForm

CONFIRM_KEY, NOT_ME_KEY = "confirm_token_hash", "not_me_token_hash"


def _land(token: str, key: str, endpoint: str):
    ratelimit.check("reset_token")
    session[key] = tokens.digest(token[:128])
    response = redirect(url_for(endpoint), 302)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invalid(key: str):
    if session.get(key):
        audit.record("account.link_invalid", outcome="failure")
    return render_template("account/link_invalid.html"), 404


@bp.get("/confirm/<token>")
def confirm_landing(token: str):
    return _land(token, CONFIRM_KEY, "account.confirm")


@bp.route("/confirm", methods=["GET", "POST"])
def confirm():
    state = links.lookup(session.get(CONFIRM_KEY), links.CONFIRM_KINDS)
    if not state.valid:
        return _invalid(CONFIRM_KEY)
    form = ActionForm()
    context = {"form": form, "token": state.token, "user": state.user}
    if request.method != "POST":
        return render_template("account/confirm.html", **context)
    if not form.validate_on_submit():
        return render_template("account/confirm.html", **context), 400
    try:
        done = service.confirm(state)
    except service.AddressTaken:
        audit.record(
            "account.confirm",
            outcome="failure",
            target=state.user,
            detail={"reason": "address_taken", "kind": state.token.purpose},
        )
        return render_template(
            "account/confirm.html", error=messages.text("ADDRESS_TAKEN"), **context
        ), 422
    if done is None:
        return _invalid(CONFIRM_KEY)
    session.pop(CONFIRM_KEY, None)
    flash(
        messages.text(
            "EMAIL_CHANGED" if done == "confirm_email" else "BACKUP_ADDED", address=state.token.data
        ),
        "success",
    )
    signed_in = current_user.is_authenticated and current_user.id == state.user.id
    target = "account.email" if done == "confirm_email" else "account.recovery"
    return redirect(url_for(target if signed_in else "auth.login"), 303)


@bp.get("/not-me/<token>")
def not_me_landing(token: str):
    return _land(token, NOT_ME_KEY, "account.not_me")


@bp.route("/not-me", methods=["GET", "POST"])
def not_me():
    state = links.lookup(session.get(NOT_ME_KEY), links.NOT_ME_KINDS)
    if not state.valid:
        return _invalid(NOT_ME_KEY)
    form = ActionForm()
    context = {"form": form, "kind": state.token.purpose, "user": state.user}
    if request.method != "POST":
        return render_template("account/not_me.html", **context)
    if not form.validate_on_submit():
        return render_template("account/not_me.html", **context), 400
    done = notme.act(state, request.remote_addr or "")
    if done is None:
        return _invalid(NOT_ME_KEY)
    session.pop(NOT_ME_KEY, None)
    session["not_me_done"] = done
    return redirect(url_for("account.not_me_done"), 303)


@bp.get("/not-me/done")
def not_me_done():
    kind = session.get("not_me_done")
    if kind not in links.NOT_ME_KINDS:
        return redirect(url_for("auth.login"), 303)
    return render_template("account/not_me_done.html", kind=kind)
