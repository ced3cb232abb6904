"""Adding and editing a user (one form, in a dialog with htmx or as a page)."""

from __future__ import annotations

from flask import request

from .. import accounts, htmx, providers
from ..access.guard import requires
from ..admin import bp
from ..models import User
from ..stepup.service import challenge
from . import service
from .forms import UserForm
from .outcome import created, saved


def _form_page(ctx: dict, status: int = 200):
    return htmx.render("admin/user_form.html", "admin/_user_form.html", status=status, **ctx)


def _run(actor: User, ctx: dict, action):
    """The form of ``ctx``; posted: valid, allowed (refusals never ask for the password), a fresh
    password if needed, then ``action`` (an AccountError goes under its field), or 422."""
    if request.method != "POST":
        return _form_page(ctx)
    form, user = ctx["form"], ctx["user"]
    if form.validate_on_submit():
        data = form.data_for_service()
        try:
            service.check_edit(actor, user, data)
            refusal = challenge() if service.needs_fresh_password(user, data) else None
            return refusal if refusal is not None else action(data)
        except accounts.AccountError as exc:
            getattr(form, exc.field, form.username).errors = [str(exc)]
    return _form_page(ctx, 422)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.create")
def user_new(actor: User):
    form = UserForm().setup(actor, creating=True)
    ctx = {"form": form, "user": None, "in_dialog": htmx.is_htmx()}
    return _run(actor, ctx, lambda data: created(*service.create_user(actor, data)))


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@requires("users.update")
def user_edit(actor: User, user: User):
    values = None if request.method == "POST" else service.form_values(user)
    form = UserForm(data=values).setup(actor, creating=False)
    owned = providers.for_user(user).owned_fields()
    ctx = {"form": form, "user": user, "in_dialog": htmx.is_htmx(), "owned": owned}
    return _run(actor, ctx, lambda data: saved(user, service.update_user(actor, user, data)))
