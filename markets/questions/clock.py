"""Days and clock times of typed questions: "friday", "tomorrow", "march 7", "4pm et", "16:00 utc".

Pure helpers for ``markets.questions.relative``: the regexes of a day reference and of a clock
time, and the conversion of a wall-clock time in a named zone to UTC. Standard library only.

Zones
    ``et``/``est``/``edt``/``eastern`` are US Eastern wall-clock time (America/New_York, the
    venues' clock, DST-aware: "5pm EST" in July is read as 5pm ET, with an assumption saying so);
    ``utc``/``gmt``/``z`` are UTC; ``pt``/``pst``/``pdt`` and ``ct``/``cst``/``cdt`` are the US
    Pacific and Central wall clocks. A time without a zone is ET.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from levercast.features.timeutil import ET
from levercast.markets.questions.dates import MONTHS, WEEKDAYS

__all__ = [
    "CLOCK",
    "DAY",
    "Clock",
    "day_candidates",
    "day_start",
    "read_clock",
    "wall_time",
    "zone_note",
]

_ZONES: Final[dict[str, tuple[ZoneInfo, str]]] = {
    "et": (ET, "ET"),
    "est": (ET, "EST"),
    "edt": (ET, "EDT"),
    "eastern": (ET, "ET"),
    "eastern time": (ET, "ET"),
    "ny time": (ET, "ET"),
    "utc": (ZoneInfo("UTC"), "UTC"),
    "gmt": (ZoneInfo("UTC"), "UTC"),
    "z": (ZoneInfo("UTC"), "UTC"),
    "pt": (ZoneInfo("America/Los_Angeles"), "PT"),
    "pst": (ZoneInfo("America/Los_Angeles"), "PST"),
    "pdt": (ZoneInfo("America/Los_Angeles"), "PDT"),
    "ct": (ZoneInfo("America/Chicago"), "CT"),
    "cst": (ZoneInfo("America/Chicago"), "CST"),
    "cdt": (ZoneInfo("America/Chicago"), "CDT"),
}
_ZONE = r"(?:\s*(?P<{g}>" + "|".join(sorted(_ZONES, key=len, reverse=True)) + r")\b)?"
_WEEKDAY_NAMES: Final[dict[str, int]] = {
    **WEEKDAYS,
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_MONTH = r"(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")"
CLOCK: Final = (
    r"(?:(?:[0-9]{1,2}(?::[0-9]{2})?\s*(?:a\.?m\.?|p\.?m\.?)|[0-9]{1,2}:[0-9]{2}|noon|midnight)"
    + _ZONE.format(g="zone").replace("(?P<zone>", "(?:")
    + r")"
)
"""Regex of a clock time: ``4pm``, ``4:30 p.m.``, ``16:00``, ``noon``, each with an optional
zone (``4pm et``, ``17:00 utc``)."""
DAY: Final = (
    r"(?:today|tomorrow|"
    + "|".join(sorted(_WEEKDAY_NAMES, key=len, reverse=True))
    + r"|"
    + _MONTH
    + r"\.?\s+[0-9]{1,2}(?:st|nd|rd|th)?(?:,?\s*20[0-9]{2})?"
    + r"|[0-9]{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
    + _MONTH
    + r"(?:,?\s*20[0-9]{2})?"
    + r"|20[0-9]{2}-[0-9]{2}-[0-9]{2})"
)
"""Regex of a day reference: ``today``, ``tomorrow``, a weekday, ``march 7[, 2026]``,
``7th of march``, ``2026-03-07``."""

_CLOCK_PARTS = re.compile(
    r"^(?:(?P<h>[0-9]{1,2})(?::(?P<mi>[0-9]{2}))?\s*(?:(?P<ap>a|p)\.?m\.?)?|(?P<word>noon|midnight))"
    + _ZONE.format(g="zone")
    + r"$"
)
_MONTH_DAY = re.compile(
    r"^(?P<m>" + _MONTH + r")\.?\s+(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?(?:,?\s*(?P<y>20[0-9]{2}))?$"
)
_DAY_MONTH = re.compile(
    r"^(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>"
    + _MONTH
    + r")(?:,?\s*(?P<y>20[0-9]{2}))?$"
)
_ISO = re.compile(r"^(?P<y>20[0-9]{2})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})$")


@dataclass(frozen=True, slots=True)
class Clock:
    """A wall-clock time of day in a zone (``label`` as typed, e.g. ``EST``; None = no zone)."""

    hour: int
    minute: int
    zone: ZoneInfo
    label: str | None


def read_clock(text: str) -> Clock | str:
    """A ``CLOCK`` match as a ``Clock``, or the reason it cannot be read (``midnight`` is
    ambiguous: the start or the end of the day?)."""
    m = _CLOCK_PARTS.match(text.strip())
    if m is None:
        return f"unreadable time {text!r}"
    zone, label = _ZONES[m["zone"]] if m["zone"] else (ET, None)
    if m["word"] == "midnight":
        return f"ambiguous time {text!r}: midnight at the start or at the end of the day?"
    if m["word"] == "noon":
        return Clock(12, 0, zone, label)
    hour, minute = int(m["h"]), int(m["mi"] or 0)
    if m["ap"] is None:  # 24-hour clock: "16:00"
        if m["mi"] is None or hour > 23 or minute > 59:
            return f"unreadable time {text!r}"
        return Clock(hour, minute, zone, label)
    if not (1 <= hour <= 12 and minute <= 59):
        return f"unreadable time {text!r}"
    hour %= 12
    if m["ap"] == "p":
        hour += 12
    return Clock(hour, minute, zone, label)


def wall_time(day: date, clock: Clock) -> datetime:
    """``day`` at ``clock`` in its zone, as tz-aware UTC."""
    local = datetime(day.year, day.month, day.day, clock.hour, clock.minute, tzinfo=clock.zone)
    return local.astimezone(UTC)


def day_start(day: date) -> datetime:
    """00:00 ET of ``day`` as UTC (a DST day is 23 or 25 hours long)."""
    return datetime(day.year, day.month, day.day, tzinfo=ET).astimezone(UTC)


def day_candidates(text: str, today: date) -> list[date] | str:
    """The dates a ``DAY`` match can name, earliest first, or the reason it names none.

    ``today``/``tomorrow`` and a date with a year name one date; a weekday names the next two
    occurrences from ``today`` (today included); a month and day without a year name that date
    from last year to four years ahead (the caller keeps the first one still ahead).
    """
    text = text.strip()
    if text == "today":
        return [today]
    if text == "tomorrow":
        return [today + timedelta(days=1)]
    if text in _WEEKDAY_NAMES:
        first = today + timedelta(days=(_WEEKDAY_NAMES[text] - today.weekday()) % 7)
        return [first, first + timedelta(days=7)]
    m = _MONTH_DAY.match(text) or _DAY_MONTH.match(text)
    if m is not None:
        month, day = MONTHS[m["m"]], int(m["d"])
        # Up to four years ahead, so that "February 29" finds the next leap year.
        years = [int(m["y"])] if m["y"] else list(range(today.year - 1, today.year + 5))
    elif (m := _ISO.match(text)) is not None:
        month, day, years = int(m["m"]), int(m["d"]), [int(m["y"])]
    else:
        return f"unrecognised day {text!r}"
    out = []
    for year in years:
        try:
            out.append(date(year, month, day))
        except ValueError:
            continue
    return out or f"no such date {text!r}"


def zone_note(day: date, clock: Clock) -> str | None:
    """An assumption when the zone label disagrees with the clock in force ("EST" in July)."""
    if clock.label not in ("EST", "EDT", "PST", "PDT", "CST", "CDT"):
        return None
    local = datetime(day.year, day.month, day.day, clock.hour, clock.minute, tzinfo=clock.zone)
    in_force = local.tzname()
    if in_force == clock.label:
        return None
    return (
        f"'{clock.label}' read as the local wall-clock time ({in_force} is in force on "
        f"{day.isoformat()})"
    )
