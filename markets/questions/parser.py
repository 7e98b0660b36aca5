"""The question parser: a venue market (title, rules, dates, strike fields) or a question a
trader types -> a contract.

``parse_market(market)`` and ``parse_question(title, ...)`` return ``Parsed(contract,
yes_outcome, assumptions)`` or ``Unsupported(reason)``; they never raise on any question text.

``parse_question`` tries, in order: a Kalshi title with its ``subtitle``
(``markets.questions.kalshi_titles``); the venue-title grammar below (Polymarket's title forms,
read by the venue's rules: reach/hit is a touch from below); the typed grammar
(``markets.questions.typed`` and ``moves``: relative dates against ``at`` as
``markets.questions.relative`` documents, neutral verbs such as "touch" leaving the direction to
the pricer, percent moves, liquidation totals). The first contract wins; when none parses, the
typed grammar's reason is given once it recognised the question's shape (a subject and a known
predicate), else the venue grammar's. ``Parsed.assumptions`` lists each convention used for
what the question did not state; a venue market read with its rules text has none.

Families (Polymarket titles, any asset of :data:`ASSETS`)
    - touch: "Will Bitcoin reach $X by <date>?", "... dip to $X in November?", "... hit $X
      November 24-30?", "... hit $X in 2025?" and the children of "What price will Bitcoin hit
      in 2025?"; a dip is a touch down, reach/hit a touch up; Binance 1-minute highs (up) or lows
      (down), continuous monitoring;
    - all-time high: "Bitcoin all time high by <date>?" is a touch up at the asset's running
      maximum before the window, which the title does not state: it needs ``ath_usd``;
    - terminal: "... above $X on <date>?" (``close_above``), "... less than $X ..."
      (``close_below``), "... greater than $X ..." (``close_above``; open-ended buckets, not
      ranges), "... between $A and $B on <date>?" (``range``, ``A <= price < B``: a price on a
      boundary belongs to the higher bucket, as the rules say); fixing at the 12:00 ET Binance
      1-minute candle unless the rules name another candle;
    - up/down: "Bitcoin Up or Down - January 10, 8:30PM-8:45PM ET" (a window crossing midnight ET
      ends the next day; windows of 15 minutes or less resolve on the Chainlink BTC/USD stream,
      end >= start; longer ones on the Binance candle of that length, close >= open), "... - <date>,
      8PM ET" (one hour) and "Bitcoin Up or Down on <date>?" (12:00 ET the day before to 12:00 ET
      on the date, Binance 1-minute closes, a tie resolves 50-50);
    - first of two barriers: "Will Bitcoin hit $80k or $150k first?" (``first_of``; YES is the
      upper barrier; ``neither_value`` 0.5 when neither is hit by the end);
    - Kalshi markets from ``strike_type``/``floor_strike``/``cap_strike``/``close_time`` (see
      ``markets.questions.kalshi``).

Times
    A rules text wins over the title: its explicit window ("between <ET time> and <ET time> in
    the ET timezone"), its fixing candles ("07 Mar '25 12:00") and its venue symbol. A date
    without a year is the first such date or window whose end is on or after the market's
    ``created_at``; else on or after its scheduled ``end_date`` less one day (``end_date`` lies
    on the deadline day, often at a nominal 00:00 or 12:00 UTC, so it is preferred to a price
    observation: a ladder listed on December 30 for "December 31" of the next year would read
    as the next day from its first observation); else on or after the reference time (the first
    price observation, the observation being priced, or ``--at``). The wall clock is never read.
    A window without a stated start starts at ``created_at`` (or the reference time); a period
    ("in November") starts at its first instant, or at ``created_at`` when the market was listed
    during the period.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

from levercast.features.errors import ConfigError
from levercast.features.timeutil import ET
from levercast.markets.questions.common import (
    ASSETS,
    AthLookup,
    ParseContext,
    Parsed,
    Unsupported,
    binance_resolution,
    finish,
    no_time,
    read_money,
)
from levercast.markets.questions.dates import (
    Window,
    et_time,
    parse_rules_fixings,
    parse_rules_window,
    parse_when,
)
from levercast.markets.questions.kalshi import parse_kalshi_market
from levercast.markets.questions.kalshi_titles import parse_kalshi_title
from levercast.markets.questions.reasons import non_price_reason
from levercast.markets.questions.title_notes import title_assumptions
from levercast.markets.questions.typed import parse_typed
from levercast.markets.questions.updown import first_of, up_down
from levercast.markets.questions.wording import TypedContext, asset_aliases
from levercast.markets.types import Venue, VenueMarket
from levercast.models.contracts import Kind

__all__ = ["ASSETS", "AthLookup", "Parsed", "Unsupported", "parse_market", "parse_question"]

_ASSET = r"(?P<asset>" + "|".join(sorted(ASSETS, key=len, reverse=True)) + r")(?:'s)?(?:\s+price)?"
_SUBJECT = r"^(?:will\s+)?(?:the\s+(?:price|value)\s+of\s+)?" + _ASSET
_MONEY = (
    r"(?P<{g}>\$\s?\d[\d,]*(?:\.\d+)?\s?(?:k|m|b|million|billion)?|\d+(?:\.\d+)?\s?(?:¢|cents?))"
)
_FIRST_OF = re.compile(
    _SUBJECT
    + r"\s+(?:hit|reach)\s+"
    + _MONEY.format(g="a")
    + r"\s+or\s+"
    + _MONEY.format(g="b")
    + r"\s+first(?:\s+(?P<when>.+))?$"
)
_TOUCH = re.compile(
    _SUBJECT + r"\s+(?P<verb>reach|hit|touch|surpass|exceed|break|rise to|climb to|go above|"
    r"dip to|dip below|fall to|drop to|sink to|crash to|go below)\s+"
    + _MONEY.format(g="a")
    + r"(?:\s+(?P<when>.+))?$"
)
_DOWN_VERBS: Final = frozenset(
    {"dip to", "dip below", "fall to", "drop to", "sink to", "crash to", "go below"}
)
_VERB_BE = r"\s+(?:be\s+|close\s+|finish\s+|end\s+|trade\s+)?"
_TERMINAL = re.compile(
    _SUBJECT
    + _VERB_BE
    + r"(?P<cmp>at or above|above|over|greater than|higher than|below|under|less than|lower than)"
    r"\s+" + _MONEY.format(g="a") + r"(?:\s+(?P<when>.+))?$"
)
_RANGE = re.compile(
    _SUBJECT
    + r"\s+(?:be\s+|close\s+|finish\s+|end\s+|trade\s+)?between\s+"
    + _MONEY.format(g="a")
    + r"\s*(?:and|-|to)\s*"
    + _MONEY.format(g="b")
    + r"(?:\s+(?P<when>.+))?$"
)
_ABOVE_WORDS: Final = frozenset({"at or above", "above", "over", "greater than", "higher than"})
_UP_DOWN = re.compile(r"^" + _ASSET + r"\s+up\s+or\s+down\s*(?:-\s*|on\s+)(?P<rest>.+)$")
_ATH = re.compile(
    _SUBJECT + r"(?:\s+(?:hit|reach|set|make|at|to))?\s+(?:an?\s+)?(?:new\s+)?"
    r"all[\s-]time[\s-]highs?(?:\s+\(ath\))?(?:\s+(?P<when>.+))?$"
)


def parse_question(
    title: str,
    *,
    rules: str | None = None,
    created_at: datetime | None = None,
    end_date: datetime | None = None,
    at: datetime | None = None,
    outcomes: tuple[str, ...] | None = None,
    ath_usd: AthLookup | None = None,
    subtitle: str | None = None,
    assets: Iterable[str] | None = None,
) -> Parsed | Unsupported:
    """Parse a question (a venue title, a Kalshi title with its subtitle, or words a trader
    typed) into a contract.

    Parameters
    ----------
    title
        The question, e.g. ``"Will Bitcoin dip to $80,000 in January?"``, ``"Will BTC touch
        $60k this week?"``, ``"Bitcoin price on Aug 28, 2026 at 5pm EDT?"``.
    rules
        The market's rules text, when known (it wins over the title on times and symbols).
    created_at, end_date
        The market's listing time and scheduled end (tz-aware), when known.
    at
        The time the question is asked: relative dates ("this week", "tomorrow", "in the next
        24 hours") are read against it; it is also the reference for dates without a year when
        neither ``created_at`` nor ``end_date`` is given, and the window start of a deadline
        when ``created_at`` is unknown. The wall clock is never read.
    outcomes
        The venue's outcome labels (e.g. ``("90k", "100k")``); None for a bare title.
    ath_usd
        All-time-high lookup, needed only by all-time-high questions.
    subtitle
        A Kalshi market's subtitle, which holds its strike: ``"$97,250 or above"``,
        ``"$97,000 to 97,249.99"``, ``"$96,999.99 or below"``.
    assets
        Tickers beyond the built-in names (BTC/Bitcoin/XBT, ETH/Ethereum/Ether, SOL, XRP,
        DOGE, ...), typically the store's assets.

    Returns
    -------
    Parsed or Unsupported
        ``Parsed.assumptions`` names each convention used for what the question did not state.
        Never raises on any question text: what is not understood is ``Unsupported`` with a
        reason naming the words.

    Raises
    ------
    ConfigError
        A naive ``at``/``created_at``/``end_date``, or ``assets`` holding a non-ticker.
    """
    for name, value in (("at", at), ("created_at", created_at), ("end_date", end_date)):
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ConfigError(f"{name} must be tz-aware (UTC); found naive {value.isoformat()!r}")
    aliases = asset_aliases(assets)
    ctx = ParseContext(rules or "", outcomes, created_at, end_date, at, ath_usd)
    try:
        return _parse_any(title, ctx, subtitle, aliases)
    except (ConfigError, ValueError, OverflowError) as e:
        return Unsupported(f"invalid contract: {e}")


def _parse_any(
    title: str, ctx: ParseContext, subtitle: str | None, aliases: dict[str, str]
) -> Parsed | Unsupported:
    """Kalshi title, else the venue-title grammar, else the typed grammar (whose reason wins
    once it has recognised the question's shape)."""
    if not isinstance(title, str) or not title.strip():
        return Unsupported("empty question")
    if len(title) > _MAX_CHARS:
        return Unsupported(f"question too long ({len(title)} characters; at most {_MAX_CHARS})")
    tctx = TypedContext(ctx.reference or ctx.created_at, aliases, ctx)
    kalshi = parse_kalshi_title(title, subtitle, tctx)
    if kalshi is not None:
        return kalshi
    venue = _parse_text(title, ctx)
    if isinstance(venue, Parsed):
        notes = title_assumptions(venue.contract, title, ctx)
        if subtitle:
            notes += (f"subtitle {subtitle!r} ignored: the title states its own level",)
        return replace(venue, assumptions=notes)
    typed = parse_typed(title, tctx)
    if typed is None:
        return venue
    if tctx.now is None and not venue.reason.startswith(_GENERIC_REASONS):
        return venue  # no time asked: the venue grammar's own reason is as specific
    if (
        isinstance(typed, Unsupported)
        and typed.reason.startswith("unknown asset")
        and venue.reason.startswith("not a price question: it asks about")
    ):
        return venue  # "Will MicroStrategy hold ...": the topic says more than the subject
    if isinstance(typed, Parsed) and subtitle:
        note = f"subtitle {subtitle!r} ignored: the question states its own level"
        return replace(typed, assumptions=(*typed.assumptions, note))
    return typed


def parse_market(
    market: VenueMarket,
    *,
    reference_time: datetime | None = None,
    ath_usd: AthLookup | None = None,
) -> Parsed | Unsupported:
    """Parse a venue market (Polymarket question or Kalshi strike fields) into a contract.

    Parameters
    ----------
    market
        The venue market.
    reference_time
        Fallback reference for dates without a year and for the window start when the market
        has no ``created_at``: its first price observation (``parse --data``) or the observation
        being priced (``evaluate``).
    ath_usd
        All-time-high lookup for all-time-high questions.
    """
    ctx = ParseContext(
        market.rules or "",
        tuple(market.outcomes) or None,
        market.created_at,
        market.end_date,
        reference_time,
        ath_usd,
    )
    try:
        if market.venue == Venue.KALSHI:
            found = parse_kalshi_market(market, start=ctx.listing)
            if isinstance(found, str):
                return Unsupported(found)
            return Parsed(found, "Yes")
        return _parse_text(market.question, ctx)
    except (ConfigError, ValueError, OverflowError) as e:
        return Unsupported(f"invalid contract: {e}")


_MAX_CHARS: Final = 500
_GENERIC_REASONS: Final = ("not a price question", "unrecognised price question")


# -- grammar ----------------------------------------------------------------------------------
def _normalise(title: str) -> str:
    text = title.replace("’", "'").replace("–", "-").replace("—", "-").replace("\u00a0", " ")
    text = text.split("?")[0]
    return " ".join(text.split()).lower()


def _parse_text(title: str, ctx: ParseContext) -> Parsed | Unsupported:
    if not isinstance(title, str) or not title.strip():
        return Unsupported("empty question")
    text = _normalise(title)
    if m := _UP_DOWN.match(text):
        return up_down(m, ctx)
    if m := _FIRST_OF.match(text):
        return first_of(m, ctx)
    if m := _ATH.match(text):
        return _ath(m, ctx)
    if m := _RANGE.match(text):
        return _terminal(m, ctx, Kind.RANGE)
    if m := _TERMINAL.match(text):
        kind = Kind.CLOSE_ABOVE if m["cmp"] in _ABOVE_WORDS else Kind.CLOSE_BELOW
        return _terminal(m, ctx, kind)
    if m := _TOUCH.match(text):
        return _touch(m, ctx)
    return Unsupported(non_price_reason(text))


def _touch(m: re.Match[str], ctx: ParseContext) -> Parsed | Unsupported:
    asset, strike = ASSETS[m["asset"]], read_money(m["a"])
    if strike is None:
        return Unsupported(f"unreadable strike {m['a']!r}")
    window = _touch_window(m["when"], ctx)
    if isinstance(window, Unsupported):
        return window
    # "touch" names no side (the pricer picks one from the spot); venue titles say reach/dip.
    direction = None if m["verb"] == "touch" else "down" if m["verb"] in _DOWN_VERBS else "up"
    return finish(
        {
            "kind": Kind.TOUCH,
            "asset": asset,
            "start": window.start,
            "end": window.end,
            "direction": direction,
            "strike_usd": strike,
            "resolution": binance_resolution(asset, "low" if direction == "down" else "high", ctx),
        },
        ctx,
    )


def _touch_window(when: str | None, ctx: ParseContext) -> Window | Unsupported:
    """Window of a continuously watched question: rules window, else the title's, with the
    listing time as start when the title states only a deadline."""
    if not when:
        return no_time(when)
    window = parse_when(when, reference=ctx.year_reference)
    if window is None:
        return no_time(when)
    if window.fixing:  # "hit $X on March 7": that whole ET day
        day = window.end.astimezone(ET).date()
        nxt = day + timedelta(days=1)
        window = Window(
            et_time(day.year, day.month, day.day), et_time(nxt.year, nxt.month, nxt.day)
        )
    stated = parse_rules_window(ctx.rules)
    if stated is not None:
        return stated
    start = window.start
    if start is None:
        start = ctx.listing
    elif ctx.created_at is not None and ctx.created_at > start:
        start = ctx.created_at
    return Window(start, window.end)  # type: ignore[arg-type]  # start None -> finish refuses


def _ath(m: re.Match[str], ctx: ParseContext) -> Parsed | Unsupported:
    asset = ASSETS[m["asset"]]
    window = _touch_window(m["when"], ctx)
    if isinstance(window, Unsupported):
        return window
    if window.start is None:
        return finish({"start": None}, ctx)
    strike = ctx.ath_usd(asset, window.start) if ctx.ath_usd is not None else None
    if strike is None or not strike > 0:
        return Unsupported(
            f"all-time-high question: the strike is {asset}'s running maximum before the window, "
            "which the title does not state (needs price history: parse --data)"
        )
    return finish(
        {
            "kind": Kind.TOUCH,
            "asset": asset,
            "start": window.start,
            "end": window.end,
            "direction": "up",
            "strike_usd": float(strike),
            "resolution": binance_resolution(asset, "high", ctx),
        },
        ctx,
    )


def _terminal(m: re.Match[str], ctx: ParseContext, kind: Kind) -> Parsed | Unsupported:
    asset = ASSETS[m["asset"]]
    strikes = [read_money(m["a"]), read_money(m["b"]) if kind is Kind.RANGE else None]
    if strikes[0] is None or (kind is Kind.RANGE and strikes[1] is None):
        return Unsupported(f"unreadable strike in {m.group(0)!r}")
    when = m["when"]
    window = parse_when(when, reference=ctx.year_reference) if when else None
    if window is None or not window.fixing:
        if window is not None:
            return Unsupported(
                f"a close {kind.value} question needs a fixing 'on <date>'; found {when!r}"
            )
        return no_time(when)
    fixings = parse_rules_fixings(ctx.rules)
    end = fixings[-1] if fixings else window.end
    fields: dict[str, Any] = {
        "kind": kind,
        "asset": asset,
        "start": ctx.listing,
        "end": end,
        "resolution": binance_resolution(asset, "close", ctx),
    }
    if kind is Kind.RANGE:
        fields["lower_usd"], fields["upper_usd"] = sorted(strikes)  # type: ignore[type-var]
    else:
        fields["strike_usd"] = strikes[0]
    return finish(fields, ctx)
