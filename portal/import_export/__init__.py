"""The user list as a CSV report, and creating users from a CSV file (all or nothing).
Adds its views to the admin blueprint."""

from . import views  # noqa: F401
