"""``levercast.experiments.scanning``."""
