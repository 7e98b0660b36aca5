"""``levercast.markets.kalshi``."""
