"""``levercast.experiments.studies.volatility``."""
