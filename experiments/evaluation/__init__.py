"""``levercast.experiments.evaluation``."""
