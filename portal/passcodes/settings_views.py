"""Settings → Passcodes: turning passcodes on, their length, and the API keys of the
passcode check (administrators; every change needs a recent password entry)."""

from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _

from .. import htmx
from ..access.guard import requires
from ..forms import EmptyForm
from ..messages import text
from ..models import User
from . import apikeys, service
from .blueprint import bp
from .forms import ApiKeyForm, PasscodeSettingsForm


def section_context(form=None, key_form=None, new_key=None) -> dict:
    """What the passcode settings page shows."""
    return {
        "passcode_form": form or PasscodeSettingsForm(data=service.current_settings()),
        "key_form": key_form or ApiKeyForm(),
        "api_keys": apikeys.listing(),
        "new_key": new_key,
        "empty_form": EmptyForm(),
    }


@bp.route("/admin/settings/passcodes", methods=["GET", "POST"])
@requires("settings.update", fresh=True)
def passcode_settings(actor: User):
    form = PasscodeSettingsForm() if request.method == "POST" else None
    if form is None or not form.validate():
        status = 200 if form is None else 422
        return render_template("passcodes/settings.html", **section_context(form)), status
    data = form.passcodes_enabled.data, form.passcode_length.data
    if service.save_settings(actor, *data):
        flash(text("SETTINGS_SAVED"), "success")
    else:
        flash(text("SETTINGS_UNCHANGED"), "info")
    return htmx.redirect(url_for("passcodes.passcode_settings"))


@bp.post("/admin/settings/api-keys")
@requires("settings.update", fresh=True)
def api_key_create(actor: User):
    form = ApiKeyForm()
    new_key = apikeys.create(actor, form.name.data) if form.validate() else None
    context = section_context(
        key_form=ApiKeyForm(formdata=None) if new_key else form, new_key=new_key
    )
    response = make_response(
        render_template("passcodes/settings.html", **context), 201 if new_key else 422
    )
    if new_key:
        response.headers["Cache-Control"] = "no-store"
        htmx.no_push(response)
    return response


@bp.post("/admin/settings/api-keys/<int:key_id>/revoke")
@requires("settings.update", fresh=True)
def api_key_revoke(actor: User, key_id: int):
    key = apikeys.revoke(actor, key_id)
    if key is None:
        abort(404)
    flash(_("The key “%(name)s” is revoked: it no longer works.", name=key.name), "success")
    return htmx.redirect(url_for("passcodes.passcode_settings"))
