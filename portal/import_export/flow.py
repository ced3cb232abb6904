"""The steps of a CSV import as the screen runs them: a fresh password when rows create
privileged accounts, the new teams listed for confirmation, then the import itself (all
or nothing) and its audit. ``service`` reads and writes the rows."""

from __future__ import annotations

from dataclasses import dataclass

from .. import audit, settings
from ..models import User
from ..stepup import service as stepup
from . import service
from .service import ImportResult

MAX_IMPORT_BYTES = 2 * 1024 * 1024


@dataclass
class Outcome:
    """What the import page shows after a step, and its status."""

    status: int = 200
    result: ImportResult | None = None
    preview: dict | None = None
    reauth_error: str | None = None

    @property
    def imported(self) -> bool:
        return self.result is not None and self.result.ok

    def context(self) -> dict:
        return {"result": self.result, "preview": self.preview, "reauth_error": self.reauth_error}


def max_kb() -> int:
    """The largest file the page takes; bigger ones go through the command line."""
    limit = settings.get("MAX_CONTENT_LENGTH", None) or MAX_IMPORT_BYTES
    return min(limit, MAX_IMPORT_BYTES) // 1024


def run(actor: User, text: str, confirmed: bool = False) -> Outcome:
    """Import ``text``; teams that do not exist yet are listed first and created only
    after the administrator agrees (a typo would otherwise make a new team). Rows that
    create administrators need a fresh password first, at either step (finding 1)."""
    refusal = stepup.typed_refusal(
        service.creates_privileged(text, actor),
        ask="IMPORT_NEEDS_PASSWORD",
        wrong="IMPORT_WRONG_PASSWORD",
    )
    if refusal is not None:
        return Outcome(401, reauth_error=refusal)
    preview = None if confirmed else service.teams_preview(text, actor)
    if preview:
        return Outcome(preview=preview)
    result = service.import_users(text, actor=actor)
    if not result.ok:
        return Outcome(422, result)
    audit.record("admin.import", actor=actor, detail={"created": len(result.created)})
    return Outcome(result=result)
