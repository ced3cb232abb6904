"""The audit log for people: translated labels of the recorded actions, outcomes and
detail keys and values (anything unknown is shown as recorded)."""

from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l

from ..models import AuditEvent

# Labels of the actions the application records (unknown actions are shown raw).
ACTION_LABELS = {
    "login.success": _l("Signed in"),
    "login.failure": _l("Sign-in failed"),
    "account.lock": _l("Account locked"),
    "logout": _l("Signed out"),
    "reauth": _l("Password re-entered (confirmation)"),
    "recovery.request": _l("Password recovery requested"),
    "recovery.link_invalid": _l("Invalid or expired recovery link"),
    "password.reset": _l("Password reset with a link"),
    "password.change": _l("Password changed"),
    "mail.sent": _l("Email sent"),
    "mail.failed": _l("Email failed"),
    "user.create": _l("User created"),
    "user.update": _l("User updated"),
    "csrf.failure": _l("Form refused (CSRF)"),
    "ratelimit.hit": _l("Too many requests"),
    "access.denied": _l("Access denied"),
    "settings.update": _l("Settings changed"),
    "audit.export": _l("Audit log exported"),
    "admin.reset": _l("Reset & Unlock"),
    "admin.temp_password_mail": _l("Temporary password emailed"),
    "admin.unlock": _l("Account unlocked"),
    "admin.set_password": _l("Password set for the user"),
    "admin.disable": _l("User disabled"),
    "admin.enable": _l("User enabled"),
    "admin.end_sessions": _l("Sessions ended"),
    "admin.resend": _l("Link sent again"),
    "team.create": _l("Team created"),
    "team.rename": _l("Team renamed"),
    "team.delete": _l("Team deleted"),
    "team.managers": _l("Team managers changed"),
    "admin.bulk": _l("Bulk action (summary)"),
    "admin.bulk_recovery": _l("Recovery link sent (bulk)"),
    "admin.bulk_reset": _l("Reset & Unlock (bulk)"),
    "admin.bulk_unlock": _l("Unlock (bulk)"),
    "admin.bulk_disable": _l("Disable (bulk)"),
    "admin.bulk_enable": _l("Enable (bulk)"),
    "admin.bulk_download": _l("Bulk results downloaded"),
    "admin.export": _l("User report exported"),
    "admin.import": _l("Users imported"),
    "directory.unavailable": _l("Directory unavailable"),
    "directory.vanished": _l("Gone from the directory (disabled)"),
    "directory.conflict": _l("Directory entry clashes with a Passgate account"),
    # Account care (portal/account/)
    "recovery.not_me": _l("Recovery link cancelled (“this wasn’t me”)"),
    "account.not_me_lock": _l("Account locked (“this wasn’t me”)"),
    "email.change_request": _l("New email address requested"),
    "email.change": _l("Email address changed (confirmed)"),
    "backup_email.request": _l("Recovery address requested"),
    "backup_email.add": _l("Recovery address added (confirmed)"),
    "backup_email.remove": _l("Recovery address removed"),
    "account.confirm": _l("Address confirmation"),
    "account.link_invalid": _l("Invalid or expired account link"),
    "session.end": _l("Session ended by its owner"),
    "session.end_others": _l("Other sessions ended by their owner"),
    "admin.end_session": _l("Session of the user ended"),
    "admin.alert": _l("Administrators alerted"),
    "invite.reminder": _l("Invitation reminder sent"),
    # Passcodes (portal/passcodes/)
    "passcode.change": _l("Passcode changed"),
    "passcode.verify": _l("Passcode checked (API)"),
    "passcode.lock": _l("Passcode locked"),
    "admin.passcode_reset": _l("Passcode reset"),
    "admin.temp_passcode_mail": _l("Temporary passcode emailed"),
    "admin.bulk_passcode_reset": _l("Passcode reset (bulk)"),
    "apikey.create": _l("API key created"),
    "apikey.revoke": _l("API key revoked"),
    "apikey.refused": _l("API key refused"),
}

OUTCOME_LABELS = {
    "success": _l("Success"),
    "failure": _l("Failure"),
    "denied": _l("Denied"),
    "throttled": _l("Throttled"),
    "sent": _l("Link sent"),
    "no_match": _l("No matching account"),
    "no_email": _l("No email on file"),
    "disabled": _l("Account disabled"),
    "directory_account": _l("Directory account"),
    "rate_limited": _l("Too many requests"),
    "unavailable": _l("Directory unavailable"),
}


def action_label(action: str) -> str:
    """The translated label of a known action; unknown ones are shown as recorded."""
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def outcome_label(outcome: str) -> str:
    label = OUTCOME_LABELS.get(outcome)
    return str(label) if label is not None else outcome


# The detail of an event, for people: translated names for the keys the application
# records and for their coded values; anything else is shown as recorded.
DETAIL_KEYS = {
    "reason": _l("Reason"),
    "kind": _l("Email"),
    "mail_id": _l("Email no."),
    "role": _l("Role"),
    "invited": _l("Invitation sent"),
    "failures": _l("Failed attempts"),
    "hard": _l("Locked until unlocked"),
    "sessions": _l("Sessions ended"),
    "event": _l("Event"),
    "recipients": _l("Recipients"),
    "session_ip": _l("Session IP address"),
    "browser": _l("Browser"),
    "system": _l("System"),
    "expires_at": _l("Expires"),
    "must_change": _l("Must change at next sign-in"),
    "job": _l("Bulk run no."),
    "rows": _l("Rows"),
    "path": _l("Page"),
    "action": _l("Action"),
    "users": _l("Users"),
    "succeeded": _l("Succeeded"),
    "failed": _l("Failed"),
    "created": _l("Created"),
    "count": _l("Count"),
    "total": _l("Total"),
    "voided": _l("Previous link voided"),
    "team": _l("Team"),
    "from": _l("From"),
    "to": _l("To"),
    "managed": _l("Manages the team"),
    "members": _l("Members"),
    "managers": _l("Managers"),
    "revoked": _l("Links cancelled"),
    "sessions_ended": _l("Sessions ended"),
    "key": _l("API key"),
    "first": _l("First passcode"),
    "temporary": _l("Temporary passcode"),
}
DETAIL_VALUES = {
    "reason": {
        "bad_password": _l("wrong password"),
        "unknown_identifier": _l("unknown username or email"),
        "disabled": _l("account disabled"),
        "directory_account": _l("directory account"),
        "no_password": _l("no password set yet"),
        "temporary_password_expired": _l("temporary password expired"),
        "bad_current_password": _l("wrong current password"),
        "address_taken": _l("address used by another account"),
        "bad_passcode": _l("wrong passcode"),
        "unknown_username": _l("unknown username"),
        "no_passcode": _l("no passcode set"),
        "temporary_expired": _l("temporary passcode expired"),
    },
    "kind": {
        "reset": _l("recovery link"),
        "invite": _l("invitation"),
        "password_changed": _l("password changed notice"),
        "account_locked": _l("account locked notice"),
        "passcode_locked": _l("passcode locked notice"),
        "temp_password": _l("temporary password"),
        "test": _l("test message"),
        "email_confirm": _l("new email address confirmation"),
        "backup_confirm": _l("recovery address confirmation"),
        "email_change_requested": _l("email change notice"),
        "email_changed": _l("email changed notice"),
        "backup_changed": _l("recovery address notice"),
        "confirm_email": _l("new email address"),
        "confirm_backup": _l("recovery address"),
        "admin_alert": _l("administrator alert"),
        "invite_reminder": _l("invitation reminder"),
    },
    "event": {
        "admin_password_reset": _l("administrator's password reset"),
        "admin_password_set": _l("administrator's password set"),
        "admin_locked": _l("administrator locked out"),
        "not_me_lock": _l("locked after “this wasn't me”"),
    },
    "action": {
        "recovery": _l("Send recovery links"),
        "reset": _l("Reset & Unlock"),
        "unlock": _l("Unlock"),
        "disable": _l("Disable"),
        "enable": _l("Enable"),
        "passcode_reset": _l("Reset passcodes"),
    },
}
CHANGED_FIELDS = {
    "username": _l("Username"),
    "email": _l("Email"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "team": _l("Team"),
    "provider": _l("Provider"),
    "disabled": _l("Disabled"),
    "role": _l("Role"),
    "language": _l("Language"),
}


def _value_text(value, key: str = "") -> str:
    if value is True:
        return str(_l("yes"))
    if value is False:
        return str(_l("no"))
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        label = DETAIL_VALUES.get(key, {}).get(value)
        return str(label) if label is not None else value
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def detail_text(event: AuditEvent) -> str:
    """The detail as short, translated text (it never holds a password or a token)."""
    repeats = getattr(event, "repeats", 1) or 1
    prefix = (str(_l("%(num)d times in this minute", num=repeats)) + "; ") if repeats > 1 else ""
    if not event.detail:
        return prefix.rstrip("; ")
    try:
        data = json.loads(event.detail)
    except ValueError:
        return prefix + event.detail
    if not isinstance(data, dict):
        return prefix + event.detail
    parts = [prefix.rstrip("; ")] if prefix else []
    for key, value in data.items():
        if key == "changed" and isinstance(value, dict):
            changes = []
            for name, pair in value.items():
                label = str(CHANGED_FIELDS.get(name, name))
                if isinstance(pair, (list, tuple)) and len(pair) == 2:
                    changes.append(f"{label} ({_value_text(pair[0])} → {_value_text(pair[1])})")
                else:
                    changes.append(label)
            parts.append(str(_l("Changed: %(fields)s", fields=", ".join(changes))))
            continue
        label = DETAIL_KEYS.get(key)
        parts.append(
            str(
                _l(
                    "%(label)s: %(value)s",
                    label=label if label is not None else key,
                    value=_value_text(value, key),
                )
            )
        )
    return "; ".join(parts)
