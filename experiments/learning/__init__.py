"""``levercast.experiments.learning``."""
