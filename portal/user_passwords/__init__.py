"""An administrator replaces a user's password: Reset & Unlock (a temporary password shown
once, optionally emailed) or a typed password. Adds its views to the admin blueprint."""

from . import views  # noqa: F401
