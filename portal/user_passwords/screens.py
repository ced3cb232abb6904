"""The screens of a temporary secret for one user, for either kind (``kind.SecretKind``):
"Are you sure…?", the result shown once (Copy, Send email), the Send email status.

Each kind's package registers them on its blueprint with its URLs (``add_routes``, as
Flask registers generic views): ``views`` here, ``portal.passcodes.admin_views``. The
secret exists only in the response that shows it: never stored, never cached, never
pushed into the browser history.
"""

from __future__ import annotations

from functools import partial

from flask import Blueprint, Response, abort, request

from .. import htmx, providers
from ..access.guard import requires, target
from ..forms import EmptyForm
from ..messages import text
from ..models import OutboxMail, User
from ..users.outcome import list_changed
from .forms import ResetForm
from .kind import SecretKind

FINAL_MAIL = ("sent", "failed")


def add_routes(bp: Blueprint, kind: SecretKind, *, reset_url: str, mail_url: str, load=None):
    """The routes of ``kind``'s screens on its blueprint: ``reset_confirm`` (GET
    ``reset_url``), ``reset`` (POST, after a step-up), ``reset_email`` (POST
    ``reset_url/email``), ``mail_status`` (GET ``mail_url``). Each needs ``users.update``
    on a user within reach; ``load`` runs before the view (and the step-up), not for the
    mail status: a passcode's 404 while passcodes are off."""

    def guarded(view, **options):
        return requires("users.update", load=load, **options)(partial(view, kind))

    bp.add_url_rule(reset_url, "reset_confirm", guarded(_confirm_view), methods=["GET"])
    bp.add_url_rule(reset_url, "reset", guarded(reset, fresh=True), methods=["POST"])
    bp.add_url_rule(f"{reset_url}/email", "reset_email", guarded(email), methods=["POST"])
    bp.add_url_rule(mail_url, "mail_status", requires("users.update")(partial(mail_status, kind)))


def shown_once(response: Response) -> Response:
    """A secret on screen: never stored, never pushed into the browser history."""
    response.headers["Cache-Control"] = "no-store"
    return htmx.no_push(response)


def confirm(kind: SecretKind, user: User, form: ResetForm | None = None, status: int = 200):
    """The confirm dialog (GET), or again with the form's errors (422)."""
    return htmx.render(
        "admin/user_reset_confirm.html",
        "admin/_reset_confirm.html",
        status=status,
        kind=kind,
        user=user,
        form=form or ResetForm(),
        in_dialog=htmx.is_htmx(),
    )


def _confirm_view(kind: SecretKind, actor: User, user: User):
    return confirm(kind, user)


def reset(kind: SecretKind, actor: User, user: User):
    """A new temporary secret (the reason is audited), shown once; the list refreshes."""
    form = ResetForm()
    if not form.validate_on_submit():
        return confirm(kind, user, form, 422)
    try:
        temp = kind.reset(actor, user, form.reason.data or "")
    except providers.PasswordRejected as exc:
        form.reason.errors = [*form.reason.errors, exc.message]
        return confirm(kind, user, form, 422)
    response = htmx.render(
        "admin/user_reset_result.html",
        "admin/_reset_result.html",
        kind=kind,
        user=User.get_by_id(user.id),
        temp=temp,
        form=EmptyForm(),
        in_dialog=htmx.is_htmx(),
    )
    return shown_once(list_changed(response))


def email(kind: SecretKind, actor: User, user: User):
    """Send email: the form carries the secret back; it is mailed only if it is still the
    user's current, unexpired temporary one."""
    if not user.email:
        return mail_fragment(kind, None, 422, text("NO_EMAIL"))
    row = kind.email(actor, user, request.form.get(kind.name, ""))
    if row is None:
        return mail_fragment(kind, None, 422, kind.say("gone"))
    return mail_fragment(kind, row)


def mail_status(kind: SecretKind, actor: User, mail_id: int):
    """Polled by the Send email status (every 2 s) until the mail is sent or failed; only
    mail about a user within the actor's reach."""
    found = OutboxMail.id == mail_id
    if kind.mail_kind is not None:
        found &= OutboxMail.kind == kind.mail_kind
    row = OutboxMail.get_or_none(found)
    if row is None or row.user_id is None:
        abort(404)
    target(actor, row.user_id)
    return mail_fragment(kind, row)


def mail_fragment(kind: SecretKind, row: OutboxMail | None, status: int = 200, error=None):
    return shown_once(
        htmx.render(
            "admin/user_mail_status.html",
            "admin/_reset_mail_status.html",
            status=status,
            kind=kind,
            row=row,
            error=error,
            final=FINAL_MAIL,
        )
    )
