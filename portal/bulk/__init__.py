"""Bulk actions on selected users: confirm, run (in the background when large), progress,
once-only results. Adds its views to the admin blueprint."""

from . import views  # noqa: F401
