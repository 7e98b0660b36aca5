"""``levercast.features.dataset``."""
