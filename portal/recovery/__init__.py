"""Forgot password: the request, the mailed link, choosing a new password."""

from .views import bp  # noqa: F401  (the blueprint, with its routes)
