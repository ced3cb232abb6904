"""Language choice: ``?lang=`` (remembered), the signed-in user's choice, Accept-Language."""

from __future__ import annotations

from flask import g, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_translations
from flask_login import current_user

from . import settings
from .models import User
from .settings import current

babel = Babel()


def languages() -> list[str]:
    return settings.get("LANGUAGES")


def select_locale() -> str:
    if not has_request_context():
        return current()["DEFAULT_LANGUAGE"]
    if g.get("db_unavailable"):  # the 503 page: choose without the database
        return session.get("lang") or request.accept_languages.best_match(languages()) or "en"
    if getattr(current_user, "is_authenticated", False) and current_user.language in languages():
        return current_user.language
    if session.get("lang") in languages():
        return session["lang"]
    return request.accept_languages.best_match(languages()) or current()["DEFAULT_LANGUAGE"]


SAME_SITE = ("same-origin", "same-site", "none")


def same_site_request() -> bool:
    """A POST (CSRF-checked) or a GET the browser says came from this site or was typed
    (Fetch Metadata). A cross-site GET, or one without the header, writes nothing."""
    return request.method == "POST" or request.headers.get("Sec-Fetch-Site") in SAME_SITE


def remember_choice():
    """``?lang=fr`` switches the language for this browser; on a same-site request it is also
    saved on the signed-in account (issue 11, finding 9: a cross-site link cannot)."""
    lang = request.args.get("lang")
    if lang not in languages():
        return
    session["lang"] = lang
    if (
        getattr(current_user, "is_authenticated", False)
        and current_user.language != lang
        and same_site_request()
    ):
        User.update(language=lang).where(User.id == current_user.id).execute()
        current_user.language = lang
    return


def _translations():
    """The catalog for the current locale, looked up once per app context and locale.

    A page calls ``_()`` a dozen times or more; Flask-Babel's own template callables redo
    the whole lookup (g, domain, locale, ``str(locale)``, cache) on every call. The result
    is kept beside Flask-Babel's per-context state and reused only while the locale object
    is the same one (``force_locale`` and ``refresh`` replace or remove it).
    """
    if not has_app_context():  # as Flask-Babel: its null catalog
        return get_translations()
    ctx = g.get("_flask_babel")
    if ctx is not None:
        cached = getattr(ctx, "passgate_translations", None)
        locale = getattr(ctx, "babel_locale", None)
        if cached is not None and locale is not None and cached[0] is locale:
            return cached[1]
    translations = get_translations()
    ctx = g.get("_flask_babel")
    locale = getattr(ctx, "babel_locale", None) if ctx is not None else None
    if locale is not None:
        ctx.passgate_translations = (locale, translations)
    return translations


def init_app(app, translations_dir: str) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations_dir
    babel.init_app(app, locale_selector=select_locale)
    # Same callables as Flask-Babel installs, with the catalog lookup done once a page.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.before_request(remember_choice)
