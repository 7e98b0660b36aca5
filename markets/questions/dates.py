"""Dates, windows and times of venue questions, in US Eastern time (the venues' clock).

The question parser (``markets.questions.parser``) reads *what* is asked; this module reads *when*:
deadlines ("by December 31"), periods ("in November", "November 24-30", "in 2025", "in Q1"),
fixing days ("on March 7"), clock times ("8:30PM-8:45PM ET") and the explicit windows that
Polymarket rules texts state ("between December 30, 2024, 20:00 and December 31, 2025, 23:59 in
the ET timezone"). Pure functions, standard library only.

Conventions
    - A day-level deadline "by D" ends at the close of the 23:59 ET one-minute candle of D, so
      the window ``end`` is 00:00 ET of the next day; a month, quarter or year runs from 00:00 ET
      of its first day to 00:00 ET of the first day of the next one.
    - A date without a year is resolved by :func:`resolve_year` against a reference time: the
      first such date (or window) whose end is on or after the reference. The wall clock is
      never used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from levercast.features.timeutil import ET

__all__ = [
    "MONTHS",
    "Window",
    "et_time",
    "parse_clock",
    "parse_rules_fixings",
    "parse_rules_window",
    "parse_when",
    "resolve_year",
]

MONTHS: Final[dict[str, int]] = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
WEEKDAYS: Final[dict[str, int]] = {
    name: i
    for i, name in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
}
# Named days that venues use instead of a date (US presidential inauguration: January 20).
NAMED_DAYS: Final[dict[str, tuple[int, int]]] = {"inauguration day": (1, 20)}

_MONTH = r"(?P<{g}>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:,?\s*(?P<{g}>20\d\d))?"
_DATE = _MONTH.format(g="m") + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?" + _YEAR.format(g="y")
_DAY_RANGE = re.compile(
    r"^(?:on\s+|from\s+)?"
    + _MONTH.format(g="m")
    + r"\s+(?P<d1>\d{1,2})\s*(?:-|–|to|through)\s*(?:"
    + _MONTH.format(g="m2")
    + r"\s+)?(?P<d2>\d{1,2})"
    + _YEAR.format(g="y")
    + r"$"
)
_BY_DATE = re.compile(r"^(?:by|on or before)\s+(?:the\s+end\s+of\s+)?" + _DATE + r"$")
_BEFORE_DATE = re.compile(r"^before\s+" + _DATE + r"$")
_BY_WEEKDAY = re.compile(
    r"^by\s+(?:this\s+)?(?P<w>" + "|".join(WEEKDAYS) + r")$",
)
_BY_NAMED = re.compile(r"^by\s+(?P<n>" + "|".join(NAMED_DAYS) + r")$")
_BY_YEAR_END = re.compile(r"^(?:by|before)\s+(?:the\s+)?end\s+of\s+(?P<y>20\d\d)$")
_BEFORE_YEAR = re.compile(r"^before\s+(?P<y>20\d\d)$")
_IN_MONTH = re.compile(r"^in\s+" + _MONTH.format(g="m") + _YEAR.format(g="y") + r"$")
_IN_YEAR = re.compile(r"^in\s+(?P<y>20\d\d)$")
_IN_QUARTER = re.compile(r"^in\s+q(?P<q>[1-4])" + _YEAR.format(g="y") + r"$")
_ON_DATE = re.compile(
    r"^on\s+"
    + _DATE
    + r"(?:,?\s*(?:at\s+)?(?P<clock>\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?)\s*(?:et|est|edt)?)?$"
)
_CLOCK = re.compile(r"^(?P<h>\d{1,2})(?::(?P<mi>\d{2}))?\s*(?P<ap>[ap])\.?m\.?$")


@dataclass(frozen=True, slots=True)
class Window:
    """A time phrase resolved to UTC times.

    Attributes
    ----------
    start
        Window start (a period's first instant), or None when the phrase names only a deadline
        or a fixing (the market's listing time is the start).
    end
        Deadline, period end or fixing time (tz-aware UTC).
    fixing
        True when ``end`` is a single fixing instant ("on March 7" at 12:00 ET), not a window.
    """

    start: datetime | None
    end: datetime
    fixing: bool = False


def et_time(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Wall-clock time in US Eastern time (DST-aware) as tz-aware UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ET).astimezone(UTC)


def _day_end(day: date) -> datetime:
    nxt = day + timedelta(days=1)
    return et_time(nxt.year, nxt.month, nxt.day)


def _month_start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return et_time(year, month, 1)


def parse_clock(text: str) -> tuple[int, int] | None:
    """``8:30PM`` / ``12AM`` / ``4 pm`` -> (hour, minute) on a 24-hour clock, else None."""
    match = _CLOCK.match(text.strip().lower())
    if match is None:
        return None
    hour, minute = int(match["h"]), int(match["mi"] or 0)
    if not (1 <= hour <= 12 and minute < 60):
        return None
    hour %= 12
    if match["ap"] == "p":
        hour += 12
    return hour, minute


def resolve_year(
    build: Callable[[int], Window | None],
    *,
    year: int | None,
    reference: datetime | None,
) -> Window | None:
    """The window for an explicit ``year``, else the first year whose window ends on or after
    ``reference``; None when no year can be chosen (no reference) or no window is valid.

    Parameters
    ----------
    build
        Window for a candidate year (None when the date does not exist that year, e.g. Feb 29).
    year
        Year stated in the text, or None.
    reference
        The time the date is read against (listing time, scheduled end or observation time).
    """
    if year is not None:
        return build(year)
    if reference is None:
        return None
    ref_year = reference.astimezone(ET).year
    for candidate in range(ref_year - 1, ref_year + 3):
        window = build(candidate)
        if window is not None and window.end >= reference:
            return window
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _deadline(month: int, day: int) -> Callable[[int], Window | None]:
    def build(year: int) -> Window | None:
        d = _safe_date(year, month, day)
        return None if d is None else Window(None, _day_end(d))

    return build


def _day_span(month: int, d1: int, month2: int, d2: int) -> Callable[[int], Window | None]:
    def build(year: int) -> Window | None:
        first = _safe_date(year, month, d1)
        # A span written across the new year ("December 29 - January 4") ends in the next year.
        last = _safe_date(year + (month2 < month), month2, d2)
        if first is None or last is None or last < first:
            return None
        return Window(et_time(first.year, first.month, first.day), _day_end(last))

    return build


def _fixing(month: int, day: int, hour: int, minute: int) -> Callable[[int], Window | None]:
    def build(year: int) -> Window | None:
        d = _safe_date(year, month, day)
        return None if d is None else Window(None, et_time(year, month, day, hour, minute), True)

    return build


def _weekday_deadline(weekday: int, reference: datetime | None) -> Window | None:
    if reference is None:
        return None
    local = reference.astimezone(ET).date()
    day = local + timedelta(days=(weekday - local.weekday()) % 7)
    return Window(None, _day_end(day))


def _month_of(match: re.Match[str], group: str) -> int:
    return MONTHS[match[group]]


def parse_when(phrase: str, *, reference: datetime | None, fixing_hour: int = 12) -> Window | None:
    """Resolve a time phrase of a price question (lower-case, without the trailing '?').

    Parameters
    ----------
    phrase
        E.g. ``by december 31, 2025``, ``in november``, ``november 24-30``, ``on mar 7``,
        ``by wednesday``, ``in 2025``, ``in q1 2025``, ``before 2026``.
    reference
        Reference time for dates without a year (see :func:`resolve_year`).
    fixing_hour
        ET hour of a fixing "on <date>" without a clock time (12: Polymarket's noon candle).

    Returns
    -------
    Window or None
        None when the phrase is not recognised or its year cannot be resolved.
    """
    text = " ".join(phrase.split())
    if m := _BY_DATE.match(text):
        return resolve_year(
            _deadline(_month_of(m, "m"), int(m["d"])), year=_int(m["y"]), reference=reference
        )
    if m := _BEFORE_DATE.match(text):
        month, day = _month_of(m, "m"), int(m["d"])
        return resolve_year(
            lambda y: (
                None if _safe_date(y, month, day) is None else Window(None, et_time(y, month, day))
            ),
            year=_int(m["y"]),
            reference=reference,
        )
    if m := _BY_NAMED.match(text):
        month, day = NAMED_DAYS[m["n"]]
        return resolve_year(_deadline(month, day), year=None, reference=reference)
    if m := _BY_WEEKDAY.match(text):
        return _weekday_deadline(WEEKDAYS[m["w"]], reference)
    if m := (_BY_YEAR_END.match(text) or _IN_YEAR.match(text)):
        year = int(m["y"])
        start = et_time(year, 1, 1) if text.startswith("in") else None
        return Window(start, et_time(year + 1, 1, 1))
    if m := _BEFORE_YEAR.match(text):
        return Window(None, et_time(int(m["y"]), 1, 1))
    if m := _IN_MONTH.match(text):
        month = _month_of(m, "m")
        return resolve_year(
            lambda y: Window(_month_start(y, month), _month_start(y, month + 1)),
            year=_int(m["y"]),
            reference=reference,
        )
    if m := _IN_QUARTER.match(text):
        first = 3 * (int(m["q"]) - 1) + 1
        return resolve_year(
            lambda y: Window(_month_start(y, first), _month_start(y, first + 3)),
            year=_int(m["y"]),
            reference=reference,
        )
    if m := _DAY_RANGE.match(text):
        month = _month_of(m, "m")
        month2 = _month_of(m, "m2") if m["m2"] else month
        return resolve_year(
            _day_span(month, int(m["d1"]), month2, int(m["d2"])),
            year=_int(m["y"]),
            reference=reference,
        )
    if m := _ON_DATE.match(text):
        hour, minute = fixing_hour, 0
        if m["clock"]:
            clock = parse_clock(m["clock"])
            if clock is None:
                return None
            hour, minute = clock
        return resolve_year(
            _fixing(_month_of(m, "m"), int(m["d"]), hour, minute),
            year=_int(m["y"]),
            reference=reference,
        )
    return None


def _int(text: str | None) -> int | None:
    return int(text) if text else None


# -- rules texts ---------------------------------------------------------------------------------
_RULES_MONTH = r"(?P<{g}>[A-Z][a-z]+)"
_RULES_WINDOW = re.compile(
    r"between\s+"
    + _RULES_MONTH.format(g="m1")
    + r"\s+(?P<d1>\d{1,2}),\s*(?:(?P<y1>\d{4}),\s*)?(?P<h1>\d{1,2}):(?P<i1>\d{2})\s+and\s+"
    + _RULES_MONTH.format(g="m2")
    + r"\s+(?P<d2>\d{1,2}),\s*(?:(?P<y2>\d{4}),\s*)?(?P<h2>\d{1,2}):(?P<i2>\d{2})\s+in\s+the\s+ET"
)
# "07 Mar '25 12:00" or "Feb 6 '26 12:00" (a one-minute candle named by its open, in ET).
_RULES_FIXING = re.compile(
    r"(?:(?P<da>\d{1,2})\s+(?P<ma>[A-Z][a-z]{2,8})|(?P<mb>[A-Z][a-z]{2,8})\s+(?P<db>\d{1,2}))"
    r"\s+['’](?P<yy>\d{2})\s+(?P<h>\d{1,2}):(?P<i>\d{2})"
)


def parse_rules_window(rules: str) -> Window | None:
    """The explicit window of a Polymarket touch rule, or None.

    "between February 28, 13:00 and March 31, 2025, 23:59 in the ET timezone" starts at the
    13:00 ET candle's open and ends at the close of the 23:59 candle (00:00 ET on April 1); a
    first date without a year takes the year that puts it before the second.
    """
    m = _RULES_WINDOW.search(rules)
    if m is None:
        return None
    month1, month2 = MONTHS.get(m["m1"].lower()), MONTHS.get(m["m2"].lower())
    if month1 is None or month2 is None or (m["y2"] is None and m["y1"] is None):
        return None
    year2 = int(m["y2"] or m["y1"])
    year1 = (
        int(m["y1"])
        if m["y1"]
        else (year2 if (month1, int(m["d1"])) <= (month2, int(m["d2"])) else year2 - 1)
    )
    try:
        start = et_time(year1, month1, int(m["d1"]), int(m["h1"]), int(m["i1"]))
        end = et_time(year2, month2, int(m["d2"]), int(m["h2"]), int(m["i2"]))
    except ValueError:
        return None
    end += timedelta(minutes=1)
    return Window(start, end) if end > start else None


def parse_rules_fixings(rules: str) -> list[datetime]:
    """ET fixing times named in a rules text ("07 Mar '25 12:00", "Feb 6 '26 12:00"), as UTC,
    in the order they appear (a daily up/down rule names the start candle, then the end)."""
    out: list[datetime] = []
    for m in _RULES_FIXING.finditer(rules):
        name = (m["ma"] or m["mb"]).lower()
        month = MONTHS.get(name)
        day = int(m["da"] or m["db"])
        if month is None:
            continue
        try:
            out.append(et_time(2000 + int(m["yy"]), month, day, int(m["h"]), int(m["i"])))
        except ValueError:
            continue
    return out
