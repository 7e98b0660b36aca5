"""Market odds against a model forecast: executable prices, spread, quote age and the edge.

Buying YES lifts the YES asks; buying NO is the mirror of selling YES into the YES bids (a NO
share at ``1 - bid``), as on both venues' books. ``compare`` prices both trades for a size by
walking the book (or at the top of the book when no depth is known), so the executable price
already holds the half-spread and any depth impact, and subtracts the taker fee:

    edge_yes = prob - price_yes - fee_yes          edge_no = (1 - prob) - price_no - fee_no

with fees per share. The stake is a fractional Kelly fraction computed at the pessimistic end of
the forecast interval (``prob_lo`` for YES, ``1 - prob_hi`` for NO), so a wide interval shrinks
it to zero: ``f = (q - c) / (1 - c)`` for a share costing ``c`` (price plus fee) that pays 1
with probability ``q``, times ``kelly_multiplier``, capped at ``kelly_fraction_cap``. A signal is
flagged only when the better edge exceeds ``margin`` (so it clears fees, spread and the margin)
and the pessimistic Kelly fraction is positive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from levercast.features.errors import ConfigError
from levercast.markets.fees import FeeModel
from levercast.markets.types import BookLevel, MarketQuote, OrderBook

__all__ = ["EdgeSignal", "Execution", "compare", "executable", "quote_age_secs", "walk_book"]


@dataclass(frozen=True, slots=True)
class Execution:
    """A taker order of ``size`` YES shares walked through one side of the book.

    ``fills`` are ``(price, shares)`` per level; ``average_price`` is None when nothing fills.
    """

    side: Literal["buy", "sell"]
    size: float
    fills: tuple[tuple[float, float], ...]

    @property
    def filled(self) -> float:
        """Shares filled."""
        return sum(size for _, size in self.fills)

    @property
    def complete(self) -> bool:
        """Whether the whole size fills."""
        return self.filled >= self.size * (1 - 1e-12)

    @property
    def average_price(self) -> float | None:
        """Size-weighted average fill price."""
        filled = self.filled
        if filled <= 0:
            return None
        return sum(price * size for price, size in self.fills) / filled


def walk_book(book: OrderBook, *, side: Literal["buy", "sell"], size: float) -> Execution:
    """Fill ``size`` YES shares against the asks (``buy``) or the bids (``sell``), best first.

    Raises
    ------
    ConfigError
        If ``side`` is not buy/sell or ``size`` is not positive.
    """
    if side not in ("buy", "sell"):
        raise ConfigError(f"side must be 'buy' or 'sell'; found {side!r}")
    if not size > 0:
        raise ConfigError(f"size must be a positive number of shares; found {size}")
    levels: tuple[BookLevel, ...] = book.asks if side == "buy" else book.bids
    fills: list[tuple[float, float]] = []
    left = size
    for level in levels:
        if left <= 0:
            break
        take = min(left, level.size)
        if take > 0:
            fills.append((level.price, take))
            left -= take
    return Execution(side, size, tuple(fills))


def executable(quote: MarketQuote, *, side: Literal["buy", "sell"], size: float) -> Execution:
    """Walk the quote's book when it has one, else fill the whole size at the best price (depth
    unknown); an empty side gives an empty execution."""
    if quote.book is not None:
        return walk_book(quote.book, side=side, size=size)
    if not size > 0:
        raise ConfigError(f"size must be a positive number of shares; found {size}")
    price = quote.prob_ask if side == "buy" else quote.prob_bid
    return Execution(side, size, () if price is None else ((price, size),))


def quote_age_secs(quote: MarketQuote, at: datetime) -> float:
    """Seconds from the quote's ``observed_at`` to ``at`` (negative: quote from the future).

    Raises
    ------
    ConfigError
        If ``at`` is naive.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ConfigError(f"at must be tz-aware UTC; found naive {at.isoformat()}")
    return (at - quote.observed_at).total_seconds()


@dataclass(frozen=True, slots=True)
class EdgeSignal:
    """The model against one quote (see module docstring for the formulas).

    Attributes
    ----------
    prob_model, prob_lo, prob_hi
        Forecast probability of YES and its interval.
    prob_mid, half_spread
        Market mid and half-spread (None when a side is empty).
    price_yes, price_no
        Average executable price per share of buying YES / NO for ``size`` (None when the side
        cannot fill the size).
    fee_yes, fee_no
        Taker fee per share of those trades (probability units).
    edge_yes, edge_no
        Expected profit per share net of fees and spread (None when not executable).
    side, edge, fee
        The better trade (``"yes"``/``"no"``, None when neither is executable), its edge and fee.
    kelly_fraction
        Fraction of bankroll to stake on ``side`` (0 when the pessimistic edge is not positive).
    quote_age_secs
        Age of the quote at the decision time (None when no time was given).
    flag
        Whether the signal clears fees, spread and the margin.
    """

    venue: str
    market_id: str
    prob_model: float
    prob_lo: float
    prob_hi: float
    prob_mid: float | None
    half_spread: float | None
    price_yes: float | None
    price_no: float | None
    fee_yes: float | None
    fee_no: float | None
    edge_yes: float | None
    edge_no: float | None
    side: Literal["yes", "no"] | None
    edge: float | None
    fee: float | None
    kelly_fraction: float
    size: float
    quote_age_secs: float | None
    flag: bool

    def __post_init__(self) -> None:
        if not 0.0 <= self.kelly_fraction <= 1.0:
            raise ConfigError(f"kelly_fraction must be within [0, 1]; found {self.kelly_fraction}")
        if self.flag and self.side is None:
            raise ConfigError("a flagged signal needs a side; found side=None")


def _kelly(q: float, cost: float) -> float:
    if cost >= 1.0:
        return 0.0
    return max(0.0, (q - cost) / (1.0 - cost))


def _leg(
    quote: MarketQuote, fees: FeeModel, side: Literal["buy", "sell"], size: float
) -> tuple[float | None, float | None]:
    """(price per share, fee per share) of buying YES (buy) or NO (sell YES), or (None, None)."""
    execution = executable(quote, side=side, size=size)
    if not execution.complete or execution.average_price is None:
        return None, None
    fills = execution.fills
    if side == "sell":  # a NO share bought at 1 - bid for each YES bid level
        fills = tuple((1.0 - price, shares) for price, shares in fills)
    price = sum(p * s for p, s in fills) / size
    return price, fees.taker_fee_for_fills_usd(fills) / size


def _check_probs(forecast_prob: float, prob_lo: float, prob_hi: float) -> None:
    for name, value in (
        ("forecast_prob", forecast_prob),
        ("prob_lo", prob_lo),
        ("prob_hi", prob_hi),
    ):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must be within [0, 1]; found {value}")
    if not prob_lo <= forecast_prob <= prob_hi:
        raise ConfigError(
            f"prob_lo <= forecast_prob <= prob_hi must hold; found {prob_lo}, {forecast_prob}, "
            f"{prob_hi}"
        )


def compare(
    forecast_prob: float,
    prob_lo: float,
    prob_hi: float,
    quote: MarketQuote,
    *,
    fees: FeeModel,
    size: float = 1.0,
    margin: float = 0.02,
    kelly_fraction_cap: float = 0.05,
    kelly_multiplier: float = 0.25,
    at: datetime | None = None,
) -> EdgeSignal:
    """Edge of buying YES and of buying NO at ``quote`` against a forecast.

    Parameters
    ----------
    forecast_prob, prob_lo, prob_hi
        Model probability of YES and its interval (``prob_lo <= forecast_prob <= prob_hi``).
    quote
        The market's YES quote (with its book when known).
    fees
        The market's fee model (``markets.fees.fees_for_market``).
    size
        Shares to trade; the book is walked for that size.
    margin
        Edge (probability points per share) a trade must exceed, beyond fees and spread.
    kelly_fraction_cap
        Largest bankroll fraction per contract.
    kelly_multiplier
        Fractional Kelly multiplier (0.25 = quarter Kelly).
    at
        Decision time, for the quote age.

    Returns
    -------
    EdgeSignal

    Raises
    ------
    ConfigError
        Probabilities outside [0, 1] or out of order, non-positive size, negative margin,
        cap or multiplier outside [0, 1].
    """
    _check_probs(forecast_prob, prob_lo, prob_hi)
    if not margin >= 0.0:
        raise ConfigError(f"margin must be >= 0; found {margin}")
    for name, value in (
        ("kelly_fraction_cap", kelly_fraction_cap),
        ("kelly_multiplier", kelly_multiplier),
    ):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{name} must be within [0, 1]; found {value}")
    price_yes, fee_yes = _leg(quote, fees, "buy", size)
    price_no, fee_no = _leg(quote, fees, "sell", size)
    edge_yes = None if price_yes is None else forecast_prob - price_yes - fee_yes  # type: ignore[operator]
    edge_no = None if price_no is None else (1.0 - forecast_prob) - price_no - fee_no  # type: ignore[operator]
    side: Literal["yes", "no"] | None = None
    if edge_yes is not None and (edge_no is None or edge_yes >= edge_no):
        side = "yes"
    elif edge_no is not None:
        side = "no"
    edge = fee = None
    kelly = 0.0
    if side == "yes":
        edge, fee = edge_yes, fee_yes
        kelly = _kelly(prob_lo, price_yes + fee_yes)  # type: ignore[operator]
    elif side == "no":
        edge, fee = edge_no, fee_no
        kelly = _kelly(1.0 - prob_hi, price_no + fee_no)  # type: ignore[operator]
    kelly = min(kelly_fraction_cap, kelly_multiplier * kelly)
    spread = quote.spread
    return EdgeSignal(
        venue=quote.venue,
        market_id=quote.market_id,
        prob_model=forecast_prob,
        prob_lo=prob_lo,
        prob_hi=prob_hi,
        prob_mid=quote.mid,
        half_spread=None if spread is None else 0.5 * spread,
        price_yes=price_yes,
        price_no=price_no,
        fee_yes=fee_yes,
        fee_no=fee_no,
        edge_yes=edge_yes,
        edge_no=edge_no,
        side=side,
        edge=edge,
        fee=fee,
        kelly_fraction=kelly,
        size=size,
        quote_age_secs=None if at is None else quote_age_secs(quote, at),
        flag=bool(edge is not None and edge > margin and kelly > 0.0),
    )
