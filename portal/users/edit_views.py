"""Adding and editing a user (one form, in a dialog with htmx or as a page)."""

from __future__ import annotations

from flask import request
from flask_babel import gettext as _
from flask_login import login_required

from .. import access, accounts, htmx, providers
from ..admin import bp
from ..forms import EmptyForm
from ..models import User, fold
from ..stepup.service import challenge
from . import search, service
from .forms import UserForm
from .outcome import done, list_changed


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def user_new():
    actor = access.require("users.create")
    form = UserForm().setup(actor, creating=True)
    ctx = {"form": form, "user": None, "in_dialog": htmx.is_htmx()}
    if request.method != "POST":
        return htmx.render("admin/user_form.html", "admin/_user_form.html", **ctx)
    if form.validate_on_submit():
        if form.team.data not in (None, *[t.id for t in search.teams_for(actor)]):
            form.team.errors = [*form.team.errors, _("Choose a team from the list.")]
        else:
            # Creating an administrator creates privilege: a fresh password first.
            refusal = challenge() if "role" in form and form.role.data == "admin" else None
            if refusal is not None:
                return refusal
            try:
                user, temp = service.create_user(actor, form.data_for_service())
            except accounts.AccountError as exc:
                getattr(form, exc.field, form.username).errors = [str(exc)]
            else:
                return _created(user, temp)
    return htmx.render("admin/user_form.html", "admin/_user_form.html", status=422, **ctx)


def _created(user: User, temp: str | None):
    ctx = {"user": user, "temp": temp, "in_dialog": htmx.is_htmx(), "created": True,
           "form": EmptyForm(), "from_directory": providers.for_user(user).remote}
    if temp:
        response = htmx.render("admin/user_reset_result.html", "admin/_reset_result.html", **ctx)
        htmx.no_push(response)
    else:
        response = htmx.render("admin/user_created.html", "admin/_user_created.html", **ctx)
    return list_changed(response)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int):
    actor, user = access.require_target(user_id)
    form = UserForm(obj=None if request.method == "POST" else _form_values(user))
    form.setup(actor, creating=False)
    ctx = {"form": form, "user": user, "in_dialog": htmx.is_htmx(),
           "owned": providers.for_user(user).owned_fields()}
    if request.method != "POST":
        return htmx.render("admin/user_form.html", "admin/_user_form.html", **ctx)
    if form.validate_on_submit():
        data = form.data_for_service()
        problem = _edit_problem(actor, user, data)
        if problem:
            getattr(form, problem[0]).errors = [problem[1]]
        else:
            refusal = challenge() if _sensitive_edit(user, data) else None
            return refusal if refusal is not None else _save(actor, user, data, form, ctx)
    return htmx.render("admin/user_form.html", "admin/_user_form.html", status=422, **ctx)


def _form_values(user: User):
    class Values:
        username = user.username
        email = user.email or ""
        first_name = user.first_name
        last_name = user.last_name
        role = user.role
        team = user.team_id
        provider = user.provider
        language = user.language or ""
        disabled = user.disabled
    return Values()


def _edit_problem(actor: User, user: User, data: service.UserData) -> tuple[str, str] | None:
    if data.team_id not in (None, *[t.id for t in search.teams_for(actor)]):
        return "team", _("Choose a team from the list.")
    if access.visible_roles(actor) is not None and data.team_id is None:
        return "team", _("Choose a team from the list.")
    if user.id == actor.id and data.disabled:
        return "disabled", _("You cannot disable your own account.")
    if user.id == actor.id and data.role is not None and data.role != user.role:
        return "role", _("You cannot change your own role.")
    return None


def _sensitive_edit(user: User, data: service.UserData) -> bool:
    """Edits that need a recent password entry (step-up): a role change (privilege), an email
    change (the recovery channel, one's own included) and disabling or enabling."""
    if data.role is not None and data.role != user.role:
        return True
    if (fold((data.email or "").strip()) or None) != (user.email_key or None):
        return True
    return bool(data.disabled) != bool(user.disabled)


def _save(actor, user, data, form, ctx):
    try:
        changes = service.update_user(actor, user, data)
    except accounts.AccountError as exc:
        getattr(form, exc.field, form.username).errors = [str(exc)]
        return htmx.render("admin/user_form.html", "admin/_user_form.html", status=422, **ctx)
    user = User.get_by_id(user.id)
    message = (_("Saved the changes to %(name)s.", name=user.display_name) if changes
               else _("Nothing changed."))
    return done(message, user)
