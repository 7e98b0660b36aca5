"""Time and unit helpers shared by every layer.

Every timestamp is tz-aware UTC; naive input is rejected, never assumed (STYLE G6). This module
imports only the standard library so that the CLI can parse arguments without pandas.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from levercast.features.errors import ConfigError

__all__ = [
    "ET",
    "HOURS_PER_YEAR",
    "SECONDS_PER_YEAR",
    "duration_text",
    "format_utc",
    "parse_duration",
    "parse_utc",
    "utc_text",
]

HOURS_PER_YEAR: Final = 24 * 365  # crypto trades 24/7: never the equity 252
SECONDS_PER_YEAR: Final = HOURS_PER_YEAR * 3600
ET: Final = ZoneInfo("America/New_York")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_utc(value: str | datetime, *, name: str = "time") -> datetime:
    """Parse an ISO-8601 time with an explicit offset into a tz-aware UTC ``datetime``.

    Parameters
    ----------
    value
        ``2026-01-15T00:00Z``, ``2026-01-15T00:00:00+00:00`` or a tz-aware ``datetime``.
    name
        The argument name used in error messages.

    Raises
    ------
    ConfigError
        If the value has no UTC offset or is not ISO-8601.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ConfigError(f"{name} must be tz-aware (UTC); found naive {value.isoformat()!r}")
        return value.astimezone(UTC)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as e:
        raise ConfigError(
            f"{name} must be an ISO-8601 time such as 2026-01-15T00:00Z; found {value!r}"
        ) from e
    if parsed.tzinfo is None:
        raise ConfigError(
            f"{name} must carry a UTC offset (e.g. 2026-01-15T00:00Z); found {value!r} without one"
        )
    return parsed.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """Format a tz-aware time as a UTC ISO-8601 string ending in ``Z``."""
    if value.tzinfo is None:
        raise ConfigError(f"time must be tz-aware; found naive {value.isoformat()!r}")
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def utc_text(value: datetime, *, seconds: bool = False) -> str:
    """A time for people: ``2026-01-15 12:00 UTC`` (``:SS`` with ``seconds``); a tz-aware time
    is converted to UTC, a naive one is taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def parse_duration(value: str | timedelta, *, name: str = "duration") -> timedelta:
    """Parse ``30m``, ``1h``, ``7d``, ``2w`` (or a ``timedelta``) into a positive ``timedelta``.

    Raises
    ------
    ConfigError
        If the text is not a number followed by one of s, m, min, h, d, w, or is not positive.
    """
    if isinstance(value, timedelta):
        delta = value
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ConfigError(
                f"{name} must be a number and a unit among s, m, h, d, w (e.g. 24h); "
                f"found {value!r}"
            )
        delta = timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if delta <= timedelta(0):
        raise ConfigError(f"{name} must be positive; found {value!r}")
    return delta


def duration_text(delta: timedelta) -> str:
    """A duration as the text a backtest writes: whole days from two days up (``7d``, ``30d``),
    else whole hours (``1h``, ``24h``), minutes (``90m``) or seconds (``45s``)."""
    secs = delta.total_seconds()
    if secs >= 2 * 86400 and secs % 86400 == 0:
        return f"{int(secs // 86400)}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if secs % size == 0:
            return f"{int(secs // size)}{unit}"
    return f"{secs:g}s"
