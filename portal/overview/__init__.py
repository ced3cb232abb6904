"""The overview for administrators and managers: accounts by status, undelivered mail,
30 days of activity. Adds its view to the admin blueprint."""

from . import views  # noqa: F401
