"""Configuration: defaults, then the instance file, then ``PASSGATE_*`` environment variables.

Tests pass their overrides last, to ``create_app(overrides)``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit

# Settings an administrator may later change from the settings screen are marked (db);
# the value here is only the default until a row in the ``setting`` table overrides it.
DEFAULTS: dict = {
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # default: sqlite:///<instance>/passgate.db
    "DATABASE_POOL": False,  # `passgate serve` turns it on (reuse connections)
    # SQLite: how long a write waits for the database's one write lock before the request
    # answers 503 + Retry-After (writes are short; this bounds the wait under a burst).
    "DATABASE_BUSY_TIMEOUT_MS": 5000,
    "BASE_URL": "http://127.0.0.1:5000",
    "REDIS_URL": "",
    "TRUSTED_HOSTS_EXTRA": "",
    "TRUSTED_PROXIES": 0,  # number of reverse proxies whose X-Forwarded-For is trusted
    # Mail (Flask-Mail). With no MAIL_SERVER the quick start prints mail to the console.
    "MAIL_SERVER": "",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "Passgate <passgate@localhost>",
    "MAIL_BACKEND": "",  # "smtp" | "console"; empty = smtp when MAIL_SERVER is set
    "MAIL_MAX_ATTEMPTS": 8,
    "MAIL_RETRY_BASE_SECONDS": 30,
    "MAIL_WORKER_INTERVAL": 2.0,
    "MAIL_LEASE_SECONDS": 300,  # a mail claimed by a worker that died is retried after this
    # Passwords
    "BCRYPT_ROUNDS": 12,
    "PASSWORD_MIN_LENGTH": 15,  # (db)
    "PASSWORD_MAX_LENGTH": 128,  # (db)
    "PASSWORD_REQUIRE_UPPER": False,  # (db)
    "PASSWORD_REQUIRE_LOWER": False,  # (db)
    "PASSWORD_REQUIRE_DIGIT": False,  # (db)
    "PASSWORD_REQUIRE_SYMBOL": False,  # (db)
    "PASSWORD_HISTORY": 5,  # (db)
    "PASSWORD_MAX_AGE_DAYS": 0,  # (db) 0 = passwords never expire (NIST)
    "TEMP_PASSWORD_TTL_HOURS": 48,  # (db)
    # Links: minutes, or "end-of-day" (midnight in the organisation's time zone)
    "RESET_LINK_TTL": "30",  # (db)
    "INVITE_LINK_TTL": "4320",  # (db) 72 h
    # "This wasn't me" links in change notices (days); address confirmations (minutes)
    "NOT_ME_LINK_DAYS": 7,
    "CONFIRM_LINK_MINUTES": 1440,
    "INVITE_REMINDER_HOURS": 24,  # (db) one reminder this long before expiry; 0 = none
    "RESET_MAILS_PER_WINDOW": 3,
    "RESET_MAIL_WINDOW_MINUTES": 15,
    # Sign-in throttling (per account, unknown identifiers included)
    "LOCKOUT_FREE_FAILURES": 5,  # (db)
    "LOCKOUT_BASE_SECONDS": 30,  # (db)
    "LOCKOUT_MAX_SECONDS": 900,  # (db)
    "LOCKOUT_HARD_LIMIT": 50,  # (db)
    "LOCKOUT_RESET_HOURS": 12,
    # Per-IP limits (Flask-Limiter syntax)
    "LIMIT_LOGIN": "20 per minute;300 per day",
    "LIMIT_FORGOT": "10 per 15 minutes",
    "LIMIT_RESET_TOKEN": "10 per minute",
    "LIMIT_POLICY_CHECK": "120 per minute",
    # Every other place a password is typed again (step-up, change of password)
    "LIMIT_REAUTH": "10 per minute;100 per day",
    "LIMIT_PASSWORD_CHANGE": "10 per minute;100 per day",
    # Sessions
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_ABSOLUTE_HOURS": 12,
    "REAUTH_MINUTES": 10,  # (db)
    # Mail every other administrator when an administrator is reset/set/locked (issue 10)
    "ADMIN_ALERTS": True,  # (db)
    # Numeric passcodes (F19): off until an administrator turns them on
    "PASSCODES_ENABLED": False,  # (db)
    "PASSCODE_LENGTH": 6,  # (db) digits, 4 to 12
    "LIMIT_PASSCODE_API": "120 per minute;20000 per day",  # per API key
    # Organisation
    "ORG_NAME": "Passgate",  # (db)
    "TIMEZONE": "UTC",  # (db)
    "DEFAULT_LANGUAGE": "en",  # (db)
    "LANGUAGES": ["en", "fr"],
    # Directory (F15); empty LDAP_URL = identity provider only (see portal/providers/)
    "LDAP_URL": "",  # ldap://host:port or ldaps://host:port
    "LDAP_START_TLS": False,
    "LDAP_BIND_DN": "",  # service account: reads entries, writes passwords
    "LDAP_BIND_PASSWORD": "",
    "LDAP_USER_BASE": "",  # e.g. ou=people,dc=example,dc=org
    "LDAP_USER_FILTER": "(objectClass=inetOrgPerson)",
    "LDAP_ATTR_USERNAME": "uid",
    "LDAP_ATTR_EMAIL": "mail",
    "LDAP_ATTR_FIRST_NAME": "givenName",
    "LDAP_ATTR_LAST_NAME": "sn",
    "LDAP_ATTR_TEAM": "",  # an attribute name, or a DN under which groups are teams
    "LDAP_FLAVOUR": "openldap",  # openldap (ppolicy) | ad (Active Directory, Samba)
    "LDAP_TIMEOUT": 5.0,  # seconds, for every directory call
    "DEV_OUTBOX": False,
}

# Mailed links: (shortest, longest) lifetime in minutes, and the longest in words.
# A recovery link lives at most 24 hours, an invitation at most 7 days (issue 11, finding 7).
LINK_LIMITS = {"RESET_LINK_TTL": (5, 1440, "24 hours"), "INVITE_LINK_TTL": (5, 10080, "7 days")}
END_OF_DAY = "end-of-day"

_BOOL = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
    "": False,
}


def _coerce(default, raw: str):
    """Convert an environment string to the type of the default value."""
    if isinstance(default, bool):
        key = raw.strip().lower()
        if key not in _BOOL:
            raise ValueError(f"expected a boolean, got {raw!r}")
        return _BOOL[key]
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def load(app, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from defaults, the instance file, the environment and overrides."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("passgate.cfg", silent=True)
    for key, default in DEFAULTS.items():
        raw = os.environ.get(f"PASSGATE_{key}")
        if raw is not None:
            try:
                app.config[key] = _coerce(default, raw)
            except ValueError as exc:
                raise SystemExit(f"PASSGATE_{key}: {exc}") from None
    if overrides:
        app.config.update(overrides)
    _derive(app)


def _derive(app) -> None:
    """Compute the Flask/extension settings that follow from Passgate's own."""
    cfg = app.config
    if not cfg.get("SECRET_KEY"):
        raise SystemExit(
            "No secret key: set PASSGATE_SECRET_KEY or run `passgate quickstart` "
            "to create an instance folder with one."
        )
    if not cfg.get("DATABASE_URL"):
        cfg["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "passgate.db")
    base = urlsplit(cfg["BASE_URL"])
    if base.scheme not in ("http", "https") or not base.hostname:
        raise SystemExit("PASSGATE_BASE_URL must be an absolute http(s) URL")
    secure = base.scheme == "https"
    cfg["SECURE"] = secure
    hosts = [base.hostname]
    if base.hostname in ("127.0.0.1", "localhost", "::1"):
        hosts += ["127.0.0.1", "localhost", "::1"]
    hosts += [h.strip() for h in cfg["TRUSTED_HOSTS_EXTRA"].split(",") if h.strip()]
    cfg["TRUSTED_HOSTS"] = sorted(set(hosts))
    cfg["SERVER_NAME"] = None
    cfg["PREFERRED_URL_SCHEME"] = base.scheme
    # Cookies: __Host- prefix requires Secure, so it is used only over https.
    cfg["SESSION_COOKIE_NAME"] = "__Host-session" if secure else "passgate_session"
    cfg["SESSION_COOKIE_SECURE"] = secure
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["SESSION_COOKIE_PATH"] = "/"
    cfg["SESSION_COOKIE_DOMAIN"] = None
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"])
    cfg["REMEMBER_COOKIE_DURATION"] = timedelta(seconds=0)
    cfg["MAX_CONTENT_LENGTH"] = 64 * 1024
    cfg["MAX_FORM_MEMORY_SIZE"] = 64 * 1024
    # CSRF tokens live as long as the server-side session (idle/absolute limits bound them).
    cfg["WTF_CSRF_TIME_LIMIT"] = None
    cfg["WTF_CSRF_SSL_STRICT"] = secure
    cfg["WTF_CSRF_HEADERS"] = ["X-CSRFToken", "X-CSRF-Token"]
    cfg["BABEL_DEFAULT_LOCALE"] = cfg["DEFAULT_LANGUAGE"]
    cfg["BABEL_DEFAULT_TIMEZONE"] = "UTC"
    # Per-IP counts: Redis for several servers; otherwise a SQLite file in the instance
    # folder that every worker process of this server shares; memory only when asked.
    cfg["RATELIMIT_STORAGE_URI"] = (
        cfg["REDIS_URL"]
        or cfg.get("RATELIMIT_STORAGE_URI")
        or "passgate+sqlite://" + os.path.join(app.instance_path, "ratelimit.db")
    )
    cfg["RATELIMIT_HEADERS_ENABLED"] = True
    cfg["RATELIMIT_ENABLED"] = cfg.get("RATELIMIT_ENABLED", True)
    if not cfg["MAIL_BACKEND"]:
        cfg["MAIL_BACKEND"] = "smtp" if cfg["MAIL_SERVER"] else "console"
    for key, (low, high, words) in LINK_LIMITS.items():
        value = str(cfg[key]).strip()
        if value != END_OF_DAY and not (value.isdigit() and low <= int(value) <= high):
            raise SystemExit(
                f"PASSGATE_{key} must be a number of minutes from {low} to {high} "
                f"(at most {words}) or {END_OF_DAY}, not {value[:20]!r}"
            )
        cfg[key] = value
    if not 1 <= int(cfg["NOT_ME_LINK_DAYS"]) <= 30:
        raise SystemExit("PASSGATE_NOT_ME_LINK_DAYS must be a number of days from 1 to 30")
    if not 5 <= int(cfg["CONFIRM_LINK_MINUTES"]) <= 10080:
        raise SystemExit(
            "PASSGATE_CONFIRM_LINK_MINUTES must be a number of minutes from 5 to 10080 (7 days)"
        )
    if cfg["LDAP_FLAVOUR"] not in ("openldap", "ad"):
        raise SystemExit("PASSGATE_LDAP_FLAVOUR must be openldap or ad")
    if cfg["LDAP_URL"]:
        if not cfg["LDAP_URL"].lower().startswith(("ldap://", "ldaps://")):
            raise SystemExit("PASSGATE_LDAP_URL must start with ldap:// or ldaps://")
        if not cfg["LDAP_USER_BASE"]:
            raise SystemExit("PASSGATE_LDAP_USER_BASE is required with PASSGATE_LDAP_URL")
    if float(cfg["LDAP_TIMEOUT"]) <= 0:
        raise SystemExit("PASSGATE_LDAP_TIMEOUT must be a positive number of seconds")
