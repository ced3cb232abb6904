"""The audit log: who did what to whom, when, from where. Never a password or a token."""

from __future__ import annotations

import json

from flask import has_request_context, request
from flask_login import current_user

from .db import write
from .models import AuditEvent, User, utcnow


def _clean(value: str, limit: int) -> str:
    """Neutralise log injection: control characters are shown escaped, on one line."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in value)
    return out[:limit]


def client_ip() -> str:
    """The client address, already corrected by ProxyFix when proxies are trusted."""
    return (request.remote_addr or "") if has_request_context() else ""


def record(action: str, **fields) -> AuditEvent:
    """Append one event (``fields`` as ``row`` takes them). ``actor`` defaults to the
    signed-in user."""
    return AuditEvent.create(**row(action, **fields))


def changes(user: User, new: dict) -> dict:
    """``{field: [old, new]}`` for the fields of ``new`` whose value differs on ``user``
    (``team`` is the team's id): the ``changed`` detail of a ``user.update`` event."""
    old = {k: user.team_id if k == "team" else getattr(user, k) for k in new}
    return {k: [old[k], v] for k, v in new.items() if old[k] != v}


def row(
    action: str,
    *,
    outcome: str = "success",
    actor: User | None = None,
    target: User | None = None,
    target_name: str | None = None,
    detail: dict | None = None,
    ip: str | None = None,
) -> dict:
    """The fields of one event (``record`` stores it; bulk work inserts many at once)."""
    if actor is None and has_request_context() and getattr(current_user, "is_authenticated", False):
        actor = current_user._get_current_object()
    return {
        "action": action,
        "outcome": outcome,
        "actor": actor.id if actor else None,
        "actor_name": _clean(actor.username, 64) if actor else "",
        "target": target.id if target else None,
        "target_name": _clean(target.username if target else (target_name or ""), 64),
        "team_id": target.team_id if target else None,
        "ip": ip if ip is not None else client_ip(),
        "detail": (
            _clean(json.dumps(detail, ensure_ascii=False, sort_keys=True), 2000) if detail else ""
        ),
        "created_at": utcnow(),
    }


def record_refusal(action: str, detail: dict | None = None) -> None:
    """A refused request (CSRF failure, rate limit). Anonymous ones are aggregated: one row
    per action, source address and minute, whose ``repeats`` counts them (issue 11, finding
    8), so a flood neither buries the log nor fills the database. Signed-in ones are
    recorded one by one, like everything a known account does."""
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        record(action, outcome="denied", detail=detail)
        return
    ip = client_ip()
    minute = utcnow().replace(second=0, microsecond=0)
    with write():
        row = (
            AuditEvent.select(AuditEvent.id)
            .where(
                (AuditEvent.created_at >= minute)
                & (AuditEvent.action == action)
                & (AuditEvent.ip == ip)
                & AuditEvent.actor.is_null()
            )
            .order_by(AuditEvent.id.desc())
            .first()
        )
        if row is None:
            record(action, outcome="denied", detail=detail, ip=ip)
        else:
            (
                AuditEvent.update(repeats=AuditEvent.repeats + 1)
                .where(AuditEvent.id == row.id)
                .execute()
            )
