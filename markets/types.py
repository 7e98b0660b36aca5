"""Domain records of the markets layer: what a venue market says, its order book, its quote.

Venue JSON is decoded into wire types inside each venue package (``markets/polymarket/wire.py``,
``markets/kalshi/wire.py``) and converted by one ``parse_*`` function per payload into these
records; nothing downstream sees a venue field name (STYLE G4). Prices are probabilities in
[0, 1] (USD per share of a $1 payout); sizes are shares/contracts; times are tz-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum, unique

from levercast.features.errors import ConfigError

__all__ = ["BookLevel", "MarketQuote", "OrderBook", "Venue", "VenueMarket"]


@unique
class Venue(StrEnum):
    """Prediction-market venues."""

    POLYMARKET = "polymarket"
    KALSHI = "kalshi"


def _check_time(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ConfigError(f"{name} must be tz-aware UTC; found naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class VenueMarket:
    """One binary market as a venue lists it (the parser's input).

    Attributes
    ----------
    venue, market_id
        Venue and its market id (Polymarket condition id or dataset id; Kalshi ticker).
    question
        Title / question text.
    rules
        Resolution rules text ('' when unknown).
    outcomes
        Outcome labels in venue order, e.g. ``("Yes", "No")`` or ``("Up", "Down")``.
    token_ids
        Polymarket CLOB token (or position) ids in the order of ``outcomes`` ('' when unknown).
    created_at, end_date, close_time
        Creation time, scheduled end (Gamma ``endDate``), Kalshi close time.
    strike_type, floor_strike, cap_strike
        Kalshi strike fields (``greater``, ``less``, ``between``, ...).
    series_ticker, event_ticker, event_title, slug
        Grouping labels as the venue gives them.
    resolution_source
        Venue's resolution source text/URL when given.
    active, closed
        Listing state.
    protocol_version
        Polymarket ``v1``/``v2`` (Protocol V2 markets use position ids).
    fee_rate, fee_exponent, maker_rebate_rate
        Per-market taker fee parameters when the venue publishes them.
    category
        Fee category of the market (``crypto``, ``sports``, ...; ``markets.fees`` schedule key).
    cadence
        Recurrence of a recurring market (``5m``, ``15m``, ``hourly``, ``daily``) when known.
    fees_enabled, fee_taker_only
        Polymarket ``feesEnabled`` and ``feeSchedule.takerOnly``.
    fee_category
        The venue's own fee type: Polymarket ``feeType`` (``crypto_fees_v2``), Kalshi series
        ``fee_type`` (``quadratic``, ``quadratic_with_maker_fees``).
    fee_multiplier
        Kalshi series ``fee_multiplier`` (or the event's override): 0 = fee-free, 0.5, 1.
    fee_waiver_until
        Kalshi ``fee_waiver_expiration_time``: no fee on trades before it.
    """

    venue: str
    market_id: str
    question: str
    rules: str = ""
    outcomes: tuple[str, ...] = ("Yes", "No")
    token_ids: tuple[str, ...] = ()
    created_at: datetime | None = None
    end_date: datetime | None = None
    close_time: datetime | None = None
    strike_type: str | None = None
    floor_strike: float | None = None
    cap_strike: float | None = None
    series_ticker: str | None = None
    event_ticker: str | None = None
    event_title: str | None = None
    slug: str | None = None
    resolution_source: str | None = None
    active: bool | None = None
    closed: bool | None = None
    protocol_version: str | None = None
    fee_rate: float | None = None
    fee_exponent: float | None = None
    maker_rebate_rate: float | None = None
    category: str | None = None
    cadence: str | None = None
    fees_enabled: bool | None = None
    fee_taker_only: bool | None = None
    fee_category: str | None = None
    fee_multiplier: float | None = None
    fee_waiver_until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("created_at", "end_date", "close_time", "fee_waiver_until"):
            _check_time(name, getattr(self, name))
        if not self.market_id:
            raise ConfigError("market_id must be non-empty; found ''")


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One price level: probability price in [0, 1] and size in shares/contracts."""

    price: float
    size: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.price <= 1.0:
            raise ConfigError(f"price must be within [0, 1]; found {self.price}")
        if self.size < 0:
            raise ConfigError(f"size must be >= 0; found {self.size}")


@dataclass(frozen=True, slots=True)
class OrderBook:
    """The YES-outcome book of one market at ``observed_at``.

    ``bids`` are sorted best (highest) first, ``asks`` best (lowest) first, whatever order the
    venue sent (Polymarket sends the best last; Kalshi sends bids only, YES asks = 1 - NO bids).
    """

    venue: str
    market_id: str
    outcome: str
    observed_at: datetime
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    tick_size: float | None = None

    def __post_init__(self) -> None:
        _check_time("observed_at", self.observed_at)
        object.__setattr__(
            self, "bids", tuple(sorted(self.bids, key=lambda lv: lv.price, reverse=True))
        )
        object.__setattr__(self, "asks", tuple(sorted(self.asks, key=lambda lv: lv.price)))

    @property
    def best_bid(self) -> float | None:
        """Highest bid price, or None."""
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        """Lowest ask price, or None."""
        return self.asks[0].price if self.asks else None


@dataclass(frozen=True, slots=True)
class MarketQuote:
    """Best YES prices of a market at ``observed_at`` (STYLE G3 quotes contract).

    ``prob_bid``/``prob_ask`` may be None when that side of the book is empty.
    """

    venue: str
    market_id: str
    observed_at: datetime
    prob_bid: float | None
    prob_ask: float | None
    book: OrderBook | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_time("observed_at", self.observed_at)
        for name in ("prob_bid", "prob_ask"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be within [0, 1]; found {value}")
        if (
            self.prob_bid is not None
            and self.prob_ask is not None
            and self.prob_bid > self.prob_ask
        ):
            raise ConfigError(
                f"prob_bid must not exceed prob_ask; found bid {self.prob_bid} > ask "
                f"{self.prob_ask}"
            )

    @property
    def mid(self) -> float | None:
        """Mid price when both sides exist, else None."""
        if self.prob_bid is None or self.prob_ask is None:
            return None
        return 0.5 * (self.prob_bid + self.prob_ask)

    @property
    def spread(self) -> float | None:
        """Ask minus bid when both sides exist, else None."""
        if self.prob_bid is None or self.prob_ask is None:
            return None
        return self.prob_ask - self.prob_bid
