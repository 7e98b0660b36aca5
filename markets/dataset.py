"""Rows of the dataset's ``markets`` and ``books`` tables as venue records, and back to contracts.

The store (``levercast.features.dataset``) keeps markets and book snapshots as flat rows; the
markets layer speaks ``VenueMarket`` and ``OrderBook``. This module converts between the two and
never reads the store itself: callers pass the frames they read (point in time or whole).

- ``venue_market_from_row``: one ``markets`` row -> ``VenueMarket`` (the ``family`` column, a
  dataset grouping label, and the resolution columns are not passed on);
- ``books_from_rows``: ``books`` rows -> one ``OrderBook`` per (venue, market, outcome, ts);
- ``parse_markets``: a ``markets`` frame -> one ``parse`` object per market (``levercast parse
  --data``). A market without ``created_at`` is read against its first price observation
  (the earliest ``ts`` of its ``market_prices`` rows).

NaN policy: a missing text cell reads as ``""`` (or None for optional fields), a missing time or
number as None.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from levercast.markets.questions.parser import AthLookup, parse_market
from levercast.markets.types import BookLevel, OrderBook, VenueMarket

__all__ = ["book_rows", "books_from_rows", "parse_markets", "venue_market_from_row"]


def _time(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and str(value) in {"<NA>", "nan"}):
        return ""
    return str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _flag(value: Any) -> bool | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return bool(value)


def venue_market_from_row(row: Mapping[str, Any]) -> VenueMarket:
    """A ``VenueMarket`` from one row of the dataset's ``markets`` table (the ``family`` column,
    a dataset grouping label, is not passed on; the optional fee columns are, for
    ``markets.fees.fees_for_market``)."""
    outcomes = tuple(s for s in _text(row.get("outcomes")).split("|") if s) or ("Yes", "No")
    tokens = tuple(s for s in _text(row.get("token_ids")).split("|") if s)
    return VenueMarket(
        venue=_text(row.get("venue")) or "polymarket",
        market_id=_text(row.get("market_id")),
        question=_text(row.get("question")),
        rules=_text(row.get("rules")),
        outcomes=outcomes,
        token_ids=tokens,
        created_at=_time(row.get("created_at")),
        end_date=_time(row.get("end_date")),
        event_title=_text(row.get("event_title")) or None,
        slug=_text(row.get("slug")) or None,
        series_ticker=_text(row.get("series_ticker")) or None,
        strike_type=_text(row.get("strike_type")) or None,
        floor_strike=_number(row.get("floor_strike")),
        cap_strike=_number(row.get("cap_strike")),
        close_time=_time(row.get("close_time")),
        category=_text(row.get("category")) or None,
        cadence=_text(row.get("cadence")) or None,
        fee_category=_text(row.get("fee_category")) or None,
        fee_rate=_number(row.get("fee_rate")),
        fee_exponent=_number(row.get("fee_exponent")),
        maker_rebate_rate=_number(row.get("maker_rebate_rate")),
        fees_enabled=_flag(row.get("fees_enabled")),
        fee_multiplier=_number(row.get("fee_multiplier")),
        fee_waiver_until=_time(row.get("fee_waiver_until")),
    )


def books_from_rows(rows: pd.DataFrame) -> list[OrderBook]:
    """One ``OrderBook`` per (venue, market_id, outcome, ts) of ``books`` rows, in the order the
    groups first appear; levels keep the rows' order within each side."""
    out: list[OrderBook] = []
    for (venue, market_id, outcome, ts), part in rows.groupby(
        ["venue", "market_id", "outcome", "ts"], sort=False
    ):
        levels = {
            side: tuple(
                BookLevel(float(p), float(s))
                for p, s in zip(
                    part.loc[part["side"] == side, "price"],
                    part.loc[part["side"] == side, "size"],
                    strict=True,
                )
            )
            for side in ("bid", "ask")
        }
        out.append(
            OrderBook(
                str(venue),
                str(market_id),
                str(outcome),
                pd.Timestamp(ts).to_pydatetime(),
                bids=levels["bid"],
                asks=levels["ask"],
            )
        )
    return out


def parse_markets(
    markets: pd.DataFrame,
    prices: pd.DataFrame | None = None,
    *,
    ath_usd: AthLookup | None = None,
) -> list[dict[str, Any]]:
    """One ``parse`` object (``{"market_id", "contract", "yes_outcome"}`` or ``{"market_id",
    "unsupported"}``) per row of a ``markets`` frame.

    Parameters
    ----------
    markets
        Rows of the ``markets`` table.
    prices
        Rows of ``market_prices`` (``market_id``, ``ts``): a market without ``created_at`` is read
        against its earliest ``ts`` here. None: no such reference.
    ath_usd
        ``(asset, t) -> highest high known at t`` for all-time-high questions.
    """
    first_seen: dict[str, datetime] = {}
    if prices is not None:
        for market_id, ts in prices.groupby("market_id", sort=False)["ts"].min().items():
            first_seen[str(market_id)] = ts.to_pydatetime()
    out: list[dict[str, Any]] = []
    for row in markets.to_dict("records"):
        market = venue_market_from_row(row)
        reference = None if market.created_at is not None else first_seen.get(market.market_id)
        parsed = parse_market(market, reference_time=reference, ath_usd=ath_usd)
        out.append({"market_id": market.market_id, **parsed.to_json_dict()})
    return out


def book_rows(book: OrderBook, *, received_at: datetime) -> pd.DataFrame:
    """``books`` rows of one snapshot: one row per side and price (sizes at a price summed).

    ``ts`` is the book's time; ``available_at`` the later of it and ``received_at``.
    """
    ts = pd.Timestamp(book.observed_at).tz_convert("UTC")
    available = max(ts, pd.Timestamp(received_at).tz_convert("UTC"))
    levels = [("bid", lv.price, lv.size) for lv in book.bids]
    levels += [("ask", lv.price, lv.size) for lv in book.asks]
    frame = pd.DataFrame(levels, columns=["side", "price", "size"])
    frame = frame.groupby(["side", "price"], as_index=False)["size"].sum()
    n = len(frame)
    return frame.assign(
        venue=book.venue,
        market_id=book.market_id,
        outcome=book.outcome,
        ts=pd.Series([ts] * n, dtype="datetime64[ns, UTC]"),
        available_at=pd.Series([available] * n, dtype="datetime64[ns, UTC]"),
    )
