"""User-facing messages, each defined once under a key (the idea of Flask-Security-Too's
``MSG_*`` table). Code shows ``text("KEY", **values)`` (or ``lazy("KEY")`` where a form
is declared at import time); tests check a page with ``tests.helpers.says(body, "KEY")``,
which renders the same entry, so a reworded message changes one line here, not the tests.

Entries are English msgids, translated at the moment they are shown. Templates show page
text the tests check with the global ``message("KEY", **values)``; no template is rendered
with a variable of that name (it would hide the global).
"""

from __future__ import annotations

from flask_babel import LazyString, gettext, ngettext


def N_(msgid: str) -> str:
    """Marks a message for extraction (Babel's default keyword); translated in text()."""
    return msgid


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """A message with plural forms; ``num`` chooses (see tools/translate.py)."""
    return singular, plural


MESSAGES: dict[str, str | tuple[str, str]] = {
    # Signing in, passwords
    "LOGIN_FAILED": N_("Your username, email or password was incorrect."),
    "SIGNIN_PAUSED": N_("Sign-in is paused after too many attempts."),
    "TEMP_PASSWORD_EXPIRED": N_(
        "Your temporary password has expired. Ask your administrator "
        "for a new one, or use “Forgotten your password?” below to get "
        "a link by email."
    ),
    "PASSWORD_CHANGED": N_(
        "Your password has been changed. Your other sessions have been signed out."
    ),
    "PASSWORD_RESET_DONE": N_("Your password has been set. You can now sign in with it."),
    "PASSWORD_REQUIRED": N_("Enter your password."),
    "CURRENT_PASSWORD_WRONG": N_("Your current password is not correct."),
    "WRONG_PASSWORD": N_("That password is not correct."),
    "PASSWORD_REUSED": N_("You have used this password recently. Choose a different one."),
    "DIRECTORY_UNAVAILABLE": N_(
        "The organisation directory is unavailable at the moment, so "
        "this could not be done. Nothing was changed. Please try again "
        "in a few minutes."
    ),
    "PASSWORDS_DIFFER": N_("The passwords do not match."),
    "THROTTLE_LOCKED": N_(
        "Too many attempts: this account is locked. Reset your password or "
        "ask an administrator to unlock it."
    ),
    "THROTTLE_WAIT": N_plural(
        "Too many attempts: wait %(num)d minute before trying again.",
        "Too many attempts: wait %(num)d minutes before trying again.",
    ),
    # Form fields
    "TOO_LONG": N_("Use at most %(max)d characters (this has %(length)d)."),
    "CONTROL_CHARS": N_("Remove the control characters from this field."),
    "EMAIL_INVALID": N_("Enter a valid email address."),
    "USER_EXISTS": N_("A user with this username or email already exists."),
    "USERNAME_CONFUSABLE": N_(
        "This username looks too much like an existing one. Choose one that is clearly different."
    ),
    "NOT_IN_DIRECTORY": N_("There is no account with this username in the organisation directory."),
    "TEAM_NOT_ALLOWED": N_("Choose a team from the list."),
    "CREATE_TEAM_NOT_YOURS": N_("Choose one of your teams."),
    "IMPORT_TEAM_NOT_YOURS": N_("Use one of your teams: %(teams)s."),
    "IMPORT_ROLE_NOT_ALLOWED": N_("You cannot create accounts with the role “%(role)s”."),
    # Rules about oneself (portal.access)
    "SELF_DISABLE": N_("You cannot disable your own account."),
    "SELF_ROLE": N_("You cannot change your own role."),
    # One user
    "USER_SAVED": N_("Saved the changes to %(name)s."),
    "USER_UNCHANGED": N_("Nothing changed."),
    "USER_UNLOCKED": N_("%(name)s is unlocked."),
    "USER_DISABLED": N_("%(name)s is disabled and signed out."),
    "USER_ENABLED": N_("%(name)s is enabled."),
    "SESSIONS_ENDED": N_plural(
        "Ended %(num)d session of %(name)s.", "Ended %(num)d sessions of %(name)s."
    ),
    "NO_LINK_POSSIBLE": N_(
        "%(name)s cannot receive a link (no email, disabled or a directory account)."
    ),
    "INVITE_RESENT": N_(
        "A new invitation has been sent to %(email)s; the previous one no longer works."
    ),
    "RECOVERY_RESENT": N_(
        "A new recovery link has been sent to %(email)s; any previous one no longer works."
    ),
    "PASSWORD_SET": N_("The password of %(name)s has been set."),
    "RESET_DONE": N_("Password has been reset for %(name)s"),
    "TEMP_MAIL_SENT": N_("Email sent to %(to)s"),
    "NO_EMAIL": N_("No email address on file."),
    "TEMP_PASSWORD_GONE": N_(
        "This temporary password is no longer valid. Reset the password again."
    ),
    # Account care (portal/account/)
    "ADDRESS_REQUIRED": N_("Enter an email address."),
    "ADDRESS_ALREADY_YOURS": N_("This address is already on your account."),
    "ADDRESS_TAKEN": N_(
        "This address is already used by another account, so it cannot be added to this one."
    ),
    "EMAIL_CONFIRMATION_SENT": N_(
        "We sent a confirmation link to %(address)s. Your email address changes when you open it."
    ),
    "BACKUP_CONFIRMATION_SENT": N_(
        "We sent a confirmation link to %(address)s. It becomes "
        "your recovery address when you open it."
    ),
    "EMAIL_CHANGED": N_("Your email address is now %(address)s."),
    "BACKUP_ADDED": N_("%(address)s is now your recovery address."),
    "BACKUP_REMOVED": N_("Your recovery address was removed."),
    # Bulk actions
    "BULK_CONFIRM_COUNT": N_("Type the number of users to confirm."),
    "BULK_SKIPPED_SELF": N_("Your own account is not included."),
    "BULK_TOO_MANY": N_("More than %(num)d users match. Narrow the search and try again."),
    "BULK_NONE_SELECTED": N_("Select at least one user."),
    "BULK_RESULTS_GONE": N_("These results have already been downloaded or have expired."),
    # Teams
    "TEAM_NAME_REQUIRED": N_("Enter a team name."),
    "TEAM_EXISTS": N_("A team with this name already exists."),
    "TEAM_CREATED": N_("Team %(name)s created."),
    "TEAM_SAVED": N_("Team %(name)s saved."),
    "TEAM_DELETED": N_plural(
        "Team %(name)s deleted; its %(num)d member now has no team.",
        "Team %(name)s deleted; its %(num)d members now have no team.",
    ),
    # CSV import
    "IMPORT_NOTHING": N_("Nothing was imported. Fix these lines and try again:"),
    "IMPORT_NEW_TEAMS": N_plural(
        "This file names %(num)d team that does not exist yet. It will be created:",
        "This file names %(num)d teams that do not exist yet. They will be created:",
    ),
    "FILE_TOO_LARGE": N_("The file is too large."),
    "FILE_NOT_UTF8": N_("Save the file as CSV in UTF-8 and try again."),
    "IMPORT_WRONG_PASSWORD": N_(
        "That password is not correct. Choose the file again and enter your password."
    ),
    "IMPORT_NEEDS_PASSWORD": N_(
        "This file creates administrators: enter your password and choose the file again."
    ),
    # My sessions (and a user's sessions, for administrators)
    "SESSION_ENDED": N_("The session has been ended."),
    "SESSION_GONE": N_("That session had already ended."),
    "SESSION_IS_CURRENT": N_("This is the session you are using: use Sign out to end it."),
    "OTHER_SESSIONS_ENDED": N_plural(
        "%(num)d other session has been ended.", "%(num)d other sessions have been ended."
    ),
    "NO_OTHER_SESSIONS": N_("There were no other sessions."),
    # Audit log
    "AUDIT_NO_MATCH": N_("No events match these filters."),
    # Settings
    "WHOLE_NUMBER": N_("Enter a whole number."),
    "NUMBER_RANGE": N_("Enter a whole number from %(low)d to %(high)d."),
    "SETTINGS_SAVED": N_("Settings saved. They apply from now on."),
    "SETTINGS_UNCHANGED": N_("Nothing was changed."),
    "WEAK_MIN_LENGTH": N_(
        "NIST SP 800-63B requires at least 15 characters for passwords used "
        "without a second factor."
    ),
    "WEAK_MAX_LENGTH": N_(
        "Allow at least 64 characters so that long passphrases and password managers work."
    ),
    # Mail
    "GREETING": N_("Hello %(name)s,"),
    # Administrator alerts (mail)
    "ALERT_ADMIN_PASSWORD_SET": N_(
        "The password of the administrator account %(username)s (%(name)s) was set by "
        "%(actor)s and the account's sessions were ended."
    ),
    "ALERT_ADMIN_LOCKED": N_(
        "The administrator account %(username)s (%(name)s) was locked after too many failed "
        "sign-in attempts."
    ),
    "ALERT_NOT_ME": N_(
        "%(username)s (%(name)s) reported a change to their account that they did not make "
        "(password, email address or recovery address). Their account was locked and "
        "disabled, and all its sessions were ended."
    ),
    # Page text (headings, buttons, links, hints): templates show message("KEY")
    "USER_COUNT": N_plural("%(num)d user", "%(num)d users"),
    "FORGOT_LINK": N_("Forgotten your password or signing in for the first time?"),
    "TEMP_PASSWORD_SIGNED_IN": N_(
        "You signed in with a temporary password. Choose your own password to continue."
    ),
    "SET_FIRST_PASSWORD": N_("Set your first password"),
    "CHOOSE_NEW_PASSWORD": N_("Choose a new password"),
    "CANCEL_RECOVERY_LINK": N_("Cancel the recovery link"),
    "LOCK_MY_ACCOUNT": N_("Lock my account"),
    "EMAIL_CHANGE_PENDING": N_(
        "Waiting for confirmation: %(address)s. Open the link we mailed to it before "
        "%(when)s; until then your address does not change."
    ),
    "MY_SESSIONS": N_("My sessions"),
    "DEVICE": N_("%(browser)s on %(system)s"),
    "THIS_SESSION": N_("This session"),
    "END_SESSION": N_("End session"),
    "END_OTHER_SESSIONS": N_("End all other sessions"),
    "ACTIVE_SESSIONS": N_("Active sessions"),
    "RESEND_INVITATION": N_("Re-send invitation"),
    "SEND_RECOVERY_LINK": N_("Send a recovery link"),
    "SEND_RECOVERY_LINKS": N_plural("Send %(num)d recovery link", "Send %(num)d recovery links"),
    "CANCEL": N_("Cancel"),
    "SIGN_OUT": N_("Sign out"),
    "RESET_UNLOCK": N_("Reset & Unlock"),
    "RESET_CONFIRM": N_(
        "Are you sure you want to reset the password and unlock the account for %(name)s?"
    ),
    "DOWNLOAD_ONCE": N_("Download CSV (once)"),
    "EMAIL_QUEUED": N_("Email queued…"),
    "PAGE_OF": N_("Page %(page)d of %(pages)d"),
    "INVITATION_AGE": N_("Sent %(sent)s, expires %(when)s"),
    "INVITATION_EXPIRED": N_("Invitation expired %(when)s"),
    "DIRECTORY_DOWN": N_("The directory is unavailable at the moment."),
    "DIRECTORY_OWNED_FIELDS": N_(
        "Names, username and email of a directory account come from the organisation "
        "directory; change them there."
    ),
    "FOUND_IN_DIRECTORY": N_(
        "Found in the organisation directory: %(name)s signs in with their directory password."
    ),
    "USERS_IMPORTED": N_plural("%(num)d user imported.", "%(num)d users imported."),
    "TEAM_MEMBERS_LINK": N_plural(
        "%(num)d member of %(team)s: see in the user list",
        "%(num)d members of %(team)s: see them in the user list",
    ),
    "TEAM_DELETE_MEMBERS": N_plural(
        "Its %(num)d member keeps their account and will have no team.",
        "Its %(num)d members keep their accounts and will have no team.",
    ),
    "TEAM_DELETE_MANAGERS": N_plural(
        "%(num)d manager will no longer manage it.", "%(num)d managers will no longer manage it."
    ),
    "MAIL_FAILURES": N_plural(
        "%(num)d email could not be delivered in the last 30 days.",
        "%(num)d emails could not be delivered in the last 30 days.",
    ),
    "IN_30_DAYS": N_plural("%(num)d in 30 days", "%(num)d in 30 days"),
    # Passcodes
    "PASSCODE_LINK": N_("Set or change my passcode"),
    "SET_PASSCODE": N_("Set your passcode"),
    "PASSCODE_TEMPORARY": N_(
        "An administrator gave you a temporary passcode. Choose your own passcode to continue."
    ),
    "CHANGE_PASSCODE": N_("Change your passcode"),
    "PASSCODE_NOT_SET": N_("not set"),
    "RESET_PASSCODE": N_("Reset passcode"),
    "RESET_PASSCODES": N_("Reset passcodes"),
    "PASSCODE_SETTINGS": N_("Passcodes and API keys"),
    "API_KEY_REVOKED": N_("Revoked %(when)s"),
}


def text(key: str, **values) -> str:
    """The message ``key`` in the current language (``num`` chooses a plural form)."""
    entry = MESSAGES[key]
    if isinstance(entry, tuple):
        return ngettext(entry[0], entry[1], values.pop("num"), **values)
    return gettext(entry, **values)


def lazy(key: str, **values) -> LazyString:
    """:func:`text`, translated when shown (form declarations, module constants)."""
    return LazyString(text, key, **values)
