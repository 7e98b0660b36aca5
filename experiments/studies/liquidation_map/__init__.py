"""``levercast.experiments.studies.liquidation_map``."""
