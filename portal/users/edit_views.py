"""Adding and editing a user (one form, in a dialog with htmx or as a page)."""

from __future__ import annotations

from flask import request

from .. import accounts, htmx, providers
from ..access import grants_everyone
from ..access.guard import requires
from ..admin import bp
from ..forms import EmptyForm
from ..messages import text
from ..models import User
from ..stepup.service import challenge
from . import service
from .forms import UserForm
from .outcome import done, list_changed


def _form_page(ctx: dict, status: int = 200):
    return htmx.render("admin/user_form.html", "admin/_user_form.html", status=status, **ctx)


def _run(form, ctx: dict, action):
    """Validate, run ``action`` (an ``AccountError`` goes under its field), or 422."""
    if form.validate_on_submit():
        try:
            return action(form.data_for_service())
        except accounts.AccountError as exc:
            getattr(form, exc.field, form.username).errors = [str(exc)]
    return _form_page(ctx, 422)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("users.create")
def user_new(actor: User):
    form = UserForm().setup(actor, creating=True)
    ctx = {"form": form, "user": None, "in_dialog": htmx.is_htmx()}
    if request.method != "POST":
        return _form_page(ctx)

    def create(data: service.UserData):
        service.check_edit(actor, None, data)  # refusals first: never the dialog for them
        # Creating an account that reaches everyone creates privilege: a fresh password first.
        refusal = challenge() if data.role and grants_everyone(data.role) else None
        return refusal if refusal is not None else _created(*service.create_user(actor, data))

    return _run(form, ctx, create)


def _created(user: User, temp: str | None):
    ctx = {
        "user": user,
        "temp": temp,
        "in_dialog": htmx.is_htmx(),
        "created": True,
        "form": EmptyForm(),
        "from_directory": providers.for_user(user).remote,
    }
    if temp:
        response = htmx.render("admin/user_reset_result.html", "admin/_reset_result.html", **ctx)
        htmx.no_push(response)
    else:
        response = htmx.render("admin/user_created.html", "admin/_user_created.html", **ctx)
    return list_changed(response)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@requires("users.update")
def user_edit(actor: User, user: User):
    form = UserForm(data=None if request.method == "POST" else service.form_values(user))
    form.setup(actor, creating=False)
    ctx = {
        "form": form,
        "user": user,
        "in_dialog": htmx.is_htmx(),
        "owned": providers.for_user(user).owned_fields(),
    }
    if request.method != "POST":
        return _form_page(ctx)

    def save(data: service.UserData):
        service.check_edit(actor, user, data)  # refusals first: never the dialog for them
        refusal = challenge() if service.needs_fresh_password(user, data) else None
        return (
            refusal if refusal is not None else _saved(user, service.update_user(actor, user, data))
        )

    return _run(form, ctx, save)


def _saved(user: User, changes: dict):
    user = User.get_by_id(user.id)
    return done(
        text("USER_SAVED", name=user.display_name) if changes else text("USER_UNCHANGED"), user
    )
