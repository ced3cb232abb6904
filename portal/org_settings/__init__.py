"""The organisation settings screen (administrators; saving needs a recent password
entry). Adds its view to the admin blueprint."""

from . import views  # noqa: F401
