"""Language choice: ``?lang=`` (remembered), the signed-in user's choice, Accept-Language."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request, session
from flask_babel import Babel
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


def init_app(app, translations_dir: str) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations_dir
    babel.init_app(app, locale_selector=select_locale)
    app.before_request(remember_choice)
