"""``levercast.experiments.ingest``."""
