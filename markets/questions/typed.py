"""Price questions as traders type them: touch, above/below at a time, between, first-of.

``parse_typed(text, tctx)`` reads questions such as "Will Bitcoin's price touch $60,000 before
the end of the week?", "BTC above $100k on Friday?", "Will ETH drop below $2,000 in the next 3
days?", "Will BTC hit $150k before $80k this year?" and hands percent moves and liquidation
questions to ``markets.questions.moves``. It returns None when the text is not shaped like a
typed question (the caller then gives the venue grammar's reason).

Readings (each one used is listed in ``Parsed.assumptions``)
    - touch ("touch/hit/reach/tag/cross/see $X", "rise to/break above/exceed $X" up, "dip to/fall
      to/drop below $X" down): any Binance ``<ASSET>USDT`` 1-minute high (up) or low (down)
      reaching the level in the window, continuous monitoring. A verb that names no side
      ("touch", "hit", "reach") leaves ``direction`` null: the pricer takes up when the level is
      above the price at the window start, down when below (INTERFACE.md §3). A question in a
      Polymarket title form is read by ``markets.questions.parser`` first, where reach/hit is up.
    - terminal ("above/below/over/under $X", "close/settle/finish above $X"): the Binance 1-minute
      close at the fixing; "between $A and $B" is ``lower <= price < upper``. A span ("this week")
      is refused for these: at its end, or at any time in it? "trade above $X this week" and
      "be above $X at any point this week" are touches.
    - "$A or $B first": ``first_of`` (YES = the upper barrier, 50-50 when neither by the end, as
      Polymarket rules); "hit $A before $B" with A above B: ``first_of`` whose YES is "Yes" and
      worth 0 when neither is hit; with A below B it asks for the lower barrier first, which no
      contract kind names, so it is unsupported.
    - "stay/remain/hold above $X" (never below) and "between ... all week" are the complement of
      a touch: unsupported.
"""

from __future__ import annotations

import re

from levercast.markets.questions.common import Parsed, Unsupported, binance_resolution
from levercast.markets.questions.moves import parse_liquidations, parse_move
from levercast.markets.questions.numbers import PERCENT, read_price
from levercast.markets.questions.periods import When
from levercast.markets.questions.predicates import (
    ABOVE,
    ATH,
    ATH_PREDICATE,
    BARE_LEVEL,
    BEFORE,
    DAY_CLOSE,
    DOWN_VERBS,
    FIRST_OF,
    LIQUIDATION,
    MULTIPLE,
    MULTIPLY,
    NEGATION,
    OR_MORE,
    PATH_VERBS,
    PERIOD_CLOSE,
    RANGE,
    STAY_VERBS,
    TERMINAL,
    TOUCH,
    UP_OR_DOWN,
    UP_VERBS,
    VAGUE_VERB,
    WHICH_FIRST,
)
from levercast.markets.questions.races import race
from levercast.markets.questions.wording import (
    TypedContext,
    contract_or_reason,
    normalise_typed,
    split_subject,
    strip_modifiers,
    when_of,
)
from levercast.models.contracts import Kind

__all__ = ["parse_typed"]


def parse_typed(text: str, tctx: TypedContext) -> Parsed | Unsupported | None:
    """Read a typed question; None when it is not shaped like one (no number, or no subject
    followed by a known predicate).

    Parameters
    ----------
    text
        The question as typed.
    tctx
        The time asked, the asset names and the venue context.
    """
    norm = normalise_typed(text)
    if ATH.search(norm):
        return _all_time_high(norm, tctx)
    if not re.search(r"[0-9]", norm):
        return _without_number(norm, tctx)
    if LIQUIDATION.search(norm):
        return parse_liquidations(norm, tctx)
    if m := WHICH_FIRST.match(norm):
        asset = tctx.asset(m["asset"])
        if asset is None:
            return tctx.unknown_asset(m["asset"])
        return race(m, asset, tctx, upper_first=None)
    split = split_subject(norm)
    if split is None:
        return None
    word, predicate = split
    predicate, any_time = strip_modifiers(predicate)
    if re.search(PERCENT, predicate):
        return parse_move(word, predicate, any_time, tctx)
    verbless_race = FIRST_OF.match(predicate) is not None  # "$80k or $150k first" needs none
    if tctx.asset(word) is not None and not verbless_race and (refused := _refusal(predicate)):
        return refused
    for pattern, read in (
        (FIRST_OF, _first_of),
        (BEFORE, _before),
        (PERIOD_CLOSE, _period_close),
        (DAY_CLOSE, _day_close),
        (RANGE, _range),
        (OR_MORE, _terminal),
        (TERMINAL, _terminal),
        (TOUCH, _touch),
    ):
        m = pattern.match(predicate)
        if m is not None:
            asset = tctx.asset(word)
            if asset is None:
                return tctx.unknown_asset(word)
            return read(m, asset, any_time, tctx)
    return None


def _refusal(predicate: str) -> Unsupported | None:
    """The reason a predicate with a number is ambiguous, or None: a negation, a multiple
    ("2x"), a verb that does not say touch or fixing ("hold $60k"), a level without a verb."""
    if negated := NEGATION.match(predicate):
        return Unsupported(
            f"a negated question ('{negated.group(0).strip()} ...'): ask the positive question "
            "and take 1 - p"
        )
    if MULTIPLE.search(predicate):
        return Unsupported(
            f"a multiple in {predicate!r}: say it as a percent ('rise 100%' for 2x), at the end "
            "of the window or at any point"
        )
    if vague := VAGUE_VERB.match(predicate):
        return Unsupported(
            f"'{vague['verb']}' a level is ambiguous: stay above it all along, be above it at "
            "one time ('above ... on Friday'), or touch it at any time ('hit')?"
        )
    if BARE_LEVEL.match(predicate):
        return Unsupported(
            f"no verb in {predicate!r}: touch the level at any time ('hit'), or be above/below "
            "it at one time ('above ... on Friday')?"
        )
    return None


def _without_number(norm: str, tctx: TypedContext) -> Unsupported | None:
    """A reason for "Will Bitcoin go up tomorrow?" (no level, no percent), else None."""
    split = split_subject(norm)
    if split is None or tctx.asset(split[0]) is None:
        return None
    if MULTIPLY.match(split[1]):
        return Unsupported(
            f"{split[1]!r}: say the multiple as a percent ('rise 100%' for double), at the end "
            "of the window or at any point"
        )
    if UP_OR_DOWN.match(split[1]):
        return Unsupported(
            f"{split[1]!r} names no price level or percent: up from which price, and when? "
            "(ask 'Bitcoin Up or Down on <date>' for a daily market, or a percent: 'rise 5% "
            "tomorrow')"
        )
    return None


def _all_time_high(norm: str, tctx: TypedContext) -> Parsed | Unsupported | None:
    """ "Will BTC hit a new all-time high this week?": a touch up at the running maximum known
    at the window start (needs the caller's ``ath_usd`` lookup)."""
    split = split_subject(norm)
    if split is None:
        return None
    word, predicate = split
    m = ATH_PREDICATE.match(strip_modifiers(predicate)[0])
    if m is None:
        return None
    asset = tctx.asset(word)
    if asset is None:
        return tctx.unknown_asset(word)
    when = when_of(m["rest"], "window", tctx)
    if isinstance(when, Unsupported):
        return when
    lookup = tctx.ctx.ath_usd
    strike = lookup(asset, when.start) if lookup is not None else None
    if strike is None or not strike > 0:
        return Unsupported(
            f"all-time-high question: the level is {asset}'s running maximum before the window, "
            "which the question does not state (needs price history: parse --data)"
        )
    fields, notes = _touch_fields(asset, float(strike), "up", when, tctx)
    notes.append(f"the all-time high known at the window start: ${float(strike):,.2f}")
    return contract_or_reason(fields, "Yes", notes)


# -- readings -----------------------------------------------------------------------------------
def _is_above(cmp: str) -> bool:
    return cmp in ABOVE.split("|") or cmp in ("higher", "above", "more")


def _direction(verb: str, side: str | None) -> str | None:
    if side is not None:
        return "up" if side.split()[-1] in ("higher", "above", "more") else "down"
    if re.fullmatch(UP_VERBS, verb):
        return "up"
    if re.fullmatch(DOWN_VERBS, verb):
        return "down"
    return None


def _touch_fields(
    asset: str, strike: float, direction: str | None, when: When, tctx: TypedContext
) -> tuple[dict[str, object], list[str]]:
    price = "low" if direction == "down" else "high"
    symbol = f"{asset}USDT"
    notes = list(when.assumptions)
    level = f"${strike:,.2f}".replace(".00", "")
    if direction is None:
        notes.append(
            f"the wording names no side: direction is left null; the pricer takes up when {level} "
            "is above the price at the window start, down when below"
        )
        notes.append(
            f"a touch is any Binance {symbol} 1-minute high (up) or low (down) reaching {level} "
            "in the window (continuous)"
        )
    else:
        notes.append(
            f"a touch is any Binance {symbol} 1-minute {price} at or "
            f"{'above' if direction == 'up' else 'below'} {level} in the window (continuous), "
            "as Polymarket's hit/dip rules"
        )
    fields: dict[str, object] = {
        "kind": Kind.TOUCH,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "direction": direction,
        "strike_usd": strike,
        "resolution": binance_resolution(asset, price, tctx.ctx),
    }
    return fields, notes


def _touch(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    strike = read_price(m["a"])
    if strike is None:
        return Unsupported(f"unreadable price {m['a']!r}")
    when = when_of(m["rest"], "window", tctx)
    if isinstance(when, Unsupported):
        return when
    fields, notes = _touch_fields(asset, strike, _direction(m["verb"], m["side"]), when, tctx)
    return contract_or_reason(fields, "Yes", notes)


def _terminal(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    verb, cmp = m["verb"] or "", m["cmp"]
    strike = read_price(m["a"])
    if strike is None:
        return Unsupported(f"unreadable price {m['a']!r}")
    above = _is_above(cmp)
    if verb in STAY_VERBS:
        return Unsupported(
            f"'{verb} {cmp}' asks that the price never crosses the level: the complement of a "
            "touch, which no contract kind names (ask whether it will touch the level instead)"
        )
    if any_time or verb in PATH_VERBS:
        when = when_of(m["rest"], "fixing", tctx) if not any_time else None
        if isinstance(when, When):  # "trade above $X on Friday": a price at that fixing
            return _terminal_contract(asset, strike, above, when, tctx)
        window = when_of(m["rest"], "window", tctx)
        if isinstance(window, Unsupported):
            return window
        fields, notes = _touch_fields(asset, strike, "up" if above else "down", window, tctx)
        notes.append(f"'{(verb + ' ' + cmp).strip()}' over a span is read as a touch")
        return contract_or_reason(fields, "Yes", notes)
    when = when_of(m["rest"], "fixing", tctx)
    if isinstance(when, Unsupported):
        return when
    return _terminal_contract(asset, strike, above, when, tctx)


def _terminal_contract(
    asset: str, strike: float, above: bool, when: When, tctx: TypedContext
) -> Parsed | Unsupported:
    fields: dict[str, object] = {
        "kind": Kind.CLOSE_ABOVE if above else Kind.CLOSE_BELOW,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "strike_usd": strike,
        "resolution": binance_resolution(asset, "close", tctx.ctx),
    }
    notes = [
        *when.assumptions,
        f"the price is the Binance {asset}USDT 1-minute candle close at the fixing "
        "(as Polymarket's 'above ___ on <date>' markets)",
    ]
    return contract_or_reason(fields, "Yes", notes)


def _period_close(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    """ "close the week above $X": the price at the end of that period."""
    strike = read_price(m["a"])
    if strike is None:
        return Unsupported(f"unreadable price {m['a']!r}")
    period = m["period"].split()[-1]
    when = when_of(f"at the end of the {period}", "fixing", tctx)
    if isinstance(when, Unsupported):
        return when
    return _terminal_contract(asset, strike, _is_above(m["cmp"]), when, tctx)


def _day_close(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    """ "close Friday above $95k": the price at that day's fixing."""
    strike = read_price(m["a"])
    if strike is None:
        return Unsupported(f"unreadable price {m['a']!r}")
    when = when_of(f"on {m['day']}{m['rest']}", "fixing", tctx)
    if isinstance(when, Unsupported):
        return when
    return _terminal_contract(asset, strike, _is_above(m["cmp"]), when, tctx)


def _range(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    verb = m["verb"] or ""
    a, b = read_price(m["a"]), read_price(m["b"])
    if a is None or b is None or a == b:
        return Unsupported(f"a range needs two distinct prices; found {m['a']!r} and {m['b']!r}")
    when = when_of(m["rest"], "fixing", tctx)
    if verb in STAY_VERBS or any_time or (verb in PATH_VERBS and isinstance(when, Unsupported)):
        return Unsupported(
            f"'{verb or 'be'} between' over a span asks that the price never leaves the range "
            "(or enters it at some time), which no contract kind names; ask for the price at one "
            "time ('on Friday', 'at the end of the week')"
        )
    if isinstance(when, Unsupported):
        return when
    lower, upper = sorted((a, b))
    fields: dict[str, object] = {
        "kind": Kind.RANGE,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "lower_usd": lower,
        "upper_usd": upper,
        "resolution": binance_resolution(asset, "close", tctx.ctx),
    }
    notes = [
        *when.assumptions,
        f"the price is the Binance {asset}USDT 1-minute candle close at the fixing",
        "a range includes its lower bound and excludes its upper bound (lower <= price < upper)",
    ]
    return contract_or_reason(fields, "Yes", notes)


def _first_of(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    return race(m, asset, tctx, upper_first=None)


def _before(
    m: re.Match[str], asset: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported:
    return race(m, asset, tctx, upper_first=True)
