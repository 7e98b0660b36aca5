"""Raw derivatives data in (store, sources), feature builders out.

Frame contracts (STYLE G3): **bars** ``asset, ts (bar close, UTC), open_usd, high_usd, low_usd,
close_usd, volume_usd``; **features** ``asset, ts`` plus one column per feature. Inside the engine
rows are keyed on ``available_at`` (the dataset's ``ts`` is a bar's open).

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ConfigError": "features.errors",
    "DataError": "features.errors",
    "ForecastError": "features.errors",
    "UnsupportedContract": "features.errors",
    "Store": "features.store",
    "StoreView": "features.store",
    "TABLES": "features.schema",
    "validate_table": "features.schema",
    "check_dataset": "features.quality",
    "parse_utc": "features.timeutil",
    "parse_duration": "features.timeutil",
    "HOURS_PER_YEAR": "features.timeutil",
    "MarketUnavailable": "features.errors",
    "HttpClient": "features.http",
    "HttpSettings": "features.http",
    "feature_frame": "features.frame",
    "compute_feature_frame": "features.frame",
    "features_at": "features.frame",
    "FeatureSnapshot": "features.frame",
    "FeatureFrame": "features.frame",
    "FeatureSpec": "features.registry",
    "register": "features.registry",
    "feature_specs": "features.registry",
    "INPUTS": "features.registry",
    "long_share_series": "features.dominance",
    "circulating_supply": "features.elr",
    "LiqMap": "features.liqmap",
    "LiqMapParams": "features.liqmap",
    "build_inputs": "features.liqmap",
    "map_snapshot": "features.liqmap",
    "liquidation_price": "features.liqmap",
    "liqmap_features": "features.clusters",
    "find_clusters": "features.clusters",
    "map_features": "features.liqmap_frame",
    "density_clusters": "features.liqmap_frame",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'features' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
