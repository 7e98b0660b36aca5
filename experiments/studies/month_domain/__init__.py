"""``levercast.experiments.studies.month_domain``."""
