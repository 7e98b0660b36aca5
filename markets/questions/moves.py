"""Percent moves and liquidation totals as traders type them.

Moves ("Will ETH experience a price swing of more than 5% in the next 24 hours?", "Will BTC
drop 10% this week?", "Will SOL move more than 8% either way by Friday?") are ``move``
contracts: ``threshold`` is the fraction (0.05 for 5%), ``direction`` null for either way.
    - A "swing" (or "fluctuate", "spike", "drawdown", or any move "at any point"/"intraday") is
      an excursion from the start price at any time in the window: continuous monitoring on
      Binance 1-minute highs and lows. Other verbs ("move", "rise", "drop", "be up") are read
      close-to-close: the price at the window end against the price at its start (terminal).
      The reading used is named in the assumptions; "more than" and "at least" are the same
      event for a continuous price.
    - "less than X%" (no move) is the complement of a move, which no contract kind names.

Liquidations ("Will total crypto long liquidations exceed $500M tomorrow?", "Will more than $1B
of shorts be liquidated this week?") are ``liquidations_above`` contracts: ``threshold`` in
USD, ``side`` long/short/total (total when no side is named), asset the named one or ``ALL``
(every asset the store has liquidations for) for "crypto", "the market" or no asset. The total
is summed over the venues of the store in hourly buckets (resolution ``coinglass``, the
aggregate Polymarket's liquidation markets cite, METHODS.md §2.4).
"""

from __future__ import annotations

import re
from typing import Final

from levercast.markets.questions.common import Parsed, Unsupported
from levercast.markets.questions.numbers import MONEY, PERCENT, read_percent, read_price
from levercast.markets.questions.wording import TypedContext, contract_or_reason, when_of
from levercast.models.contracts import Kind, Monitoring, Resolution

__all__ = ["parse_liquidations", "parse_move"]

_UP: Final = frozenset(
    {
        "rise", "gain", "go up", "climb", "jump", "pump", "rally", "surge", "increase",
        "appreciate", "soar", "spike", "rebound", "bounce", "up", "higher",
    }
)  # fmt: skip
_DOWN: Final = frozenset(
    {
        "fall", "drop", "lose", "go down", "decline", "dump", "crash", "sink", "plunge",
        "decrease", "tumble", "dip", "slide", "slip", "correct", "retrace", "drawdown",
        "selloff", "sell-off", "correction", "down", "lower",
    }
)  # fmt: skip
_CONTINUOUS: Final = frozenset({"swing", "fluctuate", "fluctuation", "spike", "drawdown"})
_NOUN = (
    r"(?P<noun>price\s+swing|swing|price\s+move|move|movement|price\s+change|change|jump|drop|"
    r"fall|rise|gain|pump|dump|crash|rally|decline|surge|spike|plunge|drawdown|increase|"
    r"decrease|sell-?off|correction|rebound|bounce|fluctuation)s?"
)
_VERB = (
    r"(?P<verb>swing|move|change|fluctuate|rise|gain|go\s+up|climb|jump|pump|rally|surge|"
    r"increase|appreciate|soar|spike|fall|drop|lose|go\s+down|decline|dump|crash|sink|plunge|"
    r"decrease|tumble|dip|slide|slip|correct|retrace|rebound|bounce)"
)
_QUAL = (
    r"(?:(?P<q>more\s+than|over|at\s+least|greater\s+than|above|in\s+excess\s+of|upwards\s+of|"
    r"by\s+more\s+than|by\s+at\s+least|by\s+over|by|less\s+than|under|at\s+most|below|"
    r"fewer\s+than|by\s+less\s+than|no\s+more\s+than|within)\s+)?"
)
_PCT = r"(?P<pct>" + PERCENT + r")(?:\s*(?:\+|or\s+more))?"
_TAIL = (
    r"(?:\s+(?P<tail>in\s+either\s+direction|either\s+way|in\s+either\s+way|either\s+up\s+or\s+"
    r"down|up\s+or\s+down|in\s+one\s+direction|up|down|higher|lower|in\s+value|in\s+price))?"
)
_ADJ = r"(?:(?:price|big|sharp|sudden|large|total|net)\s+)*"
_PER_PERIOD = re.compile(
    r"\b(?:daily|hourly|weekly|monthly|single[\s-]day|one[\s-]day|single[\s-]hour|"
    r"one[\s-]hour|single)\s+(?:price\s+)?(?:swing|move|movement|change|jump|drop|fall|rise|"
    r"gain|pump|dump|crash|rally|decline|surge|spike|plunge|candle)"
)
_SEE = (
    r"(?:experience|see|have|make|post|record|undergo|show|get|suffer|log|print|hit|reach|"
    r"notch)\s+(?:a|an|any)\s+"
)
_MOVES: Final = (
    re.compile(
        r"^" + _SEE + _ADJ + _NOUN + r"\s+(?:of\s+)?" + _QUAL + _PCT + _TAIL + r"(?P<rest>.*)$"
    ),
    re.compile(r"^" + _SEE + _QUAL + _PCT + r"\s+" + _ADJ + _NOUN + _TAIL + r"(?P<rest>.*)$"),
    re.compile(
        r"^"
        + _VERB
        + r"(?:\s+(?P<way>up|down|higher|lower))?\s+"
        + _QUAL
        + _PCT
        + _TAIL
        + r"(?P<rest>.*)$"
    ),
    re.compile(
        r"^(?P<verb>be|close|end|finish|trade|settle)\s+(?P<way>up|down|higher|lower)\s+"
        + _QUAL
        + _PCT
        + _TAIL
        + r"(?P<rest>.*)$"
    ),
)
_NEGATIVE: Final = frozenset(
    {
        "less than",
        "under",
        "at most",
        "below",
        "fewer than",
        "by less than",
        "no more than",
        "within",
    }
)


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


def parse_move(
    word: str, predicate: str, any_time: bool, tctx: TypedContext
) -> Parsed | Unsupported | None:
    """A percent-move predicate ("swing more than 5% in the next 24 hours") of subject ``word``,
    or None when the predicate is not a move."""
    if (per := _PER_PERIOD.search(predicate)) is not None:
        return Unsupported(
            f"'{per.group(0)}' asks about any one period's move inside the window, which no "
            "contract kind names (ask for the move over the whole window)"
        )
    for pattern in _MOVES:
        m = pattern.match(predicate)
        if m is not None:
            break
    else:
        return None
    asset = tctx.asset(word)
    if asset is None:
        return tctx.unknown_asset(word)
    qualifier = _words(m["q"])
    if qualifier in _NEGATIVE:
        return Unsupported(
            f"'{qualifier} {m['pct']}' asks that the price does not move that much: the "
            "complement of a move, which no contract kind names (ask for the move itself)"
        )
    threshold = read_percent(m["pct"])
    if threshold is None:
        return Unsupported(f"unreadable percent {m['pct']!r}")
    groups = m.groupdict()
    action = _words(groups.get("noun") or groups.get("verb")).removeprefix("price ")
    direction = _move_direction(action, _words(groups.get("way")), _words(m["tail"]))
    if isinstance(direction, Unsupported):
        return direction
    when = when_of(m["rest"], "window", tctx)
    if isinstance(when, Unsupported):
        return when
    continuous = any_time or action in _CONTINUOUS
    way = {"up": "up", "down": "down", None: "either way"}[direction]
    shown = f"{threshold:.2%}".replace(".00%", "%")
    if continuous:
        reading = (
            f"'{action}' of {shown} is read as an excursion of at least {shown} from the start "
            f"price at any time in the window ({way}), on Binance {asset}USDT 1-minute highs/lows "
            "(continuous)"
        )
    else:
        reading = (
            f"'{action}' {shown} is read close-to-close: the Binance {asset}USDT price at the "
            f"window end against its start, {way} (terminal); say 'at any point' for an "
            "intraday move"
        )
    fields: dict[str, object] = {
        "kind": Kind.MOVE,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "direction": direction,
        "threshold": threshold,
        "monitoring": Monitoring.CONTINUOUS if continuous else Monitoring.TERMINAL,
        "resolution": Resolution(price="close", symbol=f"{asset}USDT"),
    }
    notes = [*when.assumptions, reading]
    if direction is None:
        notes.append("no direction named: a move either way counts")
    return contract_or_reason(fields, "Yes", notes)


def _move_direction(action: str, way: str, tail: str) -> str | Unsupported | None:
    said = {
        "up" if w in _UP else "down" if w in _DOWN else None
        for w in (action, way, tail)
        if w and w not in ("in value", "in price")
    }
    either = tail in (
        "in either direction",
        "either way",
        "in either way",
        "either up or down",
        "up or down",
    )
    said.discard(None)
    if either and said:
        return Unsupported(f"conflicting directions: '{action}' and '{tail}'")
    if len(said) > 1:
        return Unsupported(f"conflicting directions in '{action} {way} {tail}'".replace("  ", " "))
    if tail == "in one direction":
        return Unsupported("'in one direction' does not say which: up or down?")
    return said.pop() if said else None


# -- liquidations -------------------------------------------------------------------------------
_SIDE = (
    r"(?P<side>longs?\s+and\s+shorts?|shorts?\s+and\s+longs?|longs?\s+or\s+shorts?|"
    r"shorts?\s+or\s+longs?|long|short|longs|shorts|total|all)"
)
_SCOPE = r"(?P<scope>(?:all\s+)?crypto(?:currency)?|(?:the\s+)?market(?:-wide)?|[a-z][a-z0-9]*)"
_LIQ_VERB = (
    r"(?P<verb>exceed|top|surpass|pass|cross|hit|reach|break|be\s+above|be\s+over|"
    r"be\s+more\s+than|be\s+greater\s+than|be\s+higher\s+than|be\s+at\s+least|go\s+above|"
    r"go\s+over|surge\s+past|surge\s+above|surge\s+over|climb\s+past|climb\s+above|"
    r"total\s+more\s+than|total\s+over|total\s+at\s+least|come\s+in\s+above|"
    r"amount\s+to\s+more\s+than|be\s+below|be\s+under|be\s+less\s+than|stay\s+below|"
    r"stay\s+under|remain\s+below|total\s+less\s+than|be\s+lower\s+than)"
)
_QUALIFIER = (
    r"(?:\s+(?P<prep>on|of|for|in|across)\s+(?P<qual>(?:all\s+)?(?:the\s+)?[a-z][a-z0-9-]*"
    r"(?:\s+(?:exchanges|venues|coins|assets|markets))?))?(?=\s|$)"
)
_LIQ_SUBJECT = re.compile(
    r"^(?:(?:will|would|can|could|do|does|is|are)\s+)?(?:the\s+)?"
    r"(?:(?:total|aggregate|combined|overall|daily|cumulative|futures|perp|perpetual)\s+)*"
    r"(?:" + _SCOPE + r"\s+)??(?:(?:futures|perp|perpetual)\s+)?(?:" + _SIDE + r"\s+)?"
    r"(?:(?:position|futures)\s+)?(?:liquidations|liqs)"
    + _QUALIFIER
    + r"\s+"
    + _LIQ_VERB
    + r"\s+(?P<a>"
    + MONEY
    + r")(?P<rest>.*)$"
)
_LIQ_AMOUNT = re.compile(
    r"^(?:(?:will|would|can|could)\s+)?(?:there\s+be\s+)?(?P<q>more\s+than|over|at\s+least|"
    r"upwards\s+of|in\s+excess\s+of|less\s+than|under)?\s*(?P<a>" + MONEY + r")\s+"
    r"(?:of|in|worth\s+of)\s+(?:" + _SCOPE + r"\s+)??(?:" + _SIDE + r"\s+)?(?:positions\s+)?"
    r"(?:liquidations|(?:be|get|getting|being)\s+liquidated|liquidated)"
    + _QUALIFIER
    + r"(?P<rest>.*)$"
)
_LIQ_GET = re.compile(
    r"^(?:(?:will|would|can|could)\s+)?(?:(?P<scope>[a-z][a-z0-9]*|crypto)\s+)??"
    r"(?P<side>longs|shorts|long\s+positions|short\s+positions|traders|positions)\s+"
    r"(?:get|be)\s+liquidated\s+(?:for|by)\s+(?P<q>more\s+than|over|at\s+least|upwards\s+of|"
    r"in\s+excess\s+of|less\s+than|under)\s+(?P<a>" + MONEY + r")(?P<rest>.*)$"
)
_ALL_SCOPES: Final = frozenset(
    {
        "crypto",
        "cryptocurrency",
        "all crypto",
        "all cryptocurrency",
        "market",
        "the market",
        "market-wide",
        "the market-wide",
        "all",
        "total",
    }
)
_VENUE_WORDS: Final = re.compile(
    r"^(?:all\s+)?(?:the\s+)?(?:exchanges|venues|coins|assets|crypto|cryptocurrencies|markets?)$"
)


def parse_liquidations(norm: str, tctx: TypedContext) -> Parsed | Unsupported:
    """A liquidation-total question (normalised text)."""
    m = _LIQ_SUBJECT.match(norm) or _LIQ_AMOUNT.match(norm) or _LIQ_GET.match(norm)
    if m is None:
        return Unsupported(
            f"unrecognised liquidation question {norm!r} (e.g. 'Will BTC long liquidations "
            "exceed $500M tomorrow?')"
        )
    groups = m.groupdict()
    comparison = _words(groups.get("verb") or groups.get("q"))
    if re.search(r"below|under|less|lower", comparison):
        return Unsupported(
            f"liquidations '{comparison}' a level: only 'liquidations above $X' is a contract kind"
        )
    threshold = read_price(m["a"])
    if threshold is None:
        return Unsupported(f"unreadable amount {m['a']!r}")
    qualifier, rest = _words(groups.get("qual")), m["rest"]
    moved = m.re is not _LIQ_SUBJECT  # the qualifier follows "liquidated": maybe a time phrase
    if qualifier and moved and not _is_scope(qualifier, tctx):  # "liquidated on friday"
        qualifier, rest = "", f" {m['prep']} {qualifier}{rest}"
    asset = _liquidation_asset(_words(m["scope"]), qualifier, tctx)
    if isinstance(asset, Unsupported):
        return asset
    side_text = _words(m["side"]).replace("positions", "").replace("traders", "").strip()
    if " or " in side_text:
        return Unsupported(f"'{side_text}': long or short liquidations? (or 'total')")
    side = "long" if side_text.startswith("long") and " and " not in side_text else "total"
    if side_text.startswith("short") and " and " not in side_text:
        side = "short"
    when = when_of(rest, "window", tctx)
    if isinstance(when, Unsupported):
        return when
    scope = "every asset the store has liquidations for (asset ALL)" if asset == "ALL" else asset
    notes = [
        *when.assumptions,
        f"liquidations are summed over {scope} and every venue of the store, in hourly "
        "buckets (CoinGlass-style aggregate)",
        {
            "long": "long liquidations: long positions force-closed (side long)",
            "short": "short liquidations: short positions force-closed (side short)",
            "total": "no side named: long and short liquidations together (side total)",
        }[side],
        f"'{comparison or 'exceed'}': the total must be above ${threshold:,.0f}",
    ]
    fields: dict[str, object] = {
        "kind": Kind.LIQUIDATIONS_ABOVE,
        "asset": asset,
        "start": when.start,
        "end": when.end,
        "threshold": threshold,
        "side": side,
        "resolution": Resolution(source="coinglass", price="close", symbol=asset, interval="1h"),
    }
    return contract_or_reason(fields, "Yes", notes)


def _is_scope(text: str, tctx: TypedContext) -> bool:
    return (
        text in _ALL_SCOPES
        or _VENUE_WORDS.match(text) is not None
        or tctx.asset(text.removeprefix("the ")) is not None
    )


def _liquidation_asset(scope: str, qualifier: str, tctx: TypedContext) -> str | Unsupported:
    named: set[str] = set()
    for text in (scope, qualifier):
        if not text or text in _ALL_SCOPES or _VENUE_WORDS.match(text):
            continue
        asset = tctx.asset(text.removeprefix("the "))
        if asset is None:
            return Unsupported(
                f"unrecognised scope {text!r} of a liquidation question (an asset such as BTC, "
                "or 'crypto' for all assets; single exchanges are not separated)"
            )
        named.add(asset)
    if len(named) > 1:
        return Unsupported(f"liquidations of two assets {sorted(named)}: ask about one, or all")
    return named.pop() if named else "ALL"
