"""What every read-only venue client offers (``MarketClient``) and what a listing also tells.

``MarketClient`` is implemented by ``markets.polymarket.client.PolymarketClient`` and
``markets.kalshi.client.KalshiClient``; a client that can also follow books live (Polymarket's
market websocket) implements ``BookStreaming``, whose stream is a ``LiveBooks``. Price histories
come back as frames in the ``market_prices`` table format of the dataset (columns
``HISTORY_COLUMNS``; ``kind`` is ``"history"`` and ``available_at`` equals ``ts``: a venue price
point is known at its own time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from levercast.features.errors import ConfigError
from levercast.markets.types import OrderBook, VenueMarket

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "HISTORY_COLUMNS",
    "BookStreaming",
    "LiveBooks",
    "MarketClient",
    "MarketResolution",
    "history_frame",
]

HISTORY_COLUMNS: Final = ("venue", "market_id", "outcome", "ts", "available_at", "price", "kind")


@dataclass(frozen=True, slots=True)
class MarketResolution:
    """How (and when) a listed market resolved, as the venue reports it.

    Attributes
    ----------
    market_id
        The venue market id.
    winning_outcome
        The winning outcome label (one of the market's ``outcomes``).
    resolved_at
        When the resolution became known (None when the venue does not say).
    settled_value
        The value the venue settled on when it says (Kalshi ``expiration_value``: for crypto
        series the 60-s average of the CF Benchmarks index), else None.
    source
        Where the resolution was read (``gamma``, ``data-api``, ``kalshi``, ...), else None.
    """

    market_id: str
    winning_outcome: str
    resolved_at: datetime | None
    settled_value: float | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.resolved_at is not None and self.resolved_at.utcoffset() is None:
            raise ConfigError(
                f"resolved_at must be tz-aware UTC; found naive {self.resolved_at.isoformat()}"
            )


@runtime_checkable
class MarketClient(Protocol):
    """A read-only prediction-market venue client."""

    venue: str

    def list_markets(self, assets: Sequence[str]) -> list[VenueMarket]:
        """Open and recently resolved crypto price markets on ``assets`` (e.g. ``["BTC"]``)."""
        ...

    def resolution(self, market: VenueMarket) -> MarketResolution | None:
        """The resolution of a market returned by the last ``list_markets``, or None."""
        ...

    def price_history(self, market: VenueMarket, *, since: datetime | None = None) -> pd.DataFrame:
        """Price points after ``since`` as ``market_prices`` rows (``HISTORY_COLUMNS``)."""
        ...

    def order_book(self, market: VenueMarket) -> OrderBook:
        """The current book of the market's first (YES) outcome."""
        ...


class LiveBooks(Protocol):
    """A live book feed (a resource with a thread): watch markets, then drain changed books."""

    def start(self) -> LiveBooks:
        """Start the feed (no subscription yet)."""
        ...

    def watch(self, markets: Sequence[VenueMarket]) -> list[str]:
        """Follow exactly these markets; return the ids newly watched."""
        ...

    def wait_for_books(self, markets: Sequence[VenueMarket], timeout_secs: float) -> bool:
        """Block until each market has a first snapshot, or the timeout."""
        ...

    def apply(self) -> None:
        """Apply received events (call often: the backlog is bounded)."""
        ...

    def drain(self) -> Any:
        """Books changed since the last drain (``markets.polymarket.stream.StreamBatch``)."""
        ...

    def close(self) -> None:
        """Stop the feed and join its thread."""
        ...


@runtime_checkable
class BookStreaming(Protocol):
    """A client that can follow books live."""

    def book_stream(self) -> LiveBooks:
        """A new, not yet started, live book feed."""
        ...


def history_frame(
    venue: str, market_id: str, points: Iterable[tuple[str, datetime, float]]
) -> pd.DataFrame:
    """``market_prices`` rows (kind ``history``, ``available_at = ts``) from points.

    Parameters
    ----------
    venue, market_id
        Identity of the market.
    points
        ``(outcome, ts, price)`` triples; ``ts`` tz-aware, ``price`` in [0, 1]. A later duplicate
        of the same ``(outcome, ts)`` wins.

    Returns
    -------
    pandas.DataFrame
        Columns ``HISTORY_COLUMNS``, sorted by outcome and ts.
    """
    import pandas as pd

    rows = list(points)
    ts = pd.to_datetime([t for _, t, _ in rows], utc=True)
    frame = pd.DataFrame(
        {
            "venue": pd.Series([venue] * len(rows), dtype="string"),
            "market_id": pd.Series([market_id] * len(rows), dtype="string"),
            "outcome": pd.Series([o for o, _, _ in rows], dtype="string"),
            "ts": ts,
            "available_at": ts,
            "price": pd.Series([float(p) for _, _, p in rows], dtype="float64"),
            "kind": pd.Series(["history"] * len(rows), dtype="string"),
        }
    )
    frame = frame.drop_duplicates(["outcome", "ts"], keep="last")
    return frame.sort_values(["outcome", "ts"], kind="stable").reset_index(drop=True)
