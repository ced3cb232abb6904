"""The screens of a temporary secret for one user, for either kind (``kind.SecretKind``):
"Are you sure…?", the result shown once (Copy, Send email), the Send email status.

The views of each kind (``views`` here, ``portal.passcodes.admin_views``) check access
with ``requires`` and hand over to these. The secret exists only in the response that
shows it: never stored, never cached, never pushed into the browser history.
"""

from __future__ import annotations

from flask import Response, abort, request

from .. import htmx, providers
from ..access.guard import target
from ..forms import EmptyForm
from ..messages import text
from ..models import OutboxMail, User
from ..users.outcome import list_changed
from .forms import ResetForm
from .kind import SecretKind

FINAL_MAIL = ("sent", "failed")


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
