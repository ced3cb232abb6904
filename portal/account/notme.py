""" "This wasn't me": what the link in a recovery mail or a change notice does.

- In a recovery mail (``not_me_reset``): the pending password link stops working.
- In a change notice (``not_me_lock``: password changed, email change asked or done,
  backup address changed): the account is locked and disabled, every session ends, every
  pending link dies, and the administrators are alerted.

The lock also disables the account on purpose. A hard lock alone yields to a browser
that signed in as the account before (device cookies, issue 11 finding 4) -- the very
browser of someone who just changed the password -- and self-service recovery may be
their way in too (the notice may be about a mailbox they hold). So only an administrator,
after checking who is who, gives the account back (Enable, then Reset & Unlock).
"""

from __future__ import annotations

from .. import accounts, alerts, audit, links, sessions
from ..db import write
from ..models import User, utcnow


def act(state: links.LinkState, ip: str) -> str | None:
    """Do what the link says, once. Returns its kind; None if it was used meanwhile."""
    user, purpose = state.user, state.token.purpose
    now = utcnow()
    with write():
        if not links.consume(state):
            return None
        if purpose == "not_me_reset":
            voided = links.void(user, now)
            audit.record(
                "recovery.not_me", actor=user, target=user, ip=ip, detail={"revoked": voided}
            )
            return purpose
        User.update(hard_locked=True, disabled=True, security_stamp=accounts.new_stamp()).where(
            User.id == user.id
        ).execute()
        ended = sessions.end_all(user)
        links.void(user, now, kinds=links.PASSWORD_KINDS + links.CONFIRM_KINDS)
        audit.record(
            "account.not_me_lock", actor=user, target=user, ip=ip, detail={"sessions_ended": ended}
        )
        alerts.notify_admins("not_me_lock", User.get_by_id(user.id), actor=user, ip=ip, when=now)
    return purpose
