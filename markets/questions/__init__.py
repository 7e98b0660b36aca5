"""``levercast.markets.questions``."""
