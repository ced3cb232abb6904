"""The one way a view states who may use it: ``@requires(permission, ...)``.

Checks run in a fixed order, so someone who may not act never sees the password dialog:

1. signed in (otherwise the sign-in page; 401 for htmx and POST requests);
2. the actor holds ``permission`` (403; the error handler audits it);
3. ``everyone=True``: every account is within the actor's reach (403);
4. a ``user_id`` in the URL: that user is within reach (403; 404 for an unknown id, but
   403 for a team-scoped actor so walking ids reveals nothing) and the view receives it
   as ``user``; ``load=f``: ``f(actor)`` checks the view's own targets (a bulk selection)
   and returns more arguments for the view;
5. ``fresh=True``: a POST needs a recent password entry (the step-up dialog, 401).

The view receives the actor as ``actor``.
"""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, request
from flask_login import current_user

from ..models import User
from ..stepup.service import challenge
from . import Denied, get_target, has_permission, sees_everyone


def requires(permission: str, *, everyone: bool = False, fresh: bool = False, load=None):
    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            actor = current_user._get_current_object()
            if not has_permission(actor, permission):
                abort(403)
            if everyone and not sees_everyone(actor):
                abort(403)
            if "user_id" in kwargs:
                kwargs["user"] = target(actor, kwargs.pop("user_id"), permission)
            if load is not None:
                kwargs.update(load(actor))
            if fresh and request.method == "POST":
                refusal = challenge()
                if refusal is not None:
                    return refusal
            return view(*args, actor=actor, **kwargs)

        return wrapper

    return decorate


def target(actor: User, user_id: int, permission: str = "users.update") -> User:
    """The user ``user_id``, within the actor's reach for ``permission`` (else 403/404)."""
    try:
        user = get_target(actor, user_id, permission)
    except Denied:
        abort(403)
    if user is None:
        abort(404 if sees_everyone(actor) else 403)
    return user
