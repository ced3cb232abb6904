"""Settings → Passcodes: turning passcodes on, their length, and the API keys of the
passcode check (administrators; every change needs a recent password entry)."""

from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _

from .. import audit, htmx, settings
from ..access.guard import requires
from ..db import write
from ..forms import EmptyForm
from ..messages import text
from ..models import User
from . import apikeys
from .blueprint import bp
from .forms import ApiKeyForm, PasscodeSettingsForm


def section_context(form=None, key_form=None, new_key=None) -> dict:
    """What the passcode settings page shows."""
    return {
        "passcode_form": form
        or PasscodeSettingsForm(
            data={
                "passcodes_enabled": bool(settings.get("PASSCODES_ENABLED")),
                "passcode_length": int(settings.get("PASSCODE_LENGTH")),
            }
        ),
        "key_form": key_form or ApiKeyForm(),
        "api_keys": apikeys.listing(),
        "new_key": new_key,
        "empty_form": EmptyForm(),
    }


def _page(status: int = 200, **ctx):
    return render_template("passcodes/settings.html", **section_context(**ctx)), status


@bp.route("/admin/settings/passcodes", methods=["GET", "POST"])
@requires("settings.update", fresh=True)
def passcode_settings(actor: User):
    if request.method != "POST":
        return _page()
    form = PasscodeSettingsForm()
    if not form.validate():
        return _page(422, form=form)
    new = {
        "PASSCODES_ENABLED": bool(form.passcodes_enabled.data),
        "PASSCODE_LENGTH": int(form.passcode_length.data),
    }
    changes = {k: [settings.get(k), v] for k, v in new.items() if settings.get(k) != v}
    if changes:
        with write():
            settings.save({k: pair[1] for k, pair in changes.items()})
            audit.record("settings.update", actor=actor, detail=changes)
        flash(text("SETTINGS_SAVED"), "success")
    else:
        flash(text("SETTINGS_UNCHANGED"), "info")
    return htmx.redirect(url_for("passcodes.passcode_settings"))


@bp.post("/admin/settings/api-keys")
@requires("settings.update", fresh=True)
def api_key_create(actor: User):
    form = ApiKeyForm()
    if not form.validate():
        return _page(422, key_form=form)
    key, raw = apikeys.create(actor, form.name.data)
    response = make_response(
        render_template(
            "passcodes/settings.html",
            **section_context(key_form=ApiKeyForm(formdata=None), new_key=(key, raw)),
        ),
        201,
    )
    response.headers["Cache-Control"] = "no-store"
    return htmx.no_push(response)


@bp.post("/admin/settings/api-keys/<int:key_id>/revoke")
@requires("settings.update", fresh=True)
def api_key_revoke(actor: User, key_id: int):
    key = apikeys.revoke(actor, key_id)
    if key is None:
        abort(404)
    flash(_("The key “%(name)s” is revoked: it no longer works.", name=key.name), "success")
    return htmx.redirect(url_for("passcodes.passcode_settings"))
