"""``levercast.features.frame``."""
