"""``levercast.experiments.reporting``."""
