"""``levercast.markets.polymarket``."""
