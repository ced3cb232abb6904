"""Audit log screens (to be built)."""
