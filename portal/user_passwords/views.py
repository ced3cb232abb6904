"""Reset & Unlock (seed 000), emailing the temporary password, admin-typed passwords
(seeds 001-003). The screens of the temporary password are those of every temporary
secret (``screens``); the password exists only in the response that shows it."""

from __future__ import annotations

from .. import accounts, htmx
from ..access.guard import requires
from ..admin import bp
from ..messages import text
from ..models import User
from ..users.outcome import done, list_changed
from . import screens
from .forms import SetPasswordForm
from .service import PASSWORD

# The admin result page also serves the temporary password of a new account.
bp.add_app_template_global(PASSWORD, "temporary_password_kind")


# Reset & Unlock (seed 000: a new temporary password, unlocked, sessions ended) and Send
# email: the screens of every temporary secret, with the password kind.
screens.add_routes(
    bp, PASSWORD, reset_url="/users/<int:user_id>/reset", mail_url="/users/mail/<int:mail_id>"
)


def _password_page(user: User, form: SetPasswordForm, status: int = 200, **extra):
    page = htmx.render(
        "admin/user_password.html",
        "admin/_user_password.html",
        status=status,
        user=user,
        form=form,
        policy=accounts.current_policy(),
        in_dialog=htmx.is_htmx(),
        **extra,
    )
    return screens.shown_once(page) if status != 200 else page


@bp.route("/users/<int:user_id>/password", methods=["GET"])
@requires("users.update")
def set_password_form(actor: User, user: User):
    return _password_page(user, SetPasswordForm())


@bp.post("/users/<int:user_id>/password")
@requires("users.update", fresh=True)
def set_password(actor: User, user: User):
    form = SetPasswordForm()
    if form.save(actor, user):
        return _password_set(user, bool(form.must_change.data))
    return _password_page(user, form, 422, evaluation=form.checklist(user))


def _password_set(user: User, must_change: bool):
    if not htmx.is_htmx():
        return done(text("PASSWORD_SET", name=user.display_name), user)
    name = "admin/_user_password_set.html"
    response = htmx.render(name, name, user=user, must_change=must_change)
    return screens.shown_once(list_changed(response))
