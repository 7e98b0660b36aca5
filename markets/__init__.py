"""Read-only Polymarket/Kalshi clients, the question parser, fees, odds vs model and edge.

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "BookLevel": "markets.types",
    "MarketQuote": "markets.types",
    "OrderBook": "markets.types",
    "Venue": "markets.types",
    "VenueMarket": "markets.types",
    "Parsed": "markets.parser",
    "Unsupported": "markets.parser",
    "AthLookup": "markets.parser",
    "parse_market": "markets.parser",
    "parse_question": "markets.parser",
    "FeeModel": "markets.fees",
    "PolymarketFees": "markets.fees",
    "KalshiFees": "markets.fees",
    "fees_for_market": "markets.fees",
    "EdgeSignal": "markets.odds",
    "Execution": "markets.odds",
    "compare": "markets.odds",
    "executable": "markets.odds",
    "walk_book": "markets.odds",
    "quote_age_secs": "markets.odds",
    "PolymarketClient": "markets.polymarket",
    "ClobReader": "markets.polymarket_clob",
    "parse_clob_book": "markets.polymarket_clob",
    "KalshiClient": "markets.kalshi",
    "SERIES_BY_ASSET": "markets.kalshi",
    "MarketClient": "markets.venue_client",
    "MarketResolution": "markets.venue_client",
    "history_frame": "markets.venue_client",
    "VenueSettings": "markets.venue_settings",
    "venue_settings_from_env": "markets.venue_settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'markets' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
