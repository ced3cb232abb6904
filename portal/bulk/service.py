"""Bulk actions on selected users (seed 001): recovery links, Reset & Unlock, unlock,
disable, enable, and the reset of another kind of secret (``portal.passcodes`` passes
its ``SecretKind``: bulk Reset passcodes).

- Access is checked for every selected user before anything happens: one user out of
  reach refuses the whole request (no partial runs).
- Runs above ``INLINE_LIMIT`` users go to a background thread; a ``BulkJob`` row records
  progress for the polling dialog.
- The temporary secrets of a bulk reset are kept only encrypted in the job row, shown
  once, downloadable once (``results``). They never reach the audit log.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from flask import current_app

from .. import access, audit, links, mail
from ..db import database
from ..http_input import parse_id
from ..messages import text
from ..models import BulkJob, User, utcnow
from ..user_passwords.kind import SecretKind
from ..user_passwords.service import PASSWORD
from ..users import service as users
from . import results

log = logging.getLogger("passgate.bulk")

ACTIONS = ("recovery", "reset", "unlock", "disable", "enable")
MAX_USERS = 500
INLINE_LIMIT = 20
TYPED_CONFIRM = ("reset", "disable", "passcode_reset")
MAX_REASON = 500


class SelectionError(ValueError):
    """Bad selection input (400/422), with a user-facing message."""


def parse_ids(values: list[str]) -> list[int]:
    """Selected ids, deduplicated in order; anything but small integers is refused."""
    ids: list[int] = []
    for raw in values:
        number = parse_id((raw or "").strip(), 999_999_999)
        if number is None:
            raise SelectionError("bad id")
        if number not in ids:
            ids.append(number)
    return ids


def select_users(actor: User, ids: list[int], permission: str = "users.update") -> list[User]:
    """The selected users, all of them within reach, or Denied (nothing happens).

    An unknown id counts as out of reach: a manager cannot probe which ids exist.
    """
    if len(ids) > MAX_USERS:
        raise SelectionError("too many")
    users = {u.id: u for u in User.select().where(User.id.in_(ids))} if ids else {}
    if len(users) != len(ids) or not all(access.can(actor, permission, u) for u in users.values()):
        raise access.Denied()
    return [users[i] for i in ids]


# --- recovery-link eligibility ------------------------------------------------------------


@dataclass
class Eligibility:
    eligible: list[User] = field(default_factory=list)
    no_email: list[User] = field(default_factory=list)
    excluded: list[User] = field(default_factory=list)  # directory-managed or disabled
    pending: list[User] = field(default_factory=list)  # already holds an unexpired link


def eligibility(users: list[User]) -> Eligibility:
    """Who would receive a recovery link (and why the others would not)."""
    pending_ids = links.pending_ids([u.id for u in users])
    result = Eligibility()
    for user in users:
        reason = links.refusal(user)
        if reason == "no_email":
            result.no_email.append(user)
        elif reason is not None:
            result.excluded.append(user)
        elif user.id in pending_ids:
            result.pending.append(user)
        else:
            result.eligible.append(user)
    return result


def refusal(action: str, users: list[User] | None, confirm_count: str, reason: str) -> dict | None:
    """Why the run cannot go ahead (the confirm dialog's error, possibly empty), or None.

    Nobody selected, or no one eligible for a recovery link; the typed count for the
    actions that take something away (passwords, access), not for sending links; a
    reason that is too long (said, never cut)."""
    if not users or (action == "recovery" and not eligibility(users).eligible):
        return {}
    if action in TYPED_CONFIRM and confirm_count.strip() != str(len(users)):
        return {"confirm_error": text("BULK_CONFIRM_COUNT")}
    if len(reason) > MAX_REASON:
        return {"reason_error": text("TOO_LONG", max=MAX_REASON, length=len(reason))}
    return None


# --- running -------------------------------------------------------------------------------


def start(
    actor: User,
    action: str,
    users: list[User],
    *,
    reason: str = "",
    ip: str = "",
    kind: SecretKind = PASSWORD,
) -> BulkJob:
    """Create the job; run it now (small) or in a background thread (large). ``action`` is
    one of ``ACTIONS`` or the bulk reset of ``kind`` (a password's is "reset")."""
    if action not in ACTIONS and action != kind.bulk_action:
        raise SelectionError("bad action")
    if action == "recovery":
        users = eligibility(users).eligible
    job = BulkJob.create(
        public_id=secrets.token_urlsafe(24), actor=actor, action=action, total=len(users)
    )
    ids = [u.id for u in users]
    run = partial(execute, job.id, actor.id, action, ids, reason, kind)
    if len(ids) <= INLINE_LIMIT:
        run()
    else:
        app = current_app._get_current_object()
        threading.Thread(
            target=_thread_main,
            args=(app, job.id, run, ip),
            name=f"passgate-bulk-{job.id}",
            daemon=True,
        ).start()
    return BulkJob.get_by_id(job.id)


def _thread_main(app, job_id: int, run: Callable[[], None], ip: str) -> None:
    """Background run: its own request context (audit IP) and database connection."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": ip or ""}):
        database.connect(reuse_if_open=True)
        try:
            run()
        except Exception:
            log.exception("bulk job %s failed", job_id)
            BulkJob.update(status="failed", finished_at=utcnow()).where(
                BulkJob.id == job_id
            ).execute()
        finally:
            if not database.is_closed():
                database.close()


def execute(
    job_id: int,
    actor_id: int,
    action: str,
    ids: list[int],
    reason: str = "",
    kind: SecretKind = PASSWORD,
) -> None:
    """Apply ``action`` to each user (one audit event each) and then a summary event."""
    actor = User.get_by_id(actor_id)
    if action == "recovery":
        _execute_recovery(job_id, actor, ids)
        return
    rows: list[dict] = []
    done = failed = 0
    for user_id in ids:
        user = User.get_or_none(User.id == user_id)
        try:
            # Re-checked per user: reach may have changed since the request was accepted.
            if user is None or not access.can(actor, "users.update", user):
                raise access.Denied()
            if action == kind.bulk_action:
                temp = kind.reset(actor, user, reason)
                rows.append(results.row(kind, User.get_by_id(user.id), temp))
            else:
                _apply(actor, user, action)
        except Exception as exc:  # noqa: BLE001 - one bad account must not stop the others
            failed += 1
            log.warning("bulk %s on user %s failed: %s", action, user_id, type(exc).__name__)
            audit.record(
                f"admin.bulk_{action}",
                outcome="failure",
                actor=actor,
                target=user,
                target_name=None if user else str(user_id),
                detail={"job": job_id, "error": type(exc).__name__},
            )
        done += 1
        BulkJob.update(done=done, failed=failed).where(BulkJob.id == job_id).execute()
    summary = {"action": action, "total": len(ids), "succeeded": done - failed, "failed": failed}
    fields = {"status": "done", "finished_at": utcnow(), "summary": json.dumps(summary)}
    if rows:
        fields["results"] = results.sealed(kind, rows)
    BulkJob.update(**fields).where(BulkJob.id == job_id).execute()
    audit.record("admin.bulk", actor=actor, detail={"job": job_id, **summary})
    mail.wake()


RECOVERY_CHUNK = 500


def _execute_recovery(job_id: int, actor: User, ids: list[int]) -> None:
    """Recovery links in chunks: a few statements per chunk, progress after each."""
    done = failed = 0
    for start in range(0, len(ids), RECOVERY_CHUNK):
        chunk = ids[start : start + RECOVERY_CHUNK]
        found = {u.id: u for u in User.select().where(User.id.in_(chunk))}
        # Re-checked per user: reach may have changed since the request was accepted.
        users = [
            found[i] for i in chunk if i in found and access.can(actor, "users.update", found[i])
        ]
        links.issue_many(
            users, [audit.row("admin.bulk_recovery", actor=actor, target=u) for u in users]
        )
        for user_id in set(chunk) - {u.id for u in users}:
            failed += 1
            audit.record(
                "admin.bulk_recovery",
                outcome="failure",
                actor=actor,
                target=found.get(user_id),
                target_name=str(user_id),
                detail={"job": job_id, "error": "Denied"},
            )
        done += len(chunk)
        BulkJob.update(done=done, failed=failed).where(BulkJob.id == job_id).execute()
    summary = {
        "action": "recovery",
        "total": len(ids),
        "succeeded": done - failed,
        "failed": failed,
    }
    BulkJob.update(status="done", finished_at=utcnow(), summary=json.dumps(summary)).where(
        BulkJob.id == job_id
    ).execute()
    audit.record("admin.bulk", actor=actor, detail={"job": job_id, **summary})


def _apply(actor: User, user: User, action: str) -> None:
    if action == "unlock":
        users.unlock(actor, user)
    elif action == "disable":
        users.set_disabled(actor, user, True)
    elif action == "enable":
        users.set_disabled(actor, user, False)


def shows(kind: SecretKind, job: BulkJob) -> bool:
    """Whether the job screens of ``kind`` show ``job``: its own bulk reset, and for the
    password's (the account actions' screens) every account action."""
    return job.action == kind.bulk_action or (kind.bulk_action in ACTIONS and job.action in ACTIONS)
