"""Time phrases of typed questions, resolved against the time the question is asked (``now``).

``resolve_when(phrase, now=..., need=...)`` turns "this week", "before the end of the week", "by
Sunday", "on Friday", "tomorrow", "today", "in the next 24 hours", "by the end of the month",
"this month", "in March", "by year end", "at 5pm ET", ... into a ``When`` (start, end, fixing
or window, and the assumptions used), or the reason it cannot. ``need`` is what the question
asks for: a ``window`` (touch, move, liquidations, first-of) or a ``fixing`` (a price at one
instant: above/below/between).

Conventions (each one used is named in ``When.assumptions``)
    - Calendar periods are in US Eastern time (ET, the venues' clock, DST-aware). A day runs
      00:00 ET to 23:59:59 ET; a week Monday 00:00 ET to Sunday 23:59:59 ET; a month from its
      1st; a year from January 1. A period's ``end`` is the first instant after it (00:00 ET of
      the next day): the close of its last one-minute candle, as in ``markets.questions.dates``.
    - A named period ("this week", "today", "this month", "on Friday" for a window, "tomorrow",
      "next week", "in March") is the whole period, even when it began before ``now``; a
      deadline ("by Sunday", "before the end of the week", "by year end", "within 3 days", "in
      the next 24 hours") starts at ``now``. "by <day>" includes that day; "before <day>" ends
      at its 00:00 ET.
    - A day without a time, as a fixing ("above $100k on Friday", "tomorrow"), is that day's
      12:00 ET fixing, like Polymarket's daily markets. A time without a zone is ET.
    - A weekday, or a date without a year, is its first occurrence whose fixing (or, for a
      window, whose end) is still after ``now``: at 13:00 ET on a Friday "on Friday" (a fixing)
      is the next Friday, while "Friday" as a window is today.
    - Durations are elapsed time from ``now`` ("the next 24 hours" is 24 hours even across a
      DST change); months and years of duration are calendar months and years in ET.
    - Period ends as fixings ("at the end of the week") are the period's ``end`` instant.
    - Ambiguous phrases are refused with the reason: "next Friday", "until Friday", "by the
      weekend", "by March", "by 2027", "midnight", numeric dates ("3/7"), vague spans ("soon",
      "the next few days"), and a span given where a fixing is needed ("above $X this week").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Final

from levercast.features.timeutil import ET
from levercast.markets.questions.clock import (
    CLOCK,
    DAY,
    Clock,
    day_candidates,
    day_start,
    read_clock,
    wall_time,
    zone_note,
)
from levercast.markets.questions.dates import MONTHS, parse_when
from levercast.markets.questions.periods import (
    Need,
    When,
    duration_end,
    named_month,
    period_phrase,
)

__all__ = ["Need", "When", "resolve_when"]

NOON: Final = Clock(12, 0, ET, None)


_DAY_PHRASE = re.compile(
    r"^(?P<pre>on|by|before|at|this coming|this|coming|through|thru|next|until|till|"
    r"no later than|end of)?\s*(?:this\s+coming\s+|this\s+|coming\s+)?"
    r"(?:(?:at\s+)?(?P<c1>" + CLOCK + r")\s+(?:on\s+)?)?"
    r"(?P<day>" + DAY + r")"
    r"(?:,?\s*(?:at\s+|by\s+)?(?P<c2>" + CLOCK + r"))?$"
)
_CLOCK_PHRASE = re.compile(r"^(?P<pre>at|by|before|on)?\s*(?P<c>" + CLOCK + r")$")
_VAGUE: Final = (
    (re.compile(r"\bnext\s+(?:mon|tue|wed|thu|fri|sat|sun)"), "this coming one or the one after?"),
    (re.compile(r"\b(?:until|till|til)\b"), "'until' may or may not include the day"),
    (re.compile(r"\bweekend\b"), "does the weekend start on Saturday or end on Sunday?"),
    (re.compile(r"\b[0-9]{1,2}/[0-9]{1,2}\b"), "a numeric date: month/day or day/month?"),
    (
        re.compile(r"\b(?:soon|eventually|ever|someday|few|couple|several|near future|a while)\b"),
        "no definite deadline",
    ),
    (re.compile(r"\b(?:early|mid|late)\b"), "'early/mid/late' is not a definite window"),
    (re.compile(r"^by\s+20[0-9]{2}$"), "'by <year>': before the year starts or by its end?"),
    (
        re.compile(r"^by\s+(?:" + "|".join(MONTHS) + r")$"),
        "'by <month>': before it starts or by its end?",
    ),
)


def resolve_when(phrase: str, *, now: datetime, need: Need) -> When | str:
    """Resolve a typed time phrase against ``now``.

    Parameters
    ----------
    phrase
        Lower-case time phrase, e.g. ``this week``, ``on friday at 4pm et``.
    now
        The time the question is asked (tz-aware).
    need
        ``window`` for questions over a span, ``fixing`` for a price at one instant.

    Returns
    -------
    When or str
        The resolved phrase, or the reason it is unsupported (naming the words).
    """
    text = " ".join(phrase.replace(",", " , ").split()).strip(" ,")
    text = re.sub(r"\s+,", ",", text)
    now = now.astimezone(UTC)
    if not text:
        return "no date or deadline (add one such as 'this week', 'by Friday', 'on March 7')"
    for resolver in (_duration, period_phrase, _day_phrase, named_month, _legacy):
        found = resolver(text, now, need)
        if found is not None:
            return _checked(found, text, now)
    for pattern, why in _VAGUE:
        if pattern.search(text):
            return f"ambiguous time phrase {text!r}: {why}"
    return f"unrecognised time phrase {text!r}"


def _checked(found: When | str, text: str, now: datetime) -> When | str:
    if isinstance(found, str):
        return found
    if found.end <= now:
        return f"time phrase {text!r} ends before the time asked ({found.end.isoformat()})"
    return found


def _duration(text: str, now: datetime, need: Need) -> When | str | None:
    found = duration_end(text, now)
    if found is None:
        return None
    if isinstance(found, str):
        return found
    end, span, note = found
    if span and need == "fixing":
        return (
            f"{text!r} names a span, but the question asks for a price at one instant: "
            "say 'in 24 hours' or 'at 5pm ET' (or 'touch' for any time in the span)"
        )
    return When(now, end, need == "fixing", (note,))


def _day_phrase(text: str, now: datetime, need: Need) -> When | str | None:
    m = _DAY_PHRASE.match(text)
    if m is None:
        m = _CLOCK_PHRASE.match(text)
        if m is None:
            return None
        return _clock_only(m["pre"] or "at", m["c"], now, need)
    pre = m["pre"] or "on"
    if pre in ("next", "until", "till"):
        return None  # refused with a reason by the vague-phrase table
    if pre == "end of":
        pre = "by" if need == "window" else "at-end"
    if m["c1"] and m["c2"]:
        return f"two times of day in {text!r}"
    clock_text = m["c1"] or m["c2"]
    clock: Clock | None = None
    if clock_text:
        read = read_clock(clock_text)
        if isinstance(read, str):
            return read
        clock = read
    today = now.astimezone(ET).date()
    days = day_candidates(m["day"], today)
    if isinstance(days, str):
        return days
    return _on_day(pre, m["day"], days, clock, now, need)


def _on_day(
    pre: str, name: str, days: list[date], clock: Clock | None, now: datetime, need: Need
) -> When | str:
    instant: Callable[[date], datetime]
    if pre == "at-end":  # "end of friday" as a fixing
        instant = _day_end
    elif pre in ("before", "by", "through", "thru", "no later than"):
        if need == "fixing":
            return (
                f"'{pre} {name}' is a deadline; a price at one instant needs 'on {name}' "
                "or a time ('at 5pm ET')"
            )
        if clock is not None:
            instant = partial(wall_time, clock=clock)
        else:
            instant = day_start if pre == "before" else _day_end
    elif need == "window":
        if clock is not None:
            return (
                f"a time of day with '{name}' names a fixing, not a window "
                f"(say 'by {name} 5pm' for a deadline)"
            )
        instant = _day_end
    else:
        instant = partial(wall_time, clock=clock or NOON)
    day = _first(days, instant, now)
    if day is None:
        return f"{name!r} has already passed at the time asked"
    end = instant(day)
    if pre == "at-end":
        return When(now, end, True, (f"end of {name}: {_describe(day)} 23:59:59 ET",))
    if pre in ("before", "by", "through", "thru", "no later than"):
        notes = _by_notes(name, day, clock) if pre != "before" else _before_notes(name, day, clock)
        return When(now, end, False, notes)
    if need == "window":
        return When(day_start(day), end, False, _day_notes(name, day, now))
    return When(now, end, True, _fixing_notes(name, day, clock, chosen=len(days) > 1))


def _first(days: list[date], instant: Callable[[date], datetime], now: datetime) -> date | None:
    """The first of ``days`` whose instant is after ``now``."""
    for day in days:
        if instant(day) > now:
            return day
    return None


def _day_end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def _describe(day: date) -> str:
    return f"{day.strftime('%A')} {day.isoformat()}"


def _clock_text(clock: Clock) -> str:
    zone = clock.label or "ET"
    return f"{clock.hour:02d}:{clock.minute:02d} {zone}"


def _zone_notes(day: date, clock: Clock | None) -> tuple[str, ...]:
    if clock is None:
        return ()
    notes: list[str] = []
    if clock.label is None:
        notes.append("a time without a zone is ET")
    note = zone_note(day, clock)
    if note:
        notes.append(note)
    return tuple(notes)


def _fixing_notes(name: str, day: date, clock: Clock | None, *, chosen: bool) -> tuple[str, ...]:
    which = f"'{name}' is {_describe(day)}"
    if chosen:  # a weekday or a date without a year: one of several candidates
        which += ", the first one whose fixing is after the time asked"
    if clock is None:
        return (
            which,
            "a day without a time is that day's 12:00 ET fixing (as Polymarket's daily markets)",
        )
    return (which, f"fixing at {_clock_text(clock)}", *_zone_notes(day, clock))


def _day_notes(name: str, day: date, now: datetime) -> tuple[str, ...]:
    begun = ", begun before the time asked" if day_start(day) < now else ""
    return (f"'{name}' is the whole ET day {_describe(day)}, 00:00 ET to 23:59:59 ET{begun}",)


def _by_notes(name: str, day: date, clock: Clock | None) -> tuple[str, ...]:
    if clock is not None:
        return (
            f"deadline {_describe(day)} {_clock_text(clock)}, from the time asked",
            *_zone_notes(day, clock),
        )
    return (f"'by {name}' runs from the time asked to {_describe(day)} 23:59:59 ET",)


def _before_notes(name: str, day: date, clock: Clock | None) -> tuple[str, ...]:
    if clock is not None:
        return _by_notes(name, day, clock)
    return (f"'before {name}' runs from the time asked to {_describe(day)} 00:00 ET",)


def _clock_only(pre: str, text: str, now: datetime, need: Need) -> When | str:
    read = read_clock(text)
    if isinstance(read, str):
        return read
    today = now.astimezone(ET).date()
    days = [today, today + timedelta(days=1)]
    day = _first(days, partial(wall_time, clock=read), now)
    if day is None:  # unreachable: tomorrow's time is always ahead
        return f"{text!r} has already passed at the time asked"
    end = wall_time(day, read)
    which = f"{text!r} is the next such time after the time asked ({_describe(day)})"
    notes = (which, *_zone_notes(day, read))
    if pre in ("by", "before"):
        if need == "fixing":
            return f"'{pre} {text}' is a deadline; a price at one instant needs 'at {text}'"
        return When(now, end, False, notes)
    if need == "window":
        return f"'{pre} {text}' names a fixing, not a window (say 'by {text}')"
    return When(now, end, True, notes)


def _legacy(text: str, now: datetime, need: Need) -> When | str | None:
    """Venue-title phrases (``markets.questions.dates.parse_when``): years, quarters, day spans
    ("march 24-30"), "before 2027", "by the end of 2026", "by inauguration day"."""
    window = parse_when(text, reference=now)
    if window is None:
        return None
    if need == "fixing" and not window.fixing:
        return (
            f"{text!r} names a span, but the question asks for a price at one instant "
            "(say 'on <date>' or 'at the end of <period>')"
        )
    if need == "window" and window.fixing:
        day = window.end.astimezone(ET).date()
        return When(day_start(day), _day_end(day), False, _day_notes(text, day, now))
    start = window.start if window.start is not None else now
    note = "a period is whole, from its first instant in ET" if window.start else "from at"
    if not re.search(r"20[0-9]{2}", text):
        note += "; a date without a year is the next one after the time asked"
    return When(start, window.end, window.fixing, (note,))
