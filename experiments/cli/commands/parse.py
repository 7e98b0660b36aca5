"""``levercast parse``: a market title, or every market of ``--data``, into contracts.

``parse "TITLE" [--rules T] [--created-at T] [--end-date T] [--at T]`` prints
``{"contract", "yes_outcome"}`` or ``{"unsupported": reason}``; ``parse --data DIR`` prints one
such object per market of the ``markets`` table, with ``market_id`` (INTERFACE.md §4). A market
without ``created_at`` is read against its first price observation (``market_prices``).
All-time-high questions take their strike from the candles known at the window start. Exit 0,
unsupported markets included.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir
from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_utc

if TYPE_CHECKING:
    from levercast.features.dataset.store import Store
    from levercast.markets.questions.parser import AthLookup
    from levercast.markets.types import VenueMarket

__all__ = ["ath_lookup", "parse_dataset", "run_parse", "venue_market_from_row"]


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    import pandas as pd

    if pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, str) and str(value) in {"<NA>", "nan"}):
        return ""
    return str(value)


def venue_market_from_row(row: Mapping[str, Any]) -> VenueMarket:
    """A ``VenueMarket`` from one row of the dataset's ``markets`` table (the ``family`` column,
    a dataset grouping label, is not passed on)."""
    from levercast.markets.types import VenueMarket

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
    )


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def ath_lookup(store: Store) -> AthLookup:
    """``(asset, t) -> highest candle high of the asset known at t`` over every candle venue
    (``levercast.features.prices.highest_high``).

    A proxy for the Binance spot all-time high that Polymarket's ATH rules use: the dataset has
    Binance spot only for BTC, and perpetual highs differ from spot by a few hundredths of a
    percent. None when the dataset has no candles of the asset before ``t``.
    """
    from functools import partial

    from levercast.features.prices import highest_high

    return partial(highest_high, store)


def parse_dataset(store: Store) -> list[dict[str, Any]]:
    """One ``parse`` object per market of the store's ``markets`` table, with ``market_id``."""
    from levercast.markets.questions.parser import parse_market

    markets = store.read("markets")
    first_seen: dict[str, datetime] = {}
    if store.has("market_prices"):
        prices = store.read("market_prices")
        for market_id, ts in prices.groupby("market_id", sort=False)["ts"].min().items():
            first_seen[str(market_id)] = ts.to_pydatetime()
    lookup = ath_lookup(store)
    out: list[dict[str, Any]] = []
    for row in markets.to_dict("records"):
        market = venue_market_from_row(row)
        reference = None if market.created_at is not None else first_seen.get(market.market_id)
        parsed = parse_market(market, reference_time=reference, ath_usd=lookup)
        out.append({"market_id": market.market_id, **parsed.to_json_dict()})
    return out


def _opt_time(args: argparse.Namespace, name: str) -> datetime | None:
    value = getattr(args, name, None)
    return None if value is None else parse_utc(value, name=f"--{name.replace('_', '-')}")


def _render_one(item: Mapping[str, Any]) -> str:
    prefix = f"{item['market_id']}: " if "market_id" in item else ""
    if "unsupported" in item:
        return f"{prefix}unsupported: {item['unsupported']}"
    c = item["contract"]
    strikes = c["strike_usd"] if c["strike_usd"] is not None else (c["lower_usd"], c["upper_usd"])
    return (
        f"{prefix}{c['kind']} {c['asset']} {c['direction'] or ''} {strikes} "
        f"{c['start']} -> {c['end']} [{c['resolution']['source']}] yes={item['yes_outcome']}"
    )


def _render(payload: Any) -> str:
    items = payload if isinstance(payload, list) else [payload]
    return "\n".join(_render_one(item) for item in items)


def run_parse(args: argparse.Namespace) -> int:
    """Parse one title, or every market of ``--data`` without a title; exit 0."""
    from levercast.features.dataset.store import Store

    title = getattr(args, "title", None)
    if title is None:
        store = Store(resolve_data_dir(args.data))
        if not store.has("markets"):
            raise ConfigError(
                f"parse without a title reads the markets table of --data; found none in "
                f"{store.root}"
            )
        emit(args, parse_dataset(store), _render)
        return 0
    from levercast.markets.questions.parser import parse_question

    data_dir = getattr(args, "data", None)
    lookup = None
    if data_dir:
        store = Store(data_dir)
        lookup = ath_lookup(store) if store.has("candles") else None
    parsed = parse_question(
        title,
        rules=getattr(args, "rules", None),
        created_at=_opt_time(args, "created_at"),
        end_date=_opt_time(args, "end_date"),
        at=_opt_time(args, "at"),
        ath_usd=lookup,
    )
    emit(args, parsed.to_json_dict(), _render)
    return 0
