"""The passcode as a kind of temporary secret (``SecretKind``): what the shared screens of
a reset (``portal.user_passwords.screens``) and of a bulk reset (``portal.bulk``) need to
serve passcodes: the service's reset and mail, the endpoints of this blueprint, the words."""

from __future__ import annotations

from ..messages import N_
from ..user_passwords.kind import SecretKind
from .service import email_temporary, get, reset

PASSCODE = SecretKind(
    name="passcode",
    blueprint="passcodes",
    ids="passcode-",
    reset=reset,
    expires_at=lambda user: get(user).expires_at,
    email=email_temporary,
    mail_kind="temp_passcode",
    bulk_action="passcode_reset",
    purpose=b"passgate bulk passcodes v1",
    texts={
        "reset": N_("Reset passcode"),
        "confirm": N_(
            "Are you sure you want to reset the passcode of %(name)s? The current passcode "
            "stops working at once."
        ),
        "done": N_("Passcode has been reset for %(name)s"),
        "result_page": N_("Passcode reset"),
        "shown_once": N_("Temporary passcode (this is the only time it is shown):"),
        "label": N_("Temporary passcode"),
        "expires": N_(
            "It works until %(when)s. %(name)s must then choose their own passcode, and is "
            "asked to at the next sign-in."
        ),
        "gone": N_("This temporary passcode is no longer valid. Reset the passcode again."),
        "bulk_shown_once": N_(
            "Temporary passcodes (this is the only time they are shown; the CSV can be "
            "downloaded once):"
        ),
        "bulk_label": N_("Temporary passcodes"),
        "bulk_downloaded": N_(
            "Downloaded: the CSV file is in your downloads folder. It cannot be downloaded "
            "again; the passcodes above stay on screen until you close this."
        ),
    },
)
