"""Language choice: ``?lang=`` (remembered), the signed-in user's choice, Accept-Language."""

from __future__ import annotations

from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import Babel, get_locale, get_translations
from flask_login import current_user

babel = Babel()


def languages() -> list[str]:
    return current_app.config["LANGUAGES"]


def select_locale() -> str:
    from .settings import current

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
    if (getattr(current_user, "is_authenticated", False) and current_user.language != lang
            and same_site_request()):
        from .models import User

        User.update(language=lang).where(User.id == current_user.id).execute()
        current_user.language = lang
    return


def translations():
    """Flask-Babel's catalog for the current locale, looked up once per request and locale.

    Flask-Babel resolves it again on every call (about 12 µs of context and locale
    lookups), and a page of the user list makes a few hundred calls. Keyed by the locale,
    so ``force_locale`` (mail in the recipient's language) still gets its own catalog.
    """
    if not has_app_context():
        return get_translations()
    key = str(get_locale())
    cache = g.get("_passgate_translations")
    if cache is None:
        cache = g._passgate_translations = {}
    found = cache.get(key)
    if found is None:
        found = cache[key] = get_translations()
    return found


def init_app(app, translations_dir: str) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations_dir
    babel.init_app(app, locale_selector=select_locale)
    # Templates' _(), ngettext(), pgettext(): the same functions as Flask-Babel installs,
    # over the per-request catalog above.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.before_request(remember_choice)
