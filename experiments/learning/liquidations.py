"""Fitting the liquidation-volume model: labelled windows from the store, features, cache.

``fit_liquidation_model(store, assets=..., cut=...)`` labels windows ``[t, t + h)`` decided every
``every_hours`` from a day after the first bucket to ``cut`` (``experiments.labels.liquidations``;
only windows ending by ``cut + 168 h``, the longest horizon: the model is usable at
``T >= cut + 168 h``) and fits ``models.learned.liquidation_volume`` on the point-in-time
leverage features at each ``t``. ``asset = "ALL"`` trains on every asset the store has
liquidations for (known at the cut).

``load_or_fit_liquidations(store, asset=..., at=...)`` reuses a fit cached in
``$LEVERCAST_HOME/models`` (keyed by layout version, data fingerprint, assets and cut), else
fits with ``cut = floor_day(at - 168 h)``: a cold fit takes a few seconds
(``benchmarks/liquidation_model.py``), so a liquidation question never waits for the price model.

The feature rows come from ``features.liquidation_inputs.liquidation_features`` (one asset, or
``ALL`` merged), the same function the pricer uses at ``T``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from levercast.experiments.labels.liquidations import liquidation_buckets_of, liquidation_sums
from levercast.experiments.learning.fit_cache import code_digest
from levercast.experiments.paths import levercast_home
from levercast.features.dataset.store import Store
from levercast.features.liquidation_inputs import liquidation_assets, liquidation_features
from levercast.features.liquidation_windows import ALL_ASSETS, SIDES
from levercast.models.learned.liquidation_volume import (
    LIQ_HORIZONS_HOURS,
    MIN_ROWS,
    LiquidationVolumeModel,
    fit_liquidation_volume,
)

__all__ = ["fit_liquidation_model", "load_or_fit_liquidations"]

CACHE_VERSION: Final = "v2"  # v2: names carry fit_cache.code_digest()
PURGE: Final = pd.Timedelta(hours=max(LIQ_HORIZONS_HOURS))


def fit_liquidation_model(
    store: Store,
    *,
    assets: Sequence[str],
    cut: pd.Timestamp,
    every_hours: float = 4.0,
    seed: int = 0,
) -> LiquidationVolumeModel | None:
    """Fit on windows decided at or before ``cut`` (module docstring); None when fewer than
    ``MIN_ROWS`` windows can be labelled."""
    cut = pd.Timestamp(cut)
    members: list[str] = []
    for asset in assets:
        members += liquidation_assets(store, cut) if asset == ALL_ASSETS else [asset]
    pieces = []
    for asset in dict.fromkeys(members):
        sub = liquidation_buckets_of(store, asset)
        if sub.empty:
            continue
        first = pd.Timestamp(sub["ts"].min()).ceil("h") + pd.Timedelta(days=1)
        if first >= cut:
            continue
        times = pd.date_range(first, cut, freq=pd.Timedelta(hours=every_hours))
        grid = pd.MultiIndex.from_product(
            [times, LIQ_HORIZONS_HOURS, SIDES], names=["t", "h", "side"]
        )
        frame = grid.to_frame(index=False)
        frame["asset"] = asset
        end = pd.DatetimeIndex(frame["t"]) + pd.to_timedelta(frame["h"], unit="h")
        frame["y_usd"] = liquidation_sums(
            store, asset, pd.DatetimeIndex(frame["t"]), end, frame["side"].to_numpy()
        )
        frame = frame[np.isfinite(frame["y_usd"]) & (end <= cut + PURGE)]
        features = liquidation_features(store, asset, times).set_index("ts")
        aligned = features.reindex(pd.DatetimeIndex(frame["t"])).reset_index(drop=True)
        pieces.append((frame.reset_index(drop=True), aligned))
    if not pieces or sum(len(p[0]) for p in pieces) < MIN_ROWS:
        return None
    rows = pd.concat([p[0] for p in pieces], ignore_index=True)
    features = pd.concat([p[1] for p in pieces], ignore_index=True)
    return fit_liquidation_volume(
        features,
        rows["h"].to_numpy(float),
        rows["side"].to_numpy(str),
        rows["y_usd"].to_numpy(float),
        cut=cut,
        assets=tuple(dict.fromkeys(members)),
        seed=seed,
    )


def _cache_path(store: Store, asset: str, cut: pd.Timestamp) -> Path:
    folder = levercast_home() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = cut.isoformat().replace(":", "_")
    # the code digest: a model of other code, whose windows or features may differ, is refitted
    name = f"liquidations-{CACHE_VERSION}-{code_digest()}-{store.fingerprint()}-{asset}-{stamp}"
    return folder / f"{name}.joblib"


def load_or_fit_liquidations(
    store: Store, *, asset: str, at: pd.Timestamp, seed: int = 0
) -> LiquidationVolumeModel | None:
    """A liquidation model usable at ``at`` (cut ``floor_day(at - 168 h)``): cached or fitted
    now and cached; None when too few windows can be labelled before the cut."""
    import joblib

    cut = (pd.Timestamp(at) - PURGE).floor("D")
    path = _cache_path(store, asset, cut)
    if path.exists():
        try:
            cached = joblib.load(path)
        except Exception:  # an unreadable or foreign pickle is refitted, never trusted
            cached = None
        if isinstance(cached, LiquidationVolumeModel):
            return cached
    model = fit_liquidation_model(store, assets=(asset,), cut=cut, seed=seed)
    if model is not None:
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        joblib.dump(model, tmp)
        tmp.replace(path)
    return model
