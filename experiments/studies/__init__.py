"""``levercast.experiments.studies``."""
