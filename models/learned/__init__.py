"""``levercast.models.learned``."""
