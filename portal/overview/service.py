"""The overview for administrators and managers (their scope only): accounts by status,
mail that could not be delivered, and 30 days of sign-in and recovery activity drawn as
server-side SVG (no script, no style attribute: CSP-safe), with every number also as
text and every count linking to the filtered user list or audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from .. import settings
from ..audit_log import service as audit_service
from ..audit_log.labels import DETAIL_VALUES
from ..models import AuditEvent, OutboxMail, User, utcnow
from ..users.search import scope_condition, status_condition

DAYS = 30

# (key, audit action, label): the series of the activity picture, in drawing order.
SERIES = [
    ("signins", "login.success", _l("Sign-ins")),
    ("failures", "login.failure", _l("Failed sign-ins")),
    ("lockouts", "account.lock", _l("Lockouts")),
    ("recovery", "recovery.request", _l("Recovery requests")),
    ("resets", "password.reset", _l("Completed resets")),
]

STATUS_ORDER = ["locked", "waiting", "disabled", "must_change", "invited", "never"]


@dataclass
class Series:
    key: str
    action: str
    label: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def peak(self) -> int:
        return max(self.counts) if self.counts else 0


def account_counts(actor: User) -> dict[str, int]:
    """Accounts within reach, by list status (and "never signed in")."""
    counts = {}
    scope = scope_condition(actor)
    for status in [*STATUS_ORDER, "all"]:
        query = User.select(User.id)
        conds = [
            c
            for c in (scope, None if status == "all" else status_condition(status))
            if c is not None
        ]
        counts[status] = (query.where(*conds) if conds else query).count()
    return counts


def mail_problems(actor: User, limit: int = 5) -> tuple[int, list[OutboxMail]]:
    """Mail that failed in the last 30 days, about accounts within reach (newest first)."""
    since = utcnow() - timedelta(days=DAYS)
    query = OutboxMail.select(
        OutboxMail.id,
        OutboxMail.created_at,
        OutboxMail.kind,
        OutboxMail.recipient,
        OutboxMail.last_error,
        OutboxMail.user,
    ).where((OutboxMail.status == "failed") & (OutboxMail.created_at >= since))
    scope = scope_condition(actor)
    if scope is not None:
        query = query.join(User, on=(OutboxMail.user == User.id)).where(scope)
    return query.count(), list(query.order_by(OutboxMail.created_at.desc()).limit(limit))


def activity(actor: User, today: date | None = None) -> tuple[list[date], list[Series]]:
    """Per-day counts (the organisation's days) of the series, over the last 30 days."""
    tz = settings.timezone()
    utc = ZoneInfo("UTC")
    today = today or utcnow().replace(tzinfo=utc).astimezone(tz).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=tz).astimezone(utc)
    index = {d: i for i, d in enumerate(days)}
    counts = {action: [0] * DAYS for _key, action, _label in SERIES}
    query = (
        audit_service.scoped(actor)
        .order_by()
        .select(AuditEvent.created_at, AuditEvent.action)
        .where(
            AuditEvent.action.in_([a for _k, a, _l in SERIES])
            & (AuditEvent.created_at >= start.replace(tzinfo=None))
        )
    )
    for created_at, action in query.tuples().iterator():
        day = created_at.replace(tzinfo=utc).astimezone(tz).date()
        if day in index:
            counts[action][index[day]] += 1
    return days, [Series(key, action, str(label), counts[action]) for key, action, label in SERIES]


# --------------------------------------------------------------------------- drawing

CHART_W, CHART_H = 600, 64  # one small bar chart per series, all on the same day axis


def bars(series: Series) -> list[dict]:
    """Bar rectangles (viewBox units) for one series, scaled to its own peak."""
    step = CHART_W / DAYS
    width = step * 0.7
    peak = series.peak or 1
    out = []
    for i, count in enumerate(series.counts):
        height = 0 if count == 0 else max(2.0, (CHART_H - 4) * count / peak)
        out.append(
            {
                "x": round(i * step + (step - width) / 2, 2),
                "y": round(CHART_H - height, 2),
                "w": round(width, 2),
                "h": round(height, 2),
                "count": count,
            }
        )
    return out


def kind_label(kind: str) -> str:
    label = DETAIL_VALUES["kind"].get(kind)
    return str(label) if label is not None else kind


def page(actor: User) -> dict:
    """What the overview shows ``actor``: counts in their scope, mail problems, activity."""
    days, series = activity(actor)
    failed_mail, recent_failures = mail_problems(actor)
    return {
        "counts": account_counts(actor),
        "status_order": STATUS_ORDER,
        "days": days,
        "series": series,
        "bars": bars,
        "chart_w": CHART_W,
        "chart_h": CHART_H,
        "failed_mail": failed_mail,
        "recent_failures": recent_failures,
        "since": days[0].isoformat(),
        "kind_label": kind_label,
    }
