"""``levercast.experiments.backtest``."""
