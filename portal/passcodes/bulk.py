"""Bulk Reset passcodes: the same run as a bulk Reset & Unlock (``portal.admin.bulk``):
every selected user within reach or nothing, inline when small and in a background thread
when large, progress in a ``BulkJob`` row, the temporary passcodes kept only encrypted
(their own key) for the actor, shown once, downloadable once as CSV, purged unread after
``RESULTS_TTL``. They never reach the audit log."""

from __future__ import annotations

import json
import logging
import secrets
import threading

from flask import current_app

from .. import access, audit, crypto, mail
from ..bulk import service as admin_bulk
from ..csvtext import csv_line
from ..db import database
from ..models import BulkJob, User, utcnow
from . import service

log = logging.getLogger("passgate.bulk")
ACTION = "passcode_reset"


PURPOSE = b"passgate bulk passcodes v1"  # the key of stored results (crypto.fernet)


def start(actor: User, users: list[User], *, reason: str = "", ip: str = "") -> BulkJob:
    """Create the job; run it now (small) or in a background thread (large)."""
    job = BulkJob.create(
        public_id=secrets.token_urlsafe(24), actor=actor, action=ACTION, total=len(users)
    )
    ids = [u.id for u in users]
    if len(ids) <= admin_bulk.INLINE_LIMIT:
        execute(job.id, actor.id, ids, reason)
    else:
        app = current_app._get_current_object()
        threading.Thread(
            target=_thread_main,
            args=(app, job.id, actor.id, ids, reason, ip),
            name=f"passgate-bulk-{job.id}",
            daemon=True,
        ).start()
    return BulkJob.get_by_id(job.id)


def _thread_main(app, job_id: int, actor_id: int, ids: list[int], reason: str, ip: str):
    """Background run: its own request context (audit IP) and database connection."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": ip or ""}):
        database.connect(reuse_if_open=True)
        try:
            execute(job_id, actor_id, ids, reason)
        except Exception:
            log.exception("bulk job %s failed", job_id)
            BulkJob.update(status="failed", finished_at=utcnow()).where(
                BulkJob.id == job_id
            ).execute()
        finally:
            if not database.is_closed():
                database.close()


def execute(job_id: int, actor_id: int, ids: list[int], reason: str = "") -> None:
    """Reset each user's passcode (one audit event each), then a summary event."""
    actor = User.get_by_id(actor_id)
    results: list[dict] = []
    done = failed = 0
    for user_id in ids:
        user = User.get_or_none(User.id == user_id)
        try:
            # Re-checked per user: reach may have changed since the request was accepted.
            if user is None or not access.can(actor, "users.update", user):
                raise PermissionError("denied")
            temp = service.reset(actor, user, reason)
            row = service.get(user)
            results.append(
                {
                    "id": user.id,
                    "username": user.username,
                    "name": user.display_name,
                    "email": user.email or "",
                    "passcode": temp,
                    "expires_at": row.expires_at.isoformat(timespec="minutes"),
                }
            )
        except Exception as exc:  # noqa: BLE001 - one bad account must not stop the others
            failed += 1
            log.warning("bulk passcode reset on user %s failed: %s", user_id, type(exc).__name__)
            audit.record(
                "admin.bulk_passcode_reset",
                outcome="failure",
                actor=actor,
                target=user,
                target_name=None if user else str(user_id),
                detail={"job": job_id, "error": type(exc).__name__},
            )
        done += 1
        BulkJob.update(done=done, failed=failed).where(BulkJob.id == job_id).execute()
    summary = {"action": ACTION, "total": len(ids), "succeeded": done - failed, "failed": failed}
    fields = {"status": "done", "finished_at": utcnow(), "summary": json.dumps(summary)}
    if results:
        fields["results"] = crypto.encrypt(PURPOSE, json.dumps(results))
    BulkJob.update(**fields).where(BulkJob.id == job_id).execute()
    audit.record("admin.bulk", actor=actor, detail={"job": job_id, **summary})
    mail.wake()


def get_job(actor: User, public_id: str) -> BulkJob | None:
    """The actor's own passcode job (anything else is as good as unknown)."""
    job = admin_bulk.get_job(actor, public_id)
    return job if job is not None and job.action == ACTION else None


def take_results_for_display(job: BulkJob) -> list[dict] | None:
    """The results, the first time only (the bulk service's one-time claim)."""
    return admin_bulk.take_results_for_display(job, PURPOSE)


def take_results_for_download(job: BulkJob) -> list[dict] | None:
    """The results, once: deleted in the same step."""
    return admin_bulk.take_results_for_download(job, PURPOSE)


def results_csv(rows: list[dict]) -> str:
    lines = [csv_line(["id", "username", "name", "email", "temporary_passcode", "expires_at_utc"])]
    lines += [
        csv_line([r["id"], r["username"], r["name"], r["email"], r["passcode"], r["expires_at"]])
        for r in rows
    ]
    return "\ufeff" + "".join(lines)
