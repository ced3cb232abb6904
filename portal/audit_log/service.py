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

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from peewee import fn

from .. import access, settings
from ..models import AuditEvent, User
from . import labels
from .labels import ACTION_LABELS, OUTCOME_LABELS, action_label, outcome_label

PAGE_SIZE = 50
MAX_FILTER = 64  # usernames are at most 64 characters
MIN_DATE, MAX_DATE = date(1970, 1, 1), date(2999, 12, 31)  # filter range


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
        return (
            _utc_midnight(self.date_from, tz),
            _utc_midnight(self.date_to + timedelta(days=1), tz) if self.date_to else None,
        )


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
            f.errors[name] = str(
                _l(
                    "Enter a date between %(first)s and %(last)s.",
                    first=MIN_DATE.isoformat(),
                    last=MAX_DATE.isoformat(),
                )
            )
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
    target = User.alias("audit_target")
    condition = access.event_condition(actor, AuditEvent.team_id, target)
    if condition is None:
        return query
    return query.join(target, on=(AuditEvent.target == target.id)).where(condition)


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
    actions = set(ACTION_LABELS) | {
        a for (a,) in base.select(AuditEvent.action).distinct().tuples()
    }
    outcomes = set(OUTCOME_LABELS) | {
        o for (o,) in base.select(AuditEvent.outcome).distinct().tuples()
    }
    return (
        [(a, action_label(a)) for a in sorted(actions, key=lambda a: action_label(a).casefold())],
        [
            (o, outcome_label(o))
            for o in sorted(outcomes, key=lambda o: outcome_label(o).casefold())
        ],
    )


FILTER_ARGS = ("actor", "target", "action", "outcome", "date_from", "date_to")


def kept_args(args) -> dict:
    """The filters of a query string that are set (for links to other pages, the export,
    and the audit of an export)."""
    return {k: args[k] for k in FILTER_ARGS if args.get(k)}


def screen(actor: User, f: AuditFilter, args) -> dict:
    """What the audit screen shows: the page of events (none when the filters cannot be
    read), the filter choices, the filters as typed, the time zone of the times."""
    actions, outcomes = choices(actor)
    return {
        "f": f,
        "result": Page([], 0, 1, 1) if f.errors else page_of(actor, f),
        "actions": actions,
        "outcomes": outcomes,
        "args": args,
        "kept": kept_args(args),
        "labels": labels,
        "tz": settings.timezone().key,
    }
