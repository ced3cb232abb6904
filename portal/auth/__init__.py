"""Signing in and out, changing one's own password."""

from .views import bp  # noqa: F401  (the blueprint, with its routes)
