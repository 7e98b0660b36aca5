"""``levercast.experiments.studies.fit_budget``."""
