"""``levercast.experiments.labels``."""
