"""The audit log screen (filters, pages) and its CSV export; recording events is
``portal.audit``. Adds its views to the admin blueprint."""

from . import views  # noqa: F401
