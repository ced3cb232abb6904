"""Reading the audit log: filters, role scope, pagination and the CSV export.

The log is append-only: this module only ever selects (there is no edit or delete path
anywhere in the application).

Scope (ASVS 16.4.2, checklist H6): administrators (scope ``all``) read every event; a
team-scoped reader (a manager) reads only events whose ``team_id`` -- the *target's* team
when the event was recorded -- is one of the teams within their reach
(:func:`portal.access.team_ids`: their own team and the teams they manage). So a manager
sees what happened to the members of those teams who rank below them (the reach rule of
``portal.access``), and their own events; nothing else: no events about administrators or
other managers (issue 11, finding 5), no events without a target (failed sign-ins for
unknown names, CSRF failures, settings changes), no events about other teams' members,
even when the manager was the actor. Moving a user to another team does not move their
history.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from peewee import fn

from .. import access, settings
from ..models import AuditEvent, Role, User

PAGE_SIZE = 50
MAX_FILTER = 64  # usernames are at most 64 characters
MIN_DATE, MAX_DATE = date(1970, 1, 1), date(2999, 12, 31)  # filter range

# Labels of the actions the application records (unknown actions are shown raw).
ACTION_LABELS = {
    "login.success": _l("Signed in"),
    "login.failure": _l("Sign-in failed"),
    "account.lock": _l("Account locked"),
    "logout": _l("Signed out"),
    "reauth": _l("Password re-entered (confirmation)"),
    "recovery.request": _l("Password recovery requested"),
    "recovery.link_invalid": _l("Invalid or expired recovery link"),
    "password.reset": _l("Password reset with a link"),
    "password.change": _l("Password changed"),
    "mail.sent": _l("Email sent"),
    "mail.failed": _l("Email failed"),
    "user.create": _l("User created"),
    "user.update": _l("User updated"),
    "csrf.failure": _l("Form refused (CSRF)"),
    "ratelimit.hit": _l("Too many requests"),
    "access.denied": _l("Access denied"),
    "settings.update": _l("Settings changed"),
    "audit.export": _l("Audit log exported"),
    "admin.reset": _l("Reset & Unlock"),
    "admin.temp_password_mail": _l("Temporary password emailed"),
    "admin.unlock": _l("Account unlocked"),
    "admin.set_password": _l("Password set for the user"),
    "admin.disable": _l("User disabled"),
    "admin.enable": _l("User enabled"),
    "admin.end_sessions": _l("Sessions ended"),
    "admin.resend": _l("Link sent again"),
    "team.create": _l("Team created"),
    "team.rename": _l("Team renamed"),
    "team.delete": _l("Team deleted"),
    "team.managers": _l("Team managers changed"),
    "admin.bulk": _l("Bulk action (summary)"),
    "admin.bulk_recovery": _l("Recovery link sent (bulk)"),
    "admin.bulk_reset": _l("Reset & Unlock (bulk)"),
    "admin.bulk_unlock": _l("Unlock (bulk)"),
    "admin.bulk_disable": _l("Disable (bulk)"),
    "admin.bulk_enable": _l("Enable (bulk)"),
    "admin.bulk_download": _l("Bulk results downloaded"),
    "admin.export": _l("User report exported"),
    "admin.import": _l("Users imported"),
    "directory.unavailable": _l("Directory unavailable"),
    "directory.vanished": _l("Gone from the directory (disabled)"),
    "directory.conflict": _l("Directory entry clashes with a Passgate account"),
}

OUTCOME_LABELS = {
    "success": _l("Success"),
    "failure": _l("Failure"),
    "denied": _l("Denied"),
    "throttled": _l("Throttled"),
    "sent": _l("Link sent"),
    "no_match": _l("No matching account"),
    "no_email": _l("No email on file"),
    "disabled": _l("Account disabled"),
    "directory_account": _l("Directory account"),
    "rate_limited": _l("Too many requests"),
    "unavailable": _l("Directory unavailable"),
}


def action_label(action: str) -> str:
    """The translated label of a known action; unknown ones are shown as recorded."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def outcome_label(outcome: str) -> str:
    label = OUTCOME_LABELS.get(outcome)
    return str(label) if label is not None else outcome


@dataclass
class AuditFilter:
    """Validated filters; ``start``/``end`` are naive UTC bounds (end exclusive)."""

    actor: str = ""
    target: str = ""
    action: str = ""
    outcome: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The date range as UTC instants: from local midnight to the next local midnight."""
        return (_utc_midnight(self.date_from, tz),
                _utc_midnight(self.date_to + timedelta(days=1), tz) if self.date_to else None)


def _utc_midnight(day: date | None, tz: ZoneInfo) -> datetime | None:
    if day is None:
        return None
    local = datetime.combine(day, time(0), tzinfo=tz)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _parse_date(raw: str) -> date:
    if len(raw) != 10:
        raise ValueError(raw)
    return date.fromisoformat(raw)


def parse_filters(args) -> AuditFilter:
    """Read the query string; bad values become per-field errors (input is kept by the view)."""
    f = AuditFilter(
        actor=(args.get("actor") or "").strip()[:MAX_FILTER],
        target=(args.get("target") or "").strip()[:MAX_FILTER],
        action=(args.get("action") or "").strip()[:48],
        outcome=(args.get("outcome") or "").strip()[:16],
    )
    for name in ("actor", "target", "action", "outcome"):
        if any(not ch.isprintable() for ch in getattr(f, name)):
            # (PostgreSQL refuses NUL in text: never let it reach a query.)
            f.errors[name] = str(_l("Remove the control characters from the filters."))
    for name in ("date_from", "date_to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            day = _parse_date(raw)
        except ValueError:
            f.errors[name] = str(_l("Enter a date as YYYY-MM-DD, for example 2026-03-31."))
            continue
        if not MIN_DATE <= day <= MAX_DATE:
            # Far dates overflow when turned into UTC bounds (issue 11, finding 6).
            f.errors[name] = str(_l("Enter a date between %(first)s and %(last)s.",
                                    first=MIN_DATE.isoformat(), last=MAX_DATE.isoformat()))
            continue
        setattr(f, name, day)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        f.errors["date_to"] = str(_l("The end date must be on or after the start date."))
    try:
        f.page = max(1, min(int(args.get("page") or 1), 1_000_000))
    except ValueError:
        f.page = 1
    return f


def _prefix(column, text: str):
    """Case-insensitive prefix match that behaves the same on SQLite and PostgreSQL.

    (SQLite's LOWER only folds ASCII, so an exact-case match is accepted too.)
    """
    head = fn.SUBSTR(column, 1, len(text))
    return (fn.LOWER(head) == text.lower()) | (head == text)


def scoped(actor: User):
    """Every event ``actor`` may read, newest first (see the module docstring)."""
    query = AuditEvent.select().order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if not access.has_permission(actor, "audit.read"):
        return query.where(AuditEvent.id == -1)
    role = Role.get_or_none(Role.name == actor.role)
    if role is not None and role.scope == "all":
        return query
    teams = access.team_ids(actor) if role is not None and role.scope == "team" else set()
    if not teams:
        return query.where(AuditEvent.id == -1)
    # The reach rule of every other screen (issue 11, finding 5): the target must rank below
    # the reader -- never an administrator or a peer manager -- except the reader themself.
    target = User.alias("audit_target")
    roles = access.lower_roles(actor)
    return (query.join(target, on=(AuditEvent.target == target.id))
            .where(AuditEvent.team_id.in_(sorted(teams))
                   & (target.role.in_(roles or [""]) | (target.id == actor.id))))


def search(actor: User, f: AuditFilter):
    """The filtered, scoped query (not paginated)."""
    query = scoped(actor)
    if f.actor:
        query = query.where(_prefix(AuditEvent.actor_name, f.actor))
    if f.target:
        query = query.where(_prefix(AuditEvent.target_name, f.target))
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.outcome:
        query = query.where(AuditEvent.outcome == f.outcome)
    start, end = f.bounds(settings.timezone())
    if start:
        query = query.where(AuditEvent.created_at >= start)
    if end:
        query = query.where(AuditEvent.created_at < end)
    return query


@dataclass
class Page:
    rows: list
    total: int
    page: int
    pages: int


def page_of(actor: User, f: AuditFilter) -> Page:
    query = search(actor, f)
    total = query.count()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(f.page, pages)
    rows = list(query.paginate(page, PAGE_SIZE))
    return Page(rows=rows, total=total, page=page, pages=pages)


def choices(actor: User) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(actions, outcomes) for the filter selects: the known ones plus any recorded ones."""
    base = scoped(actor).order_by()
    actions = set(ACTION_LABELS) | {a for (a,) in base.select(AuditEvent.action).distinct().tuples()}
    outcomes = set(OUTCOME_LABELS) | {o for (o,) in base.select(AuditEvent.outcome).distinct().tuples()}
    return ([(a, action_label(a)) for a in sorted(actions, key=lambda a: action_label(a).casefold())],
            [(o, outcome_label(o)) for o in sorted(outcomes, key=lambda o: outcome_label(o).casefold())])


# The detail of an event, for people: translated names for the keys the application
# records and for their coded values; anything else is shown as recorded.
DETAIL_KEYS = {
    "reason": _l("Reason"),
    "kind": _l("Email"),
    "mail_id": _l("Email no."),
    "role": _l("Role"),
    "invited": _l("Invitation sent"),
    "failures": _l("Failed attempts"),
    "hard": _l("Locked until unlocked"),
    "sessions": _l("Sessions ended"),
    "must_change": _l("Must change at next sign-in"),
    "job": _l("Bulk run no."),
    "rows": _l("Rows"),
    "path": _l("Page"),
    "action": _l("Action"),
    "users": _l("Users"),
    "succeeded": _l("Succeeded"),
    "failed": _l("Failed"),
    "created": _l("Created"),
    "count": _l("Count"),
    "total": _l("Total"),
    "voided": _l("Previous link voided"),
    "team": _l("Team"),
    "from": _l("From"),
    "to": _l("To"),
    "managed": _l("Manages the team"),
    "members": _l("Members"),
    "managers": _l("Managers"),
}
DETAIL_VALUES = {
    "reason": {
        "bad_password": _l("wrong password"),
        "unknown_identifier": _l("unknown username or email"),
        "disabled": _l("account disabled"),
        "directory_account": _l("directory account"),
        "no_password": _l("no password set yet"),
        "temporary_password_expired": _l("temporary password expired"),
        "bad_current_password": _l("wrong current password"),
    },
    "kind": {
        "reset": _l("recovery link"),
        "invite": _l("invitation"),
        "password_changed": _l("password changed notice"),
        "account_locked": _l("account locked notice"),
        "temp_password": _l("temporary password"),
        "test": _l("test message"),
    },
    "action": {
        "recovery": _l("Send recovery links"),
        "reset": _l("Reset & Unlock"),
        "unlock": _l("Unlock"),
        "disable": _l("Disable"),
        "enable": _l("Enable"),
    },
}
CHANGED_FIELDS = {
    "username": _l("Username"), "email": _l("Email"), "first_name": _l("First name"),
    "last_name": _l("Last name"), "team": _l("Team"), "provider": _l("Provider"),
    "disabled": _l("Disabled"), "role": _l("Role"), "language": _l("Language"),
}


def _value_text(value, key: str = "") -> str:
    if value is True:
        return str(_l("yes"))
    if value is False:
        return str(_l("no"))
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        label = DETAIL_VALUES.get(key, {}).get(value)
        return str(label) if label is not None else value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def detail_text(event: AuditEvent) -> str:
    """The detail as short, translated text (it never holds a password or a token)."""
    repeats = getattr(event, "repeats", 1) or 1
    prefix = (str(_l("%(num)d times in this minute", num=repeats)) + "; ") if repeats > 1 else ""
    if not event.detail:
        return prefix.rstrip("; ")
    try:
        data = json.loads(event.detail)
    except ValueError:
        return prefix + event.detail
    if not isinstance(data, dict):
        return prefix + event.detail
    parts = [prefix.rstrip("; ")] if prefix else []
    for key, value in data.items():
        if key == "changed" and isinstance(value, dict):
            changes = []
            for name, pair in value.items():
                label = str(CHANGED_FIELDS.get(name, name))
                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                    changes.append(f"{label} ({_value_text(pair[0])} → {_value_text(pair[1])})")
                else:
                    changes.append(label)
            parts.append(str(_l("Changed: %(fields)s", fields=", ".join(changes))))
            continue
        label = DETAIL_KEYS.get(key)
        parts.append(str(_l("%(label)s: %(value)s", label=label if label is not None else key,
                            value=_value_text(value, key))))
    return "; ".join(parts)


# --------------------------------------------------------------------------- CSV export

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """Spreadsheet-safe text: a cell that could start a formula gets a leading ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_rows(actor: User, f: AuditFilter) -> Iterator[str]:
    """The CSV file in chunks: a UTF-8 BOM (for Excel), a header, then one line per event.

    The query (and its date bounds) is built here, before the response starts: whatever
    could fail does so while a clear error page can still be sent (issue 11, finding 6).
    """
    return _export_chunks(search(actor, f), settings.timezone())


def _export_chunks(query, tz) -> Iterator[str]:
    utc = ZoneInfo("UTC")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    # One time column when the organisation's zone is UTC (it used to say "Time (UTC)" twice).
    local_column = tz.key not in ("UTC", "Etc/UTC")
    writer.writerow([str(_l("Time (UTC)")),
                     *([str(_l("Time (%(zone)s)", zone=tz.key))] if local_column else []),
                     str(_l("Actor")), str(_l("Target")), str(_l("Action")),
                     str(_l("Action code")), str(_l("Outcome")), str(_l("IP address")),
                     str(_l("Detail"))])
    yield "\ufeff" + flush()
    for n, event in enumerate(query.iterator(), 1):
        at = event.created_at.replace(tzinfo=utc)
        local = [at.astimezone(tz).isoformat(timespec="seconds")] if local_column else []
        writer.writerow([csv_cell(v) for v in (
            at.strftime("%Y-%m-%dT%H:%M:%SZ"), *local,
            event.actor_name, event.target_name, action_label(event.action), event.action,
            outcome_label(event.outcome), event.ip, detail_text(event))])
        if n % 500 == 0:
            yield flush()
    yield flush()
