"""Users, for administrators and managers: the list and its search (``search``), one
user's page, add and edit (``service``), row actions. Adds its views to the admin blueprint."""

from . import action_views, edit_views, views  # noqa: F401
