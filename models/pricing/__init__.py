"""``levercast.models.pricing``."""
