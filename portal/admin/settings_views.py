"""Organisation settings screen (to be built)."""
