"""``levercast.features.liqmap``."""
