"""User administration: the list, add/edit, row actions. Access is checked per request
(``portal.access``); password actions live in ``password_views``, bulk actions in
``bulk_views``, the CSV report and import in ``csv_views``."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from .. import access, accounts, htmx, providers
from ..models import User, fold
from . import bp, service
from .forms import EmptyForm, UserForm
from .stepup import challenge


def actor_with(permission: str) -> User:
    """The signed-in user, if they hold ``permission`` (403 otherwise, audited)."""
    actor = current_user._get_current_object()
    if not access.has_permission(actor, permission):
        abort(403)
    return actor


def load_target(user_id: int, permission: str = "users.update") -> tuple[User, User]:
    """(actor, target) or 403/404. A team-scoped actor gets 403 for unknown ids too, so
    walking ids reveals nothing about other teams."""
    actor = actor_with(permission)
    try:
        user = service.get_target(actor, user_id, permission)
    except service.Denied:
        abort(403)
    if user is None:
        abort(404 if service.visible_roles(actor) is None else 403)
    return actor, user


def list_context(actor: User, search: service.Search) -> dict:
    return {
        "listing": service.run_search(actor, search),
        "search": search,
        "teams": service.teams_for(actor),
        "roles": service.ROLE_LABELS if service.visible_roles(actor) is None else
        {r: service.ROLE_LABELS[r] for r in service.visible_roles(actor) if r in service.ROLE_LABELS},
        "labels": service,
        "may_create": access.has_permission(actor, "users.create"),
        "may_manage_teams": service.visible_roles(actor) is None
        and access.has_permission(actor, "users.update"),
    }


# Fired on <body>: the element that asked may be gone (a dialog replaced by the answer).
CHANGED = {"target": "body"}


def done(message: str, user: User | None = None):
    """Success of a row action: htmx gets an empty 200 that refreshes the list; a plain
    request is redirected (303) with a flash message."""
    flash(message, "success")  # htmx: shown by the list when it refreshes
    if htmx.is_htmx():
        response = Response(render_template("admin/_user_done.html"), status=200)
        response.headers["Vary"] = "HX-Request"
        return htmx.trigger(response, "users-changed", CHANGED)
    return redirect(url_for("admin.user_detail", user_id=user.id) if user else
                    url_for("admin.users"), 303)


@bp.get("/users")
@login_required
def users():
    actor = actor_with("users.read")
    search = service.Search.from_args(request.args)
    return htmx.render("admin/users.html", "admin/_user_results.html",
                       **list_context(actor, search))


@bp.get("/users/<int:user_id>")
@login_required
def user_detail(user_id: int):
    actor, user = load_target(user_id, "users.read")
    return render_template("admin/user_detail.html", user=user, labels=service,
                           form=EmptyForm(), may_update=access.can(actor, "users.update", user),
                           remote=_remote_state(user))


def _remote_state(user: User) -> dict | None:
    """The directory's view of a directory account (None for local accounts)."""
    source = providers.for_user(user)
    if not source.remote:
        return None
    try:
        return {"state": source.state(user), "unavailable": False}
    except providers.DirectoryUnavailable:
        return {"state": None, "unavailable": True}


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def user_new():
    actor = actor_with("users.create")
    form = UserForm().setup(actor, creating=True)
    ctx = {"form": form, "user": None, "in_dialog": htmx.is_htmx()}
    if request.method != "POST":
        return htmx.render("admin/user_form.html", "admin/_user_form.html", **ctx)
    if form.validate_on_submit():
        if form.team.data not in (None, *[t.id for t in service.teams_for(actor)]):
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
        response.headers["HX-Push-Url"] = "false"
    else:
        response = htmx.render("admin/user_created.html", "admin/_user_created.html", **ctx)
    return htmx.trigger(response, "users-changed", CHANGED)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def user_edit(user_id: int):
    actor, user = load_target(user_id)
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
    if data.team_id not in (None, *[t.id for t in service.teams_for(actor)]):
        return "team", _("Choose a team from the list.")
    if service.visible_roles(actor) is not None and data.team_id is None:
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


def _row_action(user_id: int, action):
    """Unlock, disable, enable, end sessions: reach first (403), then a fresh password."""
    actor, user = load_target(user_id)
    EmptyForm().validate_on_submit()  # CSRFProtect has already refused a bad token
    refusal = challenge()
    if refusal is not None:
        return refusal
    return action(actor, user)


@bp.post("/users/<int:user_id>/unlock")
@login_required
def user_unlock(user_id: int):
    def act(actor, user):
        service.unlock(actor, user)
        return done(_("%(name)s is unlocked.", name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/disable")
@login_required
def user_disable(user_id: int):
    def act(actor, user):
        if user.id == actor.id:
            abort(403)
        service.set_disabled(actor, user, True)
        return done(_("%(name)s is disabled and signed out.", name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/enable")
@login_required
def user_enable(user_id: int):
    def act(actor, user):
        service.set_disabled(actor, user, False)
        return done(_("%(name)s is enabled.", name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/sessions/end")
@login_required
def user_end_sessions(user_id: int):
    def act(actor, user):
        count = service.end_sessions(actor, user)
        return done(ngettext("Ended %(num)d session of %(name)s.",
                             "Ended %(num)d sessions of %(name)s.", count,
                             name=user.display_name), user)
    return _row_action(user_id, act)


@bp.post("/users/<int:user_id>/resend")
@login_required
def user_resend(user_id: int):
    """A new invitation (no password yet) or recovery link; the pending one stops working."""
    def act(actor, user):
        purpose = service.resend_purpose(user)
        if purpose is None:
            if htmx.is_htmx():
                flash(_("%(name)s cannot receive a link (no email, disabled or a directory "
                        "account).", name=user.display_name), "error")
                response = Response(render_template("admin/_user_done.html"), status=422)
                return htmx.trigger(response, "users-changed", CHANGED)
            abort(422)
        service.resend_link(actor, user, purpose)
        message = (_("A new invitation has been sent to %(email)s; the previous one no longer "
                     "works.", email=user.email) if purpose == "invite" else
                   _("A new recovery link has been sent to %(email)s; any previous one no "
                     "longer works.", email=user.email))
        return done(message, user)
    return _row_action(user_id, act)


from . import bulk_views, csv_views, password_views  # noqa: F401
