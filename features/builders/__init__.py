"""``levercast.features.builders``."""
