"""User report (CSV export) and onboarding (CSV import, all or nothing)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import access, accounts, mail, settings
from ..csvtext import csv_line
from ..db import write
from ..messages import text
from ..models import Team, User, fold, utcnow
from ..users import labels
from ..users.search import Search, filtered_query, teams_for

EXPORT_COLUMNS = [
    "id",
    "username",
    "first_name",
    "last_name",
    "email",
    "email_present",
    "role",
    "team",
    "provider",
    "status",
    "temp_password",
    "last_sign_in",
    "last_reset",
    "created",
]
IMPORT_COLUMNS = ["username", "email", "first_name", "last_name", "role", "team", "language"]
MAX_IMPORT_ROWS = 5000
LANGUAGES = ("", "en", "fr")


def temp_password_state(user: User) -> str:
    if not user.must_change or user.temp_password_expires_at is None:
        return "none"
    return "expired" if user.temp_password_expires_at <= utcnow() else "pending"


TEMP_PASSWORD_LABELS = {"none": _l("none"), "pending": _l("pending"), "expired": _l("expired")}


def _when(value) -> str:
    """ISO date and time in the organisation's zone (``2026-03-31 14:05``): spreadsheets
    read it in every language (a locale format had a narrow no-break space, U+202F)."""
    if not value:
        return ""
    local = value.replace(tzinfo=ZoneInfo("UTC")).astimezone(settings.timezone())
    return local.strftime("%Y-%m-%d %H:%M")


def report_rows(actor: User | None, search: Search) -> Iterator[list]:
    """The filtered user list as report rows (streamed: fine at 100,000 users)."""
    query = filtered_query(actor, search).order_by(User.username_key)
    for user in query.iterator():
        yield [
            user.id,
            user.username,
            user.first_name,
            user.last_name,
            user.email or "",
            _("yes") if user.email else _("no"),
            labels.role_label(user.role),
            user.team.name if user.team_id else "",
            labels.provider_label(user.provider),
            labels.status_label(labels.user_status(user)),
            str(TEMP_PASSWORD_LABELS[temp_password_state(user)]),
            _when(user.last_login_at),
            _when(user.last_reset_at),
            _when(user.created_at),
        ]


def report_csv(actor: User | None, search: Search) -> Iterator[str]:
    yield "\ufeff" + csv_line(EXPORT_COLUMNS)  # BOM: spreadsheets then read UTF-8 correctly
    for row in report_rows(actor, search):
        yield csv_line(row)


# --- import ------------------------------------------------------------------------------


@dataclass
class ImportResult:
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (line, column, message)
    created: list[tuple[User, str | None]] = field(default_factory=list)  # (user, temp password)

    @property
    def ok(self) -> bool:
        return not self.errors


def _parse(text: str, result: ImportResult) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [(h or "").strip().lower() for h in (reader.fieldnames or [])]
    if "username" not in headers:
        result.errors.append(
            (1, "username", _("The first line must name the columns, including “username”."))
        )
        return []
    unknown = [h for h in headers if h and h not in IMPORT_COLUMNS]
    if unknown:
        result.errors.append((1, unknown[0], _("Unknown column “%(name)s”.", name=unknown[0])))
    reader.fieldnames = headers
    rows = []
    for row in reader:
        line = reader.line_num
        if len(rows) >= MAX_IMPORT_ROWS:
            result.errors.append(
                (line, "", _("At most %(num)d users per file.", num=MAX_IMPORT_ROWS))
            )
            break
        if None in row:
            result.errors.append((line, "", _("This line has more cells than there are columns.")))
        values = {k: (v or "").strip() for k, v in row.items() if k in IMPORT_COLUMNS}
        if any(values.values()):
            rows.append((line, values))
    return rows


def validate(text: str, actor: User | None = None) -> tuple[ImportResult, list[tuple[int, dict]]]:
    """Check every row (and duplicates within the file) before anything is written; with
    ``actor``, also that each row is an account they may create (a manager: their teams,
    roles below their own)."""
    result = ImportResult()
    rows = _parse(text, result)
    seen: dict[str, int] = {}
    for line, values in rows:

        def error(column, message, line=line):
            result.errors.append((line, column, message))

        try:
            values["username"] = accounts.clean_username(values.get("username", ""))
            accounts.check_new_username(values["username"])
            skeleton = "skeleton:" + accounts.username_skeleton(values["username"])
            if skeleton in seen and fold(values["username"]) not in seen:
                error(
                    "username",
                    _("Too much like the username on line %(line)d.", line=seen[skeleton]),
                )
            seen.setdefault(skeleton, line)
        except accounts.AccountError as exc:
            error("username", str(exc))
        try:
            values["email"] = accounts.clean_email(values.get("email"))
        except accounts.AccountError as exc:
            error("email", str(exc))
        for column in ("first_name", "last_name", "team"):
            value = values.get(column, "")
            if len(value) > 64 or any(not ch.isprintable() for ch in value):
                error(column, _("Use at most 64 printable characters."))
        role = (values.get("role") or access.default_role()).lower()
        if role not in access.role_names():
            error("role", _("Unknown role “%(role)s”.", role=role))
        elif actor is not None:
            _check_reach(actor, values, role, error)
        values["role"] = role
        language = (values.get("language") or "").lower()
        if language not in LANGUAGES:
            error("language", _("Use en or fr, or leave it empty."))
        values["language"] = language or None
        for key in (values.get("username"), values.get("email")):
            k = fold(key) if isinstance(key, str) else None
            if not k:
                continue
            if k in seen:
                error("username", _("Same username or email as line %(line)d.", line=seen[k]))
            else:
                try:
                    accounts.check_unique(key, None)
                except accounts.AccountError as exc:
                    error("username", str(exc))
            seen.setdefault(k, line)
    if not rows and not result.errors:
        result.errors.append((1, "", _("The file has no users.")))
    return result, rows


def _check_reach(actor: User, values: dict, role: str, error) -> None:
    """A row the actor may not create (``access.create_refusal``): a role at or above their
    own, or a team that is not one of theirs (a team-scoped actor never creates a team)."""
    name = (values.get("team") or "").strip()
    team = Team.get_or_none(Team.name_key == fold(name)) if name else None
    refusal = access.create_refusal(actor, role, team.id if team else None)
    if refusal == "role":
        error("role", text("IMPORT_ROLE_NOT_ALLOWED", role=labels.role_label(role)))
    elif refusal == "team":
        error(
            "team", text("IMPORT_TEAM_NOT_YOURS", teams=", ".join(t.name for t in teams_for(actor)))
        )


def import_users(text: str, actor: User | None = None) -> ImportResult:
    """Validate every row, then create them all in one transaction (or none)."""
    result, rows = validate(text, actor)
    if not result.ok:
        return result
    prepared = []
    for line, v in rows:  # bcrypt for temporary passwords: before the transaction
        try:
            prepared.append(
                (
                    line,
                    accounts.prepare_user(
                        v["username"],
                        role=v["role"],
                        email=v["email"],
                        first_name=v.get("first_name", ""),
                        last_name=v.get("last_name", ""),
                        team=v.get("team") or None,
                        language=v["language"],
                    ),
                )
            )
        except accounts.AccountError as exc:
            result.errors.append((line, exc.field, str(exc)))
            return result
    try:
        with write():
            for line, new in prepared:
                try:
                    user = accounts.insert_user(new, actor)
                except accounts.AccountError as exc:
                    result.errors.append((line, exc.field, str(exc)))
                    raise
                result.created.append((user, new.temp))
    except accounts.AccountError:
        result.created = []
        return result
    mail.wake()
    return result


def creates_privileged(text: str, actor: User | None = None) -> bool:
    """Does a valid file create accounts that reach everyone (administrators)?"""
    checked, rows = validate(text, actor)
    return checked.ok and any(access.grants_everyone(values.get("role")) for _l, values in rows)


def teams_preview(text: str, actor: User | None = None) -> dict | None:
    """The teams a valid file would create (to be agreed first), or None."""
    checked, rows = validate(text, actor)
    teams = new_teams(rows) if checked.ok else []
    return {"teams": teams, "users": len(rows), "text": text} if teams else None


def new_teams(rows: list[tuple[int, dict]]) -> list[str]:
    """Team names in the rows that no team has yet (as they will be created)."""
    existing = {t.name_key for t in Team.select(Team.name_key)}
    names: dict[str, str] = {}
    for _line, values in rows:
        name = (values.get("team") or "").strip()
        if name and fold(name) not in existing:
            names.setdefault(fold(name), name)
    return sorted(names.values(), key=str.casefold)
