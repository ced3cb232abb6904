"""``POST /api/passcode/verify``: another system (a phone portal) asks whether a username
and passcode go together. Key-authenticated (``Authorization: Bearer <key>``), so exempt
from CSRF; the answer is only ``{"valid": true|false}``, the same for every username.

Statuses: 200 with the answer; 400 when a field is missing or absurdly long; 401 for a
missing, unknown or revoked key; 404 when the organisation has passcodes turned off;
429 with ``Retry-After`` over the key's rate limit or while the account's passcode
counter makes it wait (as sign-in does); 503 with ``Retry-After`` when the database is
busy. Every answer is JSON.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import audit, db, ratelimit
from ..errors import RETRY_AFTER_SECONDS
from . import apikeys, service

log = logging.getLogger("passgate.api")
bp = Blueprint("passcode_api", __name__)
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="passgate"'}


def _json(body: dict, status: int, retry_after: int | None = None, headers=None):
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, int(retry_after)))
    return jsonify(body), status, headers


@bp.post("/api/passcode/verify")
def verify():
    key = apikeys.authenticate(apikeys.bearer(request.headers.get("Authorization")))
    if key is None:
        audit.record_refusal("apikey.refused", detail={"path": request.path})
        return _json({"error": "invalid_api_key"}, 401, headers=BEARER_CHALLENGE)
    ratelimit.check("passcode_api", key=f"apikey:{key.id}")
    if not service.enabled():
        return _json({"error": "passcodes_disabled"}, 404)
    fields = service.credentials(request.get_json(silent=True) if request.is_json else request.form)
    if fields is None:
        return _json({"error": "username_and_passcode_required"}, 400)
    outcome = service.verify(*fields, key_name=key.name)
    if outcome.retry_after is not None:
        # A hard lock has no end: ask again in an hour (an administrator's reset lifts it).
        return _json({"valid": False}, 429, outcome.retry_after or 3600)
    return _json({"valid": outcome.valid}, 200)


@bp.errorhandler(Exception)
def _error(exc):
    """JSON, never an HTML page: a busy database is 503 + Retry-After, as everywhere."""
    if isinstance(exc, ratelimit.Throttled):
        audit.record_refusal("ratelimit.hit", detail={"path": request.path})
        return _json({"error": "rate_limited"}, 429, exc.retry_after)
    if isinstance(exc, HTTPException):
        return _json({"error": exc.name.lower().replace(" ", "_")}, exc.code or 500)
    if db.is_unavailable(exc):
        log.warning("database unavailable on %s: %s", request.path, type(exc).__name__)
        if not db.is_sqlite():
            db.discard_broken_connections()
        return _json({"error": "busy"}, 503, RETRY_AFTER_SECONDS)
    log.exception("unhandled error on %s", request.path)
    return _json({"error": "internal"}, 500)
