"""Races between two price levels: "$80k or $150k first", "hit $150k before $80k".

``race(m, asset, tctx, upper_first=...)`` builds the ``first_of`` contract of a matched typed
question (groups ``a``, ``b``, ``rest``):
    - "$A or $B first" (``upper_first=None``): YES is the upper barrier, labelled by its text
      ("150k"), and worth 0.5 when neither is hit by the end (Polymarket's rule);
    - "hit $A before $B" (``upper_first=True``) with A above B: YES is "Yes", worth 0 when
      neither is hit; with A below B the question asks for the lower barrier first, which no
      contract kind names, so it is unsupported.
Without a deadline the race is open-ended (``end`` null) and starts at the time asked.
"""

from __future__ import annotations

import re
from dataclasses import replace

from levercast.markets.questions.common import Parsed, Unsupported, binance_resolution
from levercast.markets.questions.numbers import read_price
from levercast.markets.questions.wording import TypedContext, contract_or_reason, when_of
from levercast.models.contracts import Kind

__all__ = ["race"]


def race(
    m: re.Match[str], asset: str, tctx: TypedContext, *, upper_first: bool | None
) -> Parsed | Unsupported:
    """The ``first_of`` contract of a race question, or the reason it has none."""
    a, b = read_price(m["a"]), read_price(m["b"])
    if upper_first and a is not None and b is not None and a < b:
        return Unsupported(
            f"'{m['a']} before {m['b']}' asks for the lower barrier first; a first-of contract "
            f"names the upper one (ask '{m['b']} before {m['a']}' and take 1 - p only when a "
            "barrier is sure to be hit)"
        )
    if a is None or b is None or a == b:
        return Unsupported(f"a race needs two distinct prices; found {m['a']!r} and {m['b']!r}")
    (lower, _), (upper, upper_text) = sorted([(a, m["a"]), (b, m["b"])])
    rest = m["rest"].strip(" ,")
    notes: list[str] = []
    end = None
    start = tctx.now
    if rest:
        when = when_of(rest, "window", tctx)
        if isinstance(when, Unsupported):
            return when
        start, end = when.start, when.end
        notes.extend(when.assumptions)
    elif start is None:
        return Unsupported("a race without a deadline starts at the time asked: pass at")
    else:
        notes.append("no deadline: the race runs until one barrier is hit")
    resolution = binance_resolution(asset, "close", tctx.ctx)
    if upper_first is None:  # "$A or $B first": Polymarket's rule, 50-50 when neither
        resolution = replace(resolution, neither_value=0.5)
        yes = upper_text.replace("$", "").strip()
        if end is not None:
            notes.append("neither barrier hit by the end resolves 50-50 (Polymarket's rule)")
    else:
        resolution = replace(resolution, neither_value=0.0)
        yes = "Yes"
        if end is not None:
            notes.append("neither barrier hit by the end is No")
    notes.append(
        f"the barriers are watched on Binance {asset}USDT 1-minute highs and lows (continuous)"
    )
    fields: dict[str, object] = {
        "kind": Kind.FIRST_OF,
        "asset": asset,
        "start": start,
        "end": end,
        "lower_usd": lower,
        "upper_usd": upper,
        "resolution": resolution,
    }
    return contract_or_reason(fields, yes, notes)
