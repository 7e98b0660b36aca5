"""Up/down windows and first-of-two-barriers questions for the question parser.

"Bitcoin Up or Down - January 10, 8:30PM-8:45PM ET": a window crossing midnight ET ends on the
next day; windows of 15 minutes or less resolve on the Chainlink stream (end >= start, per the
dataset README and METHODS.md §2.4), longer ones on the Binance candle of that length (close >=
open). "Bitcoin Up or Down on February 7?": Binance 1-minute close at 12:00 ET the day before vs
12:00 ET on the date, a tie 50-50. "Will Bitcoin hit $80k or $150k first?": ``first_of`` whose
YES is the upper barrier, ``neither_value`` 0.5.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from levercast.features.timeutil import ET
from levercast.markets.questions.common import (
    ASSETS,
    ParseContext,
    Parsed,
    Unsupported,
    binance_resolution,
    finish,
    no_time,
    read_money,
)
from levercast.markets.questions.dates import (
    MONTHS,
    Window,
    et_time,
    parse_clock,
    parse_rules_fixings,
    parse_when,
    resolve_year,
)
from levercast.models.contracts import Kind, Resolution

__all__ = ["first_of", "up_down"]

_CLOCK = r"\d{1,2}(?::\d{2})?\s*[ap]\.?m\.?"
_UP_DOWN_REST = re.compile(
    r"^(?P<m>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?\s+(?P<d>\d{1,2})"
    r"(?:,?\s*(?P<y>20\d\d))?(?:,?\s*(?P<c1>" + _CLOCK + r")(?:\s*-\s*(?P<c2>" + _CLOCK + r"))?"
    r"\s*(?:et|est|edt))?$"
)


def up_down(m: re.Match[str], ctx: ParseContext) -> Parsed | Unsupported:
    asset = ASSETS[m["asset"]]
    rest = _UP_DOWN_REST.match(m["rest"].strip())
    if rest is None:
        return Unsupported(f"unrecognised up/down window {m['rest']!r}")
    month, day = MONTHS[rest["m"]], int(rest["d"])
    year = int(rest["y"]) if rest["y"] else None
    if rest["c1"] is None:  # daily: noon ET the day before to noon ET on the date
        fixings = parse_rules_fixings(ctx.rules)
        window = resolve_year(
            lambda y: _noon_to_noon(y, month, day), year=year, reference=ctx.year_reference
        )
        if len(fixings) >= 2:
            window = Window(fixings[0], fixings[-1])
        if window is None:
            return no_time(m["rest"])
        resolution = replace(binance_resolution(asset, "close", ctx), tie_value=0.5)
        return finish(
            {
                "kind": Kind.UP_DOWN,
                "asset": asset,
                "start": window.start,
                "end": window.end,
                "resolution": resolution,
            },
            ctx,
            "Up",
        )
    first, second = parse_clock(rest["c1"]), parse_clock(rest["c2"]) if rest["c2"] else None
    if first is None or (rest["c2"] and second is None):
        return Unsupported(f"unreadable clock time in {m['rest']!r}")
    window = resolve_year(
        lambda y: _clock_window(y, month, day, first, second),
        year=year,
        reference=ctx.year_reference,
    )
    if window is None or window.start is None:
        return no_time(m["rest"])
    minutes = int((window.end - window.start).total_seconds() // 60)
    if minutes <= 15 or "chainlink" in ctx.rules.lower():
        resolution = Resolution(
            source="chainlink", price="close", symbol=f"{asset}/USD", interval="1s", tie_value=1.0
        )
    else:
        interval = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
        resolution = replace(
            binance_resolution(asset, "close", ctx, interval=interval), tie_value=1.0
        )
    return finish(
        {
            "kind": Kind.UP_DOWN,
            "asset": asset,
            "start": window.start,
            "end": window.end,
            "resolution": resolution,
        },
        ctx,
        "Up",
    )


def _noon_to_noon(year: int, month: int, day: int) -> Window | None:
    try:
        end = et_time(year, month, day, 12)
    except ValueError:
        return None
    prev = end.astimezone(ET).date() - timedelta(days=1)
    return Window(et_time(prev.year, prev.month, prev.day, 12), end)


def _clock_window(
    year: int, month: int, day: int, first: tuple[int, int], second: tuple[int, int] | None
) -> Window | None:
    try:
        start = et_time(year, month, day, *first)
    except ValueError:
        return None
    if second is None:
        return Window(start, start + timedelta(hours=1))
    end = et_time(year, month, day, *second)
    if end <= start:  # the window crosses midnight ET: it ends on the next day
        nxt = start.astimezone(ET).date() + timedelta(days=1)
        end = et_time(nxt.year, nxt.month, nxt.day, *second)
    return Window(start, end)


def first_of(m: re.Match[str], ctx: ParseContext) -> Parsed | Unsupported:
    asset = ASSETS[m["asset"]]
    a, b = read_money(m["a"]), read_money(m["b"])
    if a is None or b is None or a == b:
        return Unsupported(f"first-of question needs two distinct barriers; found {m.group(0)!r}")
    (lower, _), (upper, upper_raw) = sorted([(a, m["a"]), (b, m["b"])])
    end: datetime | None = None
    if m["when"]:
        window = parse_when(m["when"], reference=ctx.year_reference)
        if window is None:
            return no_time(m["when"])
        end = window.end
    elif ctx.end_date is not None:
        end = _deadline_from_end_date(ctx.end_date)
    label = _barrier_label(upper, upper_raw, ctx)
    # Polymarket's "A or B first" rules resolve 50-50 when neither barrier is hit in time.
    resolution = replace(binance_resolution(asset, "close", ctx), neither_value=0.5)
    return finish(
        {
            "kind": Kind.FIRST_OF,
            "asset": asset,
            "start": ctx.listing,
            "end": end,
            "lower_usd": lower,
            "upper_usd": upper,
            "resolution": resolution,
        },
        ctx,
        label,
    )


def _barrier_label(value: float, raw: str, ctx: ParseContext) -> str:
    """The outcome label naming the barrier ``value`` ("100k"), else the title's text."""
    for label in ctx.outcomes or ():
        if (
            read_money(label.strip().lower()) == value
            or read_money("$" + label.strip().lower()) == value
        ):
            return label
    return raw.replace("$", "").strip()


def _deadline_from_end_date(end_date: datetime) -> datetime:
    """Deadline of a market whose only date is the venue's ``end_date``: that day's 23:59 ET
    candle. A nominal 00:00/12:00 UTC stamp names the deadline day by its UTC date; a stamp
    within an hour of an ET midnight is that midnight (a daylight-saving offset)."""
    local = end_date.astimezone(ET)
    if local.hour == 0 and local.minute == 0:
        return end_date
    if local.hour == 23:
        nxt = local.date() + timedelta(days=1)
        return et_time(nxt.year, nxt.month, nxt.day)
    day = end_date.date() + timedelta(days=1)
    return et_time(day.year, day.month, day.day)
