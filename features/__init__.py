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
    "ConfigError": "levercast.features.errors",
    "DataError": "levercast.features.errors",
    "ForecastError": "levercast.features.errors",
    "UnsupportedContract": "levercast.features.errors",
    "Store": "levercast.features.dataset.store",
    "StoreView": "levercast.features.dataset.store",
    "TABLES": "levercast.features.dataset.schema",
    "validate_table": "levercast.features.dataset.schema",
    "check_dataset": "levercast.features.dataset.quality",
    "parse_utc": "levercast.features.timeutil",
    "parse_duration": "levercast.features.timeutil",
    "HOURS_PER_YEAR": "levercast.features.timeutil",
    "MarketUnavailable": "levercast.features.errors",
    "HttpClient": "levercast.features.http",
    "HttpSettings": "levercast.features.http",
    "feature_frame": "levercast.features.frame.frame",
    "compute_feature_frame": "levercast.features.frame.frame",
    "features_at": "levercast.features.frame.frame",
    "FeatureSnapshot": "levercast.features.frame.frame",
    "FeatureFrame": "levercast.features.frame.frame",
    "FeatureSpec": "levercast.features.frame.specs",
    "FEATURES": "levercast.features.frame.registry",
    "feature_specs": "levercast.features.frame.registry",
    "INPUTS": "levercast.features.frame.specs",
    "long_share_series": "levercast.features.builders.dominance",
    "circulating_supply": "levercast.features.builders.elr",
    "LiqMap": "levercast.features.liqmap.map",
    "LiqMapParams": "levercast.features.liqmap.map",
    "build_inputs": "levercast.features.liqmap.map",
    "map_snapshot": "levercast.features.liqmap.map",
    "liquidation_price": "levercast.features.liqmap.map",
    "liqmap_features": "levercast.features.liqmap.clusters",
    "find_clusters": "levercast.features.liqmap.clusters",
    "map_features": "levercast.features.liqmap.snapshots",
    "density_clusters": "levercast.features.liqmap.snapshots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'features' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
