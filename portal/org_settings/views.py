"""Organisation settings screen (administrators; saving needs a recent password entry)."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import access, htmx, settings
from ..admin import bp
from ..stepup.service import fresh_required
from . import service
from .forms import COMMON_ZONES, SettingsForm


def settings_admin(view):
    """Checked before the step-up, so a user without the permission never sees that dialog."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not access.can(current_user, "settings.update"):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def _render(form: SettingsForm, status: int = 200):
    response = htmx.render(
        "admin/settings.html", "admin/_settings_form.html", status=status, form=form,
        zones=COMMON_ZONES,
        warnings=service.warnings(form.password_min_length.data, form.password_max_length.data))
    if request.method == "POST":
        # The POST may come from the step-up dialog (which targets <body>): put the form back
        # in its place whatever the source was.
        htmx.retarget(response, "#settings-form", "outerHTML")
    return response


@bp.route("/settings", methods=["GET", "POST"], endpoint="settings")
@login_required
@settings_admin
def settings_view():
    if request.method != "POST":
        return _render(SettingsForm(data=service.initial(settings.current())))
    return _save()


@fresh_required
def _save():
    form = SettingsForm()
    if not form.validate():
        return _render(form, 422)
    changes = service.save(current_user._get_current_object(), service.submitted(form))
    if changes:
        flash(_("Settings saved. They apply from now on."), "success")
    else:
        flash(_("Nothing was changed."), "info")
    return htmx.redirect(url_for("admin.settings"))
