"""The mailed account links: confirm an address, "this wasn't me" (``link_pages``: the
mailed URL never acts, the token-free page's button does)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import links, messages
from ..link_pages import LinkPage
from . import bp, notme, service

CONFIRM = LinkPage(
    "confirm_token_hash", links.CONFIRM_KINDS, "account/link_invalid.html", "account.link_invalid"
)
NOT_ME = LinkPage(
    "not_me_token_hash", links.NOT_ME_KINDS, "account/link_invalid.html", "account.link_invalid"
)
# What a used confirmation link did: the message, and the page of a signed-in owner.
CONFIRMED = {
    "confirm_email": ("EMAIL_CHANGED", "account.email"),
    "confirm_backup": ("BACKUP_ADDED", "account.recovery"),
}


@bp.get("/confirm/<token>")
def confirm_landing(token: str):
    return CONFIRM.land(token, "account.confirm")


@bp.get("/not-me/<token>")
def not_me_landing(token: str):
    return NOT_ME.land(token, "account.not_me")


@bp.route("/confirm", methods=["GET", "POST"])
def confirm():
    return CONFIRM.serve("account/confirm.html", _confirm)


def _confirm(state: links.LinkState, page: dict):
    try:
        done = service.confirm(state)
    except service.AddressTaken:
        error = messages.text("ADDRESS_TAKEN")
        return render_template("account/confirm.html", error=error, **page), 422
    if done is None:
        return None
    CONFIRM.forget()
    message, own_page = CONFIRMED[done]
    flash(messages.text(message, address=state.token.data), "success")
    signed_in = current_user.is_authenticated and current_user.id == state.user.id
    return redirect(url_for(own_page if signed_in else "auth.login"), 303)


@bp.route("/not-me", methods=["GET", "POST"])
def not_me():
    return NOT_ME.serve("account/not_me.html", _not_me)


def _not_me(state: links.LinkState, page: dict):
    done = notme.act(state, request.remote_addr or "")
    if done is None:
        return None
    NOT_ME.forget()
    session["not_me_done"] = done
    return redirect(url_for("account.not_me_done"), 303)


@bp.get("/not-me/done")
def not_me_done():
    kind = session.get("not_me_done")
    if kind not in links.NOT_ME_KINDS:
        return redirect(url_for("auth.login"), 303)
    return render_template("account/not_me_done.html", kind=kind)
