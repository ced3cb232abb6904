"""Passgate: password self-service and account administration."""

from __future__ import annotations

import os

from flask import Flask

HERE = os.path.dirname(os.path.abspath(__file__))


def create_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Application factory: configuration layers, extensions, blueprints, CLI."""
    app = Flask(
        __name__,
        instance_path=instance_path
        or os.environ.get("PASSGATE_INSTANCE")
        or os.path.join(os.getcwd(), "instance"),
        instance_relative_config=True,
    )
    from . import config

    config.load(app, overrides)

    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)

    from . import db, errors, i18n, mail, providers, ratelimit, security, sessions, templating
    from .invitations import init_app as init_invitations

    db.init_app(app)
    app.session_interface = sessions.SignedCookieSessions()
    sessions.login_manager.init_app(app)
    security.init_app(app)
    i18n.init_app(app, os.path.join(HERE, "translations"))
    ratelimit.init_app(app)
    mail.init_app(app)
    templating.init_app(app)
    init_invitations(app)
    errors.init_app(app)
    providers.init_app(app)

    # Each /admin feature package adds its views to the admin blueprint when imported.
    from . import (  # noqa: F401
        account,
        admin,
        audit_log,
        bulk,
        import_export,
        org_settings,
        overview,
        passcodes,
        stepup,
        teams,
        user_passwords,
        users,
    )
    from .account_sessions import bp as account_sessions_bp
    from .auth import bp as auth_bp
    from .recovery import bp as recovery_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(recovery_bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(account_sessions_bp)
    passcodes.init_app(app)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = db.retry_conflicts(view)
    return app
