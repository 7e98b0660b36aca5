"""Calendar periods and durations of typed time phrases (see ``markets.questions.relative``).

``period_phrase`` reads "this week", "by the end of the month", "by year end", "at the end of
the week", "next month", "this weekend", "by end of day"; ``named_month`` reads "in March",
"by the end of March", "at the end of March 2027"; ``duration_end`` reads "in the next 24
hours", "within 3 days", "in a week", "2 hours from now". Periods are in ET; a period's end is
the first instant after it (00:00 ET).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

from levercast.features.timeutil import ET
from levercast.markets.questions.clock import day_start
from levercast.markets.questions.dates import MONTHS

__all__ = ["Need", "When", "duration_end", "named_month", "period_phrase"]

Need = Literal["window", "fixing"]
"""What a question needs from its time phrase: a ``window`` (touch, move, liquidations,
first-of) or a ``fixing`` (a price at one instant: above/below/between)."""


@dataclass(frozen=True, slots=True)
class When:
    """A resolved time phrase.

    Attributes
    ----------
    start
        Window start (UTC): the time asked for deadlines and fixings, the period's first instant
        for a named period ("this week", "on Friday" as a window, "in March").
    end
        Deadline, period end, or the fixing instant when ``fixing``.
    fixing
        True when ``end`` is one fixing instant (a terminal price), not a window end.
    assumptions
        The conventions used, in words.
    """

    start: datetime
    end: datetime
    fixing: bool
    assumptions: tuple[str, ...] = ()


_UNITS: Final[dict[str, str]] = {
    **dict.fromkeys(("minute", "minutes", "min", "mins", "m"), "minute"),
    **dict.fromkeys(("hour", "hours", "hr", "hrs", "h"), "hour"),
    **dict.fromkeys(("day", "days", "d"), "day"),
    **dict.fromkeys(("week", "weeks", "wk", "wks", "w"), "week"),
    **dict.fromkeys(("month", "months", "mo", "mos"), "month"),
    **dict.fromkeys(("year", "years", "yr", "yrs", "y"), "year"),
}
_SECONDS: Final[dict[str, int]] = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_UNIT = r"(?P<u>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
_COUNT = r"(?P<n>[0-9]+(?:\.[0-9]+)?|an?|one)"
_SPAN = re.compile(
    r"^(?:(?:in|within|over|during|for)\s+)?(?:the\s+(?:next|coming|following)\s+(?:"
    + _COUNT
    + r"\s*)?|next\s+"
    + _COUNT.replace("P<n>", "P<n2>")
    + r"\s*)"
    + _UNIT
    + r"$"
)
_WITHIN = re.compile(r"^within\s+" + _COUNT + r"\s*" + _UNIT + r"$")
_POINT = re.compile(
    r"^(?:(?:in|after)\s+"
    + _COUNT
    + r"\s*"
    + _UNIT
    + r"(?:\s+from\s+now)?|"
    + _COUNT.replace("P<n>", "P<n2>")
    + r"\s*"
    + _UNIT.replace("P<u>", "P<u2>")
    + r"\s+from\s+now)$"
)
_MAX_DAYS: Final = 3660

_P = r"(?P<p>day|today|week|month|quarter|year)"
_DEADLINE = re.compile(
    r"^(?:(?:by|before|no\s+later\s+than)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?"
    + _P
    + r"|(?:by|before)\s+(?:the\s+)?(?P<p2>week|month|quarter|year)(?:'s\s+|\s+|-)end"
    + r"|by\s+(?P<abbr>eod|eow|eom|eoq|eoy)"
    + r"|before\s+the\s+(?P<p3>day|week|month|quarter|year)\s+(?:ends|is\s+over|is\s+out|closes)"
    + r"|(?:within|(?:for\s+|over\s+)?the\s+rest\s+of)\s+(?:the|this)\s+"
    + r"(?P<p4>week|month|quarter|year)"
    + r"|by\s+(?:tonight|midnight(?:\s+tonight)?)"
    + r")$"
)
_NEXT_DEADLINE = re.compile(
    r"^(?:by|before)\s+(?:the\s+)?end\s+of\s+next\s+(?P<p>week|month|quarter|year)$"
)
_WHOLE = re.compile(
    r"^(?:this|(?:during|in|over|for)\s+this|during\s+the)\s+(?P<p>week|month|quarter|year)$"
)
_NEXT = re.compile(r"^(?:(?:during|in|over|for)\s+)?next\s+(?P<p>week|month|quarter|year)$")
_WEEKEND = re.compile(r"^(?:this|(?:over|on|during)\s+the|(?:over|during)\s+this)\s+weekend$")
_AT_END = re.compile(
    r"^(?:(?:at|on)\s+)?(?:the\s+)?(?:end\s+of\s+(?:the\s+|this\s+)?"
    + _P
    + r"|(?P<p2>week|month|quarter|year)(?:'s\s+|\s+|-)end|(?P<abbr>eod|eow|eom|eoq|eoy))$"
)
_ABBR: Final = {"eod": "day", "eow": "week", "eom": "month", "eoq": "quarter", "eoy": "year"}
_MONTH = r"(?P<m>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")(?:\s+(?P<y>20[0-9]{2}))?"
_IN_MONTH = re.compile(r"^(?:in|during)\s+" + _MONTH + r"$")
_BY_END_OF_MONTH = re.compile(r"^(?:by|before)\s+(?:the\s+)?end\s+of\s+" + _MONTH + r"$")
_AT_END_OF_MONTH = re.compile(r"^(?:(?:at|on)\s+)?(?:the\s+)?end\s+of\s+" + _MONTH + r"$")
_BEFORE_MONTH = re.compile(r"^before\s+" + _MONTH + r"$")
_QUARTER_END = re.compile(
    r"^(?P<pre>(?:by|before)\s+|(?:at|on)\s+)?(?:the\s+)?end\s+of\s+q(?P<q>[1-4])"
    r"(?:\s+(?P<y>20[0-9]{2}))?$"
)


def _month_start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return day_start(date(year, month, 1))


def _period(kind: str, today: date, shift: int = 0) -> tuple[datetime, datetime]:
    """(start, end) in UTC of the ET ``kind`` period containing ``today``, ``shift`` periods on."""
    if kind in ("day", "today"):
        first = today + timedelta(days=shift)
        return day_start(first), day_start(first + timedelta(days=1))
    if kind == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        return day_start(monday), day_start(monday + timedelta(days=7))
    if kind == "month":
        index = today.month + shift
        return _month_start(today.year, index), _month_start(today.year, index + 1)
    if kind == "quarter":
        index = 3 * ((today.month - 1) // 3) + 1 + 3 * shift
        return _month_start(today.year, index), _month_start(today.year, index + 3)
    return day_start(date(today.year + shift, 1, 1)), day_start(date(today.year + shift + 1, 1, 1))


_RULES: Final[dict[str, str]] = {
    "day": "a day is 00:00 ET to 23:59:59 ET",
    "today": "a day is 00:00 ET to 23:59:59 ET",
    "week": "a week runs Monday 00:00 ET to Sunday 23:59:59 ET",
    "month": "a month runs 00:00 ET on its 1st to 23:59:59 ET on its last day",
    "quarter": "a quarter runs 00:00 ET on its first day to 23:59:59 ET on its last",
    "year": "a year runs January 1 00:00 ET to December 31 23:59:59 ET",
}


def _last_second(end: datetime) -> str:
    last = (end.astimezone(ET) - timedelta(days=1)).date()
    return f"{last.strftime('%A')} {last.isoformat()} 23:59:59 ET"


def _span_text(kind: str, start: datetime, end: datetime) -> str:
    first = start.astimezone(ET).date()
    return f"{first.isoformat()} 00:00 ET to {_last_second(end)} ({_RULES[kind]})"


def period_phrase(text: str, now: datetime, need: Need) -> When | str | None:
    """ "this week", "by the end of the month", "by year end", "at the end of the week", "next
    month", "this weekend", "by end of day", or None when ``text`` is none of them."""
    today = now.astimezone(ET).date()
    following_end = _NEXT_DEADLINE.match(text)
    if m := (following_end or _DEADLINE.match(text)):
        kind = _kind(m) or "day"  # "by tonight", "by midnight"
        start, end = _period(kind, today, 1 if following_end else 0)
        if need == "fixing":
            return (
                f"{text!r} is a deadline, but the question asks for a price at one instant "
                "(say 'at the end of the week' or 'on Friday')"
            )
        note = f"{text!r} runs from the time asked to {_last_second(end)} ({_RULES[kind]})"
        return When(now, end, False, (note,))
    if m := _AT_END.match(text):
        kind = _kind(m)
        start, end = _period(kind, today)
        note = f"{text!r} is the end of {_last_second(end)} ({_RULES[kind]})"
        return When(now, end, need == "fixing", (note,))
    whole = _WHOLE.match(text)
    following = _NEXT.match(text)
    if whole or following:
        kind = (whole or following)["p"]  # type: ignore[index]
        start, end = _period(kind, today, 0 if whole else 1)
        if need == "fixing":
            return _span_for_fixing(text)
        note = f"{text!r} is the whole period {_span_text(kind, start, end)}"
        if whole:
            note += ", begun before the time asked"
        return When(start, end, False, (note,))
    if _WEEKEND.match(text):
        monday = today - timedelta(days=today.weekday())
        start, end = day_start(monday + timedelta(days=5)), day_start(monday + timedelta(days=7))
        if need == "fixing":
            return _span_for_fixing(text)
        note = f"{text!r} is Saturday 00:00 ET to Sunday 23:59:59 ET of the current week"
        return When(start, end, False, (note,))
    return None


def _span_for_fixing(text: str) -> str:
    return (
        f"{text!r} is a span, but 'above/below/between' needs one instant: at its end "
        "('at the end of the week') or at any time in it ('touch', 'hit')?"
    )


def _kind(m: re.Match[str]) -> str:
    groups = m.groupdict()
    for name in ("p", "p2", "p3", "p4"):
        if groups.get(name):
            return str(groups[name])
    if groups.get("abbr"):
        return _ABBR[groups["abbr"]]
    return ""


def named_month(text: str, now: datetime, need: Need) -> When | str | None:
    """ "in March [2027]", "by the end of March", "at the end of March": the first such month
    not over at ``now`` (or the stated year)."""
    if (q := _QUARTER_END.match(text)) is not None:
        return _quarter_end(q, now, need)
    m = (
        _IN_MONTH.match(text)
        or _BY_END_OF_MONTH.match(text)
        or _AT_END_OF_MONTH.match(text)
        or _BEFORE_MONTH.match(text)
    )
    if m is None:
        return None
    month = MONTHS[m["m"]]
    local_year = now.astimezone(ET).year
    years = [int(m["y"])] if m["y"] else [local_year, local_year + 1]
    before = text.startswith("before ")
    for year in years:
        start, end = _month_start(year, month), _month_start(year, month + 1)
        if (start if before else end) > now or m["y"]:
            break
    which = f"{calendar.month_name[month]} {year}"
    if not m["y"]:
        which += " (the first one not over at the time asked)"
    if text.startswith("before "):  # before the month starts
        if need == "fixing":
            return f"{text!r} is a deadline; a price at one instant needs 'on <date>'"
        return When(now, start, False, (f"{text!r} runs from the time asked to {which} begins",))
    if text.startswith(("in ", "during ")):
        if need == "fixing":
            return _span_for_fixing(text)
        return When(start, end, False, (f"{text!r} is the whole month {which}, in ET",))
    if text.startswith(("by", "before")):
        if need == "fixing":
            return f"{text!r} is a deadline; a price at one instant needs 'at the end of ...'"
        return When(now, end, False, (f"{text!r} runs from the time asked to the end of {which}",))
    return When(now, end, need == "fixing", (f"{text!r} is the instant {which} ends (ET)",))


def _quarter_end(q: re.Match[str], now: datetime, need: Need) -> When | str:
    """ "by the end of Q2", "at the end of Q4 2026": the first such quarter not over at ``now``."""
    first = 3 * (int(q["q"]) - 1) + 1
    local_year = now.astimezone(ET).year
    years = [int(q["y"])] if q["y"] else [local_year, local_year + 1]
    end = _month_start(years[0], first + 3)
    for year in years:
        end = _month_start(year, first + 3)
        if end > now:
            break
    deadline = (q["pre"] or "").strip() in ("by", "before")
    if deadline and need == "fixing":
        return (
            f"'{q.group(0)}' is a deadline; a price at one instant needs 'at the end of Q{q['q']}'"
        )
    note = f"{q.group(0)!r}: Q{q['q']} ends {_last_second(end)}"
    return When(now, end, need == "fixing" and not deadline, (note,))


def duration_end(text: str, now: datetime) -> tuple[datetime, bool, str] | str | None:
    """``(end, is_span, note)`` of a duration phrase; ``is_span`` is False for a point ("in 24
    hours", "2 hours from now") and True for a span ("in the next 24 hours", "within 3 days").
    None when ``text`` is not a duration; a reason when it is one that cannot be used."""
    span = _SPAN.match(text) or _WITHIN.match(text)
    m = span or _POINT.match(text)
    if m is None:
        if re.match(r"^(?:in\s+|within\s+|over\s+)?the\s+(?:next|coming)\s+(?:few\s+)?\w+s$", text):
            return f"vague span {text!r}: name a number ('the next 3 days')"
        return None
    groups = m.groupdict()
    unit_text = groups.get("u") or groups["u2"]
    count_text = groups.get("n") or groups.get("n2")
    if count_text is None and unit_text.endswith("s"):
        return f"vague span {text!r}: name a number ('the next 3 days')"
    unit = _UNITS[unit_text]
    count_text = count_text or "1"
    count = 1.0 if count_text in ("a", "an", "one") else float(count_text)
    if count <= 0:
        return f"empty span {text!r}"
    if unit in ("month", "year"):
        if count != int(count):
            return f"fractional calendar {unit}s in {text!r}"
        months = int(count) * (12 if unit == "year" else 1)
        if months > 120:
            return f"span {text!r} is longer than ten years"
        end = _add_months(now, months)
        note = f"{text!r} is {int(count)} calendar {unit}(s) after the time asked (same ET clock)"
        return end, span is not None, note
    seconds = count * _SECONDS[unit]
    if seconds > _MAX_DAYS * 86400:
        return f"span {text!r} is longer than ten years"
    end = now + timedelta(seconds=seconds)
    shown = f"{count:g} {unit}{'s' if count != 1 else ''}"
    note = f"{text!r} is the {shown} after the time asked (elapsed time, whatever the DST)"
    return end, span is not None, note


def _add_months(now: datetime, months: int) -> datetime:
    local = now.astimezone(ET)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)
