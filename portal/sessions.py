"""Server-side sessions on top of Flask's signed cookie.

The cookie carries a random 256-bit session id; the ``user_session`` table holds only its
SHA-256. Signing out, a password change, a reset or a disable deletes the rows, so a
copied cookie stops working at once; idle and absolute limits are checked here, on the
server, on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import abort, current_app, flash, g, request, session, url_for
from flask import redirect as http_redirect
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, login_user, logout_user
from itsdangerous import TimestampSigner

from . import htmx, settings
from .models import User, UserSession, utcnow

login_manager = LoginManager()
login_manager.session_protection = None  # superseded by the server-side record
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to continue.")
login_manager.login_message_category = "info"


@login_manager.unauthorized_handler
def unauthorized():
    """Plain GET: to the sign-in page and back. htmx or a POST: 401 (htmx navigates)."""
    if htmx.is_htmx():
        # Come back to the page the fragment belonged to (safe_next checks it at sign-in).
        response = current_app.make_response(("", 401))
        return htmx.navigate(response, url_for("auth.login", next=htmx.current_page()))
    if request.method != "GET":
        abort(401)
    flash(str(login_manager.login_message), login_manager.login_message_category)
    return http_redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


TOUCH_EVERY = timedelta(seconds=60)


class _KeyCachingSigner(TimestampSigner):
    """itsdangerous' timestamp signer (Flask's), remembering its derived keys.

    The stock signer re-derives its HMAC key from the secret key on every sign and
    verify; the result depends only on the arguments, so it is computed once.
    """

    _derived: dict[tuple, bytes] = {}

    def derive_key(self, secret_key=None) -> bytes:
        secret = self.secret_keys[-1] if secret_key is None else secret_key
        cache_key = (secret, self.salt, self.key_derivation, self.digest_method)
        key = self._derived.get(cache_key)
        if key is None:
            key = super().derive_key(secret_key)
            if len(self._derived) >= 64:
                self._derived.clear()
            self._derived[cache_key] = key
        return key


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session with the serializer built once per secret key.

    Flask builds a new serializer (and its signer derives the key again) when it opens
    and again when it saves the session, on every request. The cookie format, salt,
    algorithm and key rotation (``SECRET_KEY_FALLBACKS``) are Flask's own.
    """

    def __init__(self):
        self._serializer = None

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        identity = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._serializer
        if cached is None or cached[0] != identity:
            serializer = super().get_signing_serializer(app)
            if serializer.signer is TimestampSigner:  # otherwise keep Flask's choice
                serializer.signer = _KeyCachingSigner
            cached = self._serializer = (identity, serializer)
        return cached[1]


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def _ip() -> str:
    return request.remote_addr or ""


def start(user: User) -> UserSession:
    """Sign ``user`` in with a brand-new session id (no fixation: the old cookie is dropped)."""
    lang = session.get("lang")
    session.clear()
    sid = secrets.token_urlsafe(32)
    row = UserSession.create(
        id_hash=_hash(sid), user=user, ip=_ip(), user_agent=(request.user_agent.string or "")[:255]
    )
    session["sid"] = sid
    if lang:
        session["lang"] = lang
    login_user(user)
    g.user_session = row
    return row


def current_row() -> UserSession | None:
    return g.get("user_session")


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Resolve the signed-in user from the session record, enforcing the time limits."""
    sid = session.get("sid")
    if not sid:
        return None
    row = (
        UserSession.select(UserSession, User)
        .join(User)
        .where(UserSession.id_hash == _hash(sid))
        .first()
    )
    if row is None or str(row.user_id) != str(user_id):
        # Unknown (ended) session: anonymous, but leave the cookie alone. A request that
        # was in flight while the password changed would otherwise overwrite the new
        # session's cookie with an empty one and sign the user out.
        return None
    now = utcnow()
    idle = timedelta(minutes=settings.get("SESSION_IDLE_MINUTES"))
    absolute = timedelta(hours=settings.get("SESSION_ABSOLUTE_HOURS"))
    if now - row.last_seen_at > idle or now - row.created_at > absolute or row.user.disabled:
        row.delete_instance()
        session.clear()
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        # At most one write a minute per session (not one per page view); the address
        # is refreshed with it for "My sessions".
        UserSession.update(last_seen_at=now, ip=_ip()).where(
            UserSession.id_hash == row.id_hash
        ).execute()
    g.user_session = row
    return row.user


def end() -> None:
    """Sign out: the server-side record goes, so the cookie is worthless even if copied."""
    sid = session.get("sid")
    if sid:
        UserSession.delete().where(UserSession.id_hash == _hash(sid)).execute()
    logout_user()
    session.clear()


def end_all(user: User) -> int:
    """End every session of ``user`` (password change or reset, disable, admin action)."""
    return UserSession.delete().where(UserSession.user == user.id).execute()


def renew_after_password_change(user: User) -> None:
    """End the user's other sessions and give this browser a fresh session id."""
    end_all(user)
    start(user)


def mark_reauthenticated() -> None:
    """Record a password entry now (step-up window for sensitive actions)."""
    row = current_row()
    if row is not None:
        now = utcnow()
        UserSession.update(authenticated_at=now).where(UserSession.id_hash == row.id_hash).execute()
        row.authenticated_at = now


def recently_authenticated(minutes: int) -> bool:
    row = current_row()
    return row is not None and utcnow() - row.authenticated_at <= timedelta(minutes=minutes)
