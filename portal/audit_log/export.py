"""The audit log as a CSV file, streamed in chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from .. import settings
from ..csvtext import safe_cell
from ..models import User
from .labels import action_label, detail_text, outcome_label
from .service import AuditFilter, search


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
    writer.writerow(
        [
            str(_l("Time (UTC)")),
            *([str(_l("Time (%(zone)s)", zone=tz.key))] if local_column else []),
            str(_l("Actor")),
            str(_l("Target")),
            str(_l("Action")),
            str(_l("Action code")),
            str(_l("Outcome")),
            str(_l("IP address")),
            str(_l("Detail")),
        ]
    )
    yield "\ufeff" + flush()
    for n, event in enumerate(query.iterator(), 1):
        at = event.created_at.replace(tzinfo=utc)
        local = [at.astimezone(tz).isoformat(timespec="seconds")] if local_column else []
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    *local,
                    event.actor_name,
                    event.target_name,
                    action_label(event.action),
                    event.action,
                    outcome_label(event.outcome),
                    event.ip,
                    detail_text(event),
                )
            ]
        )
        if n % 500 == 0:
            yield flush()
    yield flush()
