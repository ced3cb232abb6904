"""The user list (search, filters, paging) and one user's page."""

from __future__ import annotations

from flask import render_template, request

from .. import access, htmx, links, providers
from ..access.guard import requires
from ..admin import bp
from ..forms import EmptyForm
from ..models import User
from . import labels, search, service


def list_context(actor: User, query: search.Search) -> dict:
    visible = access.visible_roles(actor)
    roles = {r: labels.role_label(r) for r in (access.role_names() if visible is None else visible)}
    return {
        "listing": search.run_search(actor, query),
        "search": query,
        "teams": search.teams_for(actor),
        "roles": roles,
        "labels": labels,
        "resend_purpose": service.resend_purpose,
        "may_create": access.has_permission(actor, "users.create"),
        "may_manage_teams": access.may_manage_teams(actor),
    }


@bp.get("/users")
@requires("users.read")
def users(actor: User):
    query = search.Search.from_args(request.args)
    return htmx.render("admin/users.html", "admin/_user_results.html", **list_context(actor, query))


@bp.get("/users/<int:user_id>")
@requires("users.read")
def user_detail(actor: User, user: User):
    return render_template(
        "admin/user_detail.html",
        user=user,
        labels=labels,
        resend_purpose=service.resend_purpose,
        has_pending_link=links.has_pending,
        form=EmptyForm(),
        may_update=access.can(actor, "users.update", user),
        remote=_remote_state(user),
    )


def _remote_state(user: User) -> dict | None:
    """The directory's view of a directory account (None for local accounts)."""
    source = providers.for_user(user)
    if not source.remote:
        return None
    try:
        return {"state": source.state(user), "unavailable": False}
    except providers.DirectoryUnavailable:
        return {"state": None, "unavailable": True}
