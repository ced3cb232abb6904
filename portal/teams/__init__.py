"""Teams and the managers who look after them (administrators). Adds its views to the
admin blueprint."""

from . import views  # noqa: F401
