"""``levercast.experiments.studies.learned_models``."""
