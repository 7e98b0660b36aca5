"""Pricing the scanner's candidates: one ``ScanRow`` per market, flagged only when honest.

A row is flagged only when all of these hold (``ScanRow.flag``):

- its quote is fresh (at most ``max_quote_age`` old at the scan time; older: ``stale``);
- the event is still undecided at T: a touch (first_of barrier, move) already reached in the
  bars closed by T makes ``price_contract`` answer from the path (``decided``), and a contract
  whose window closed by T cannot be traded into (``decided``: "window already closed");
- the edge net of the venue's fees at T (``markets.fees.fees_for_market(market, at=T)``) and of
  the spread (the book walked for the size) clears ``min_edge`` with a positive Kelly stake at
  the pessimistic end of the forecast's band (``markets.odds.compare``: a shrunk Kelly).

Every row is kept either way, with ``why`` naming each reason it is not flagged.

With ``market_aware`` the base pricer is ``gbm`` (the committed prior's base) and each quoted,
undecided row's probability and band come from the market-aware fit at T
(``experiments.scanning.market_aware``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from levercast.experiments.scanning.candidates import Candidate, event_quote
from levercast.experiments.scanning.rows import KellyCaps, ScanRow, fallback_model

if TYPE_CHECKING:
    from levercast.markets.types import MarketQuote
    from levercast.models.pricing.price import Forecast

__all__ = [
    "CLOSED",
    "DECIDED",
    "Priced",
    "build_row",
    "closed_row",
    "count_reason",
]

DECIDED: Final = "event already decided at T (the path to date settles it)"
CLOSED: Final = "window already closed at T"


@dataclass(frozen=True, slots=True)
class Priced:
    """A candidate priced by the base model, before the row is built."""

    cand: Candidate
    parsed: Any
    forecast: Forecast
    quote: MarketQuote | None
    source: str

    @property
    def decided(self) -> bool:
        """Whether the path to date already settles the event."""
        return "path_to_date" in self.forecast.components


def _why(signal: Any, stale: bool, age: float | None, min_edge: float, source: str) -> list[str]:
    if signal is None:
        return [source]
    if signal.side is None:
        return ["quote cannot fill the order on either side"]
    price = signal.price_yes if signal.side == "yes" else signal.price_no
    notes = [
        f"buy {signal.side.upper()} at {price:.3f} + fee {signal.fee:.4f}: "
        f"edge {signal.edge:+.3f} after costs"
    ]
    if not signal.flag:
        notes.append(
            f"edge below {min_edge:g}" if signal.edge <= min_edge else "pessimistic Kelly is 0"
        )
    if stale and age is not None:
        notes.append(f"not flagged: stale quote ({age / 60:.0f} min old)")
    if source != "book":
        notes.append(f"quote: {source}")
    return notes


def build_row(
    priced: Priced,
    *,
    at: datetime,
    band: tuple[float, float, float] | None,
    model: str,
    min_edge: float,
    max_age_secs: float,
    caps: KellyCaps,
    size_shares: float,
) -> ScanRow:
    """The row of a priced candidate; ``band`` (prob, lo, hi) replaces the base forecast's."""
    from levercast.markets.fees import fees_for_market
    from levercast.markets.odds import compare

    cand, forecast, quote, source = priced.cand, priced.forecast, priced.quote, priced.source
    market = cand.market
    prob, lo, hi = band or (forecast.prob, forecast.prob_lo, forecast.prob_hi)
    prob = min(max(prob, 0.0), 1.0)
    lo, hi = min(max(lo, 0.0), prob), max(min(hi, 1.0), prob)
    signal = None
    if quote is not None:
        kwargs: dict[str, Any] = {
            "fees": fees_for_market(market, at=at),
            "margin": min_edge,
            "kelly_fraction_cap": caps.per_market,
            "at": at,
        }
        signal = compare(prob, lo, hi, quote, size=size_shares, **kwargs)
        if signal.side is None and quote.book is not None:
            signal = compare(prob, lo, hi, quote, size=1.0, **kwargs)
            source = f"{source}; book thinner than {size_shares:g} shares, priced at 1"
    age = None if signal is None else signal.quote_age_secs
    stale = bool(age is not None and age > max_age_secs)
    why = _why(signal, stale, age, min_edge, source)
    decided = DECIDED if priced.decided else None
    if decided:
        why.insert(0, f"not flagged: {decided}")
    if band is None and fallback_model(forecast.model, model) is not None:
        why.append(f"model fell back to {forecast.model}")
    usable = signal is not None and signal.flag and not stale and decided is None
    return ScanRow(
        venue=market.venue,
        market_id=market.market_id,
        question=market.question,
        contract=forecast.contract,
        yes_outcome=priced.parsed.yes_outcome or market.outcomes[0],
        model=model if band is not None else forecast.model,
        prob_model=prob,
        prob_lo=lo,
        prob_hi=hi,
        components=dict(forecast.components),
        prob_bid=None if quote is None else quote.prob_bid,
        prob_ask=None if quote is None else quote.prob_ask,
        quote_observed_at=None if quote is None else quote.observed_at,
        quote_source=source,
        signal=signal,
        kelly_fraction=signal.kelly_fraction if usable and signal is not None else 0.0,
        stale=stale,
        why="; ".join(why),
        decided=decided,
    )


def closed_row(
    cand: Candidate, parsed: Any, *, at: datetime, model: str, max_age: timedelta
) -> ScanRow:
    """A listed market whose contract window closed by T: never flagged, never priced."""
    yes = parsed.yes_outcome or cand.market.outcomes[0]
    quote, source = event_quote(cand, yes)
    end = parsed.contract.end
    age = None if quote is None else (at - quote.observed_at).total_seconds()
    why = f"not flagged: {CLOSED} (contract end {end:%Y-%m-%d %H:%M}Z)"
    return ScanRow(
        venue=cand.market.venue,
        market_id=cand.market.market_id,
        question=cand.market.question,
        contract=parsed.contract,
        yes_outcome=yes,
        model=model,
        prob_model=math.nan,
        prob_lo=math.nan,
        prob_hi=math.nan,
        components={},
        prob_bid=None if quote is None else quote.prob_bid,
        prob_ask=None if quote is None else quote.prob_ask,
        quote_observed_at=None if quote is None else quote.observed_at,
        quote_source=source,
        signal=None,
        kelly_fraction=0.0,
        stale=age is not None and age > max_age.total_seconds(),
        why=why,
        decided=CLOSED,
    )


def count_reason(unsupported: dict[str, int]) -> Callable[[str], None]:
    """A counter of not-priced reasons (first clause, 160 characters)."""

    def count(reason: str) -> None:
        key = reason.split(";")[0].strip()[:160]
        unsupported[key] = unsupported.get(key, 0) + 1

    return count
