"""``levercast.experiments.cli``."""
