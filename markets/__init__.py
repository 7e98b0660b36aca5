"""Read-only Polymarket/Kalshi clients, the question parser, fees, odds vs model and edge, and
the dataset's market and book rows as venue records.

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "BookLevel": "levercast.markets.types",
    "MarketQuote": "levercast.markets.types",
    "OrderBook": "levercast.markets.types",
    "Venue": "levercast.markets.types",
    "VenueMarket": "levercast.markets.types",
    "Parsed": "levercast.markets.questions.parser",
    "Unsupported": "levercast.markets.questions.parser",
    "AthLookup": "levercast.markets.questions.parser",
    "parse_market": "levercast.markets.questions.parser",
    "parse_question": "levercast.markets.questions.parser",
    "FeeModel": "levercast.markets.fees",
    "PolymarketFees": "levercast.markets.fees",
    "KalshiFees": "levercast.markets.fees",
    "fees_for_market": "levercast.markets.fees",
    "fee": "levercast.markets.fees",
    "fee_schedule": "levercast.markets.fees",
    "schedule_for": "levercast.markets.fees",
    "FeeScheduleEntry": "levercast.markets.fees",
    "EdgeSignal": "levercast.markets.odds",
    "Execution": "levercast.markets.odds",
    "compare": "levercast.markets.odds",
    "executable": "levercast.markets.odds",
    "walk_book": "levercast.markets.odds",
    "quote_age_secs": "levercast.markets.odds",
    "PolymarketClient": "levercast.markets.polymarket.client",
    "ClobReader": "levercast.markets.polymarket.clob",
    "parse_clob_book": "levercast.markets.polymarket.clob",
    "KalshiClient": "levercast.markets.kalshi.client",
    "SERIES_BY_ASSET": "levercast.markets.kalshi.client",
    "MarketClient": "levercast.markets.client",
    "MarketResolution": "levercast.markets.client",
    "history_frame": "levercast.markets.client",
    "LiveBooks": "levercast.markets.client",
    "BookStreaming": "levercast.markets.client",
    "BookStream": "levercast.markets.polymarket.stream",
    "StreamBatch": "levercast.markets.polymarket.stream",
    "PolymarketSdk": "levercast.markets.polymarket.sdk",
    "book_rows": "levercast.markets.dataset",
    "venue_market_from_row": "levercast.markets.dataset",
    "books_from_rows": "levercast.markets.dataset",
    "parse_markets": "levercast.markets.dataset",
    "mirror_book": "levercast.markets.books",
    "quote_from_book": "levercast.markets.books",
    "VenueSettings": "levercast.markets.settings",
    "venue_settings_from_env": "levercast.markets.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'markets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
