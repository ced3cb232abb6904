"""Organisation settings screen (administrators; saving needs a recent password entry)."""

from __future__ import annotations

from flask import flash, request, url_for

from .. import htmx, settings
from ..access.guard import requires
from ..admin import bp
from ..messages import text
from ..models import User
from . import service
from .forms import COMMON_ZONES, SettingsForm


def _render(form: SettingsForm, status: int = 200):
    response = htmx.render(
        "admin/settings.html",
        "admin/_settings_form.html",
        status=status,
        form=form,
        zones=COMMON_ZONES,
        warnings=service.warnings(form.password_min_length.data, form.password_max_length.data),
    )
    if request.method == "POST":  # also from the step-up dialog (it targets <body>): put the
        htmx.retarget(response, "#settings-form", "outerHTML")  # form back in its place
    return response


@bp.route("/settings", methods=["GET", "POST"], endpoint="settings")
@requires("settings.update", fresh=True)
def settings_view(actor: User):
    if request.method != "POST":
        return _render(SettingsForm(data=service.initial(settings.current())))
    form = SettingsForm()
    if not form.validate():
        return _render(form, 422)
    if service.save(actor, service.submitted(form)):
        flash(text("SETTINGS_SAVED"), "success")
    else:
        flash(text("SETTINGS_UNCHANGED"), "info")
    return htmx.redirect(url_for("admin.settings"))
