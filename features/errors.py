"""The exception and warning vocabulary, organised by what the caller does (STYLE G14).

``ForecastError`` is the base; ``DataError`` means "fix the data", ``ConfigError`` "fix the
arguments or configuration", ``MarketUnavailable`` "a venue or feed failed transiently: retry
later", ``UnsupportedContract`` "levercast cannot price this question". They live here, in the
lowest layer, so every layer shares one vocabulary. Only the CLI entry point catches broadly.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "ForecastError",
    "MarketUnavailable",
    "StaleDataWarning",
    "UnsupportedContract",
]


class ForecastError(Exception):
    """Base class of every error levercast raises on purpose."""


class DataError(ForecastError):
    """Bad or missing input data: the message names table, column, rule and value."""


class ConfigError(ForecastError, ValueError):
    """Bad argument or configuration: the message names the argument, the rule and the value."""


class MarketUnavailable(ForecastError):
    """A venue or data feed failed after retries (timeouts, 429, 5xx, malformed bodies)."""


class UnsupportedContract(ForecastError):
    """A contract (or question) levercast cannot price; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"unsupported contract: {reason}")
        self.reason = reason


class StaleDataWarning(UserWarning):
    """An input is older than its maximum staleness; the value is left out (NaN) with a reason."""
