"""The once-only results of a bulk reset: each user's temporary secret (a password or a
passcode, by its ``SecretKind``) kept only encrypted in the job row with the kind's own
key, shown once, downloadable once as CSV, deleted unread after ``RESULTS_TTL``. They
never reach the audit log."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from .. import crypto
from ..csvtext import csv_line
from ..models import BulkJob, User, utcnow
from ..user_passwords.kind import SecretKind

RESULTS_TTL = timedelta(hours=1)
COLUMNS = ("id", "username", "name", "email")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def row(kind: SecretKind, user: User, temp: str) -> dict:
    """One user's line of the results (``user`` as stored after the reset)."""
    return {
        "id": user.id,
        "username": user.username,
        "name": user.display_name,
        "email": user.email or "",
        kind.name: temp,
        "expires_at": kind.expires_at(user).isoformat(timespec="minutes"),
    }


def sealed(kind: SecretKind, rows: list[dict]) -> str:
    """What the job row stores: the results encrypted with the kind's key."""
    return crypto.encrypt(kind.purpose, json.dumps(rows))


def get_job(actor: User, public_id: str) -> BulkJob | None:
    """The actor's own job (another admin's job is as good as unknown). A public id is
    ``secrets.token_urlsafe``: anything else (a NUL, which PostgreSQL refuses in a query,
    found by tests/security/test_fuzz.py) names no job."""
    if not PUBLIC_ID.fullmatch(public_id):
        return None
    purge_expired()
    return BulkJob.get_or_none((BulkJob.public_id == public_id) & (BulkJob.actor == actor.id))


def summary(job: BulkJob) -> dict:
    return json.loads(job.summary) if job.summary else {}


def _decrypt(token: str, kind: SecretKind) -> list[dict]:
    text = crypto.decrypt(kind.purpose, token)
    try:
        return json.loads(text) if text is not None else []
    except ValueError:
        return []


def take_for_display(job: BulkJob, kind: SecretKind) -> list[dict] | None:
    """The results, the first time only (None afterwards): "shown once"."""
    if not job.results:
        return None
    claimed = (
        BulkJob.update(results_shown=True)
        .where((BulkJob.id == job.id) & (BulkJob.results_shown == False))
        .execute()
    )
    return _decrypt(job.results, kind) if claimed == 1 else None


def take_for_download(job: BulkJob, kind: SecretKind) -> list[dict] | None:
    """The results, once: they are deleted in the same step (a second download gets None)."""
    current = BulkJob.get_or_none(BulkJob.id == job.id)
    if current is None or not current.results:
        return None
    claimed = (
        BulkJob.update(results="")
        .where((BulkJob.id == job.id) & (BulkJob.results == current.results))
        .execute()
    )
    return _decrypt(current.results, kind) if claimed == 1 else None


def purge_expired() -> int:
    """Delete undownloaded results past their lifetime."""
    cutoff = utcnow() - RESULTS_TTL
    return (
        BulkJob.update(results="")
        .where((BulkJob.results != "") & (BulkJob.created_at < cutoff))
        .execute()
    )


def csv_text(kind: SecretKind, rows: list[dict]) -> str:
    """The CSV (UTF-8 with BOM, spreadsheet-safe cells) of the temporary secrets."""
    header = [*COLUMNS, f"temporary_{kind.name}", "expires_at_utc"]
    lines = [csv_line(header)]
    lines += [csv_line([*(r[c] for c in COLUMNS), r[kind.name], r["expires_at"]]) for r in rows]
    return "\ufeff" + "".join(lines)
