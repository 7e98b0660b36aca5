"""Kalshi crypto titles in words, with the strike from the market's subtitle.

- Daily and hourly ladders: "Bitcoin price on Aug 28, 2026 at 5pm EDT?" (also "Bitcoin price
  range on ...", "... today at 5pm EST?") with the subtitle "$97,250 or above" (``close_above``
  97,250), "$97,000 to 97,249.99" (``range`` [97,000, 97,250): the cap plus the index's one-cent
  tick, so neighbouring brackets tile, as ``markets.questions.kalshi`` does for strike fields)
  or "$96,999.99 or below" (``close_below`` 97,000, the same tick). The fixing is the title's
  date and time (ET wall clock whatever "EST"/"EDT" says).
- Yearly maximum/minimum: "How high will Bitcoin get this year?" with "$150,000 or above" (a
  touch up over the year); "How low will Bitcoin get this year?" with "$50,000 or below" (down).
- 15-minute: "BTC price up in next 15 mins?": ``up_down`` over the 15 minutes from the time asked.

All settle on CF Benchmarks' real-time index (BRTI for bitcoin), the simple average of its 60
one-second prints before the fixing (``kalshi.kalshi_resolution``; METHODS.md §2.4). The window
starts at the market's ``created_at`` when given, else at the time asked.
"""

from __future__ import annotations

import re
from typing import Final

from levercast.markets.questions.clock import CLOCK, DAY
from levercast.markets.questions.common import Parsed, Unsupported
from levercast.markets.questions.kalshi import TICK_USD, kalshi_resolution
from levercast.markets.questions.numbers import MONEY, read_price
from levercast.markets.questions.wording import (
    TypedContext,
    contract_or_reason,
    normalise_typed,
    when_of,
)
from levercast.models.contracts import Kind, Monitoring

__all__ = ["parse_kalshi_title", "read_subtitle"]

_LADDER = re.compile(
    r"^(?P<asset>[a-z][a-z0-9]*)\s+price\s+(?P<range>range\s+)?(?P<day>on\s+"
    + DAY
    + r"|today|tomorrow)\s+at\s+(?P<clock>"
    + CLOCK
    + r")$"
)
_EXTREME = re.compile(
    r"^how\s+(?P<hl>high|low)\s+will\s+(?P<asset>[a-z][a-z0-9]*)(?:'s)?(?:\s+price)?\s+"
    r"(?:get|go|climb|rise|fall|drop|sink)\s+(?P<when>.+)$"
)
_QUARTER_HOUR = re.compile(
    r"^(?P<asset>[a-z][a-z0-9]*)\s+(?:price\s+)?up\s+in\s+(?:the\s+)?next\s+(?P<n>[0-9]{1,3})\s*"
    r"(?:mins?|minutes?)$"
)


def _money(group: str) -> str:
    return f"(?P<{group}>" + MONEY + ")"


_SUBTITLES: Final = (
    (re.compile(r"^" + _money("a") + r"\s+or\s+(?:above|higher|more)$"), "above"),
    (re.compile(r"^(?:above|over|greater\s+than|more\s+than)\s+" + _money("a") + "$"), ">"),
    (re.compile(r"^" + _money("a") + r"\s+or\s+(?:below|lower|less)$"), "below"),
    (re.compile(r"^(?:below|under|less\s+than)\s+" + _money("a") + "$"), "<"),
    (
        re.compile(r"^(?:between\s+)?" + _money("a") + r"\s*(?:to|-|and)\s*" + _money("b") + "$"),
        "range",
    ),
)
_SOURCE_NOTE: Final = (
    "Kalshi settles on CF Benchmarks' real-time index ({symbol}): the simple average of its 60 "
    "one-second prints before the fixing"
)


def read_subtitle(subtitle: str) -> tuple[str, float, float | None] | str:
    """``(form, a, b)`` of a Kalshi subtitle: form ``above`` ("$97,250 or above"), ``>``,
    ``below`` ("$96,999.99 or below"), ``<`` or ``range`` ("$97,000 to 97,249.99"); or the
    reason it cannot be read."""
    text = " ".join(subtitle.lower().replace("–", "-").split()).strip(" .")
    for pattern, form in _SUBTITLES:
        m = pattern.match(text)
        if m is None:
            continue
        a = read_price(m["a"])
        b = read_price(m["b"]) if form == "range" else None
        if a is None or (form == "range" and b is None):
            break
        return form, a, b
    return f"unrecognised Kalshi subtitle {subtitle!r} (e.g. '$97,250 or above')"


def parse_kalshi_title(
    title: str, subtitle: str | None, tctx: TypedContext
) -> Parsed | Unsupported | None:
    """A Kalshi crypto title (with its subtitle), or None when ``title`` is not one."""
    norm = normalise_typed(title)
    for pattern, read in ((_LADDER, _ladder), (_EXTREME, _extreme), (_QUARTER_HOUR, _updown)):
        m = pattern.match(norm)
        if m is not None:
            asset = tctx.asset(m["asset"])
            if asset is None:
                return tctx.unknown_asset(m["asset"])
            return read(m, asset, subtitle, tctx)
    return None


def _ladder(
    m: re.Match[str], asset: str, subtitle: str | None, tctx: TypedContext
) -> Parsed | Unsupported:
    if not subtitle:
        return Unsupported(
            "a Kalshi ladder title states no strike: it is in the market's subtitle (pass "
            "subtitle, e.g. '$97,250 or above' or '$97,000 to 97,249.99')"
        )
    read = read_subtitle(subtitle)
    if isinstance(read, str):
        return Unsupported(read)
    form, a, b = read
    when = when_of(f"{m['day']} at {m['clock']}", "fixing", tctx)
    if isinstance(when, Unsupported):
        return when
    resolution = kalshi_resolution(asset)
    notes = [*when.assumptions, _SOURCE_NOTE.format(symbol=resolution.symbol)]
    fields: dict[str, object] = {
        "asset": asset,
        "start": tctx.ctx.created_at or when.start,
        "end": when.end,
        "resolution": resolution,
    }
    if form in ("above", ">"):
        fields |= {"kind": Kind.CLOSE_ABOVE, "strike_usd": a}
        notes.append(f"subtitle {subtitle!r}: the index average above ${a:,.2f}")
    elif form in ("below", "<"):
        strike = round(a + TICK_USD, 2) if form == "below" else a
        fields |= {"kind": Kind.CLOSE_BELOW, "strike_usd": strike}
        notes.append(
            f"subtitle {subtitle!r}: the index average below ${strike:,.2f} (the one-cent tick "
            "above an inclusive cap)"
        )
    else:
        assert b is not None
        lower, upper = sorted((a, b))
        fields |= {"kind": Kind.RANGE, "lower_usd": lower, "upper_usd": round(upper + TICK_USD, 2)}
        notes.append(f"subtitle {subtitle!r}: lower <= index average < cap + $0.01 (brackets tile)")
    return contract_or_reason(fields, "Yes", notes)


def _extreme(
    m: re.Match[str], asset: str, subtitle: str | None, tctx: TypedContext
) -> Parsed | Unsupported:
    if not subtitle:
        return Unsupported(
            f"'how {m['hl']} will ... get' states no level: it is in the market's subtitle "
            "(pass subtitle, e.g. '$150,000 or above')"
        )
    read = read_subtitle(subtitle)
    if isinstance(read, str):
        return Unsupported(read)
    form, level, _ = read
    direction = "up" if m["hl"] == "high" else "down"
    if form == "range" or (form in ("above", ">")) != (direction == "up"):
        return Unsupported(
            f"subtitle {subtitle!r} does not fit 'how {m['hl']}': expected '$X or "
            f"{'above' if direction == 'up' else 'below'}'"
        )
    when = when_of(m["when"], "window", tctx)
    if isinstance(when, Unsupported):
        return when
    resolution = kalshi_resolution(asset)
    notes = [
        *when.assumptions,
        _SOURCE_NOTE.format(symbol=resolution.symbol),
        f"a touch {direction}: the index average reaching ${level:,.2f} at any time in the "
        "window (continuous); check the market's rules for its exact averaging",
    ]
    fields: dict[str, object] = {
        "kind": Kind.TOUCH,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "direction": direction,
        "strike_usd": level,
        "monitoring": Monitoring.CONTINUOUS,
        "resolution": resolution,
    }
    return contract_or_reason(fields, "Yes", notes)


def _updown(
    m: re.Match[str], asset: str, subtitle: str | None, tctx: TypedContext
) -> Parsed | Unsupported:
    minutes = int(m["n"])
    when = when_of(f"in the next {minutes} minutes", "window", tctx)
    if isinstance(when, Unsupported):
        return when
    resolution = kalshi_resolution(asset)
    notes = [
        *when.assumptions,
        "Kalshi lists quarter-hour windows; this one runs from the time asked (pass the listed "
        "market's time as at to match it)",
        _SOURCE_NOTE.format(symbol=resolution.symbol),
        "up: the index average at the end above the one at the start",
    ]
    fields: dict[str, object] = {
        "kind": Kind.UP_DOWN,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "resolution": resolution,
    }
    return contract_or_reason(fields, "Yes", notes)
