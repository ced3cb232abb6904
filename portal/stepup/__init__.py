"""Step-up re-authentication before sensitive admin actions (see ``service``)."""

from . import views  # noqa: F401  (adds /admin/reauth to the admin blueprint)
