"""``levercast.experiments.studies.polymarket_eval``."""
