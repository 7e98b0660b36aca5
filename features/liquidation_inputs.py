"""The inputs of the liquidation-volume model: leverage features per asset, or merged for ALL.

``LIQ_FEATURES`` are feature-frame columns (``features.frame``): open interest, its one-day change
and the leverage-reset flag, funding and the OI dominance score, the liquidation map's mass within
2 % and 5 % of spot, recent liquidations (1 h, 24 h, 7 d totals and skews) and realised vol.
``liquidation_features(source, asset, times)`` reads them point in time for one asset, or for
``ALL_ASSETS`` (every asset with liquidation rows known at the last time) merged by
``combine_assets``: USD amounts summed, a liquidation skew weighted by its window's total, other
rates and scores weighted by ``oi_usd`` (equal weights where OI is missing), flags by max.

NaN policy: NaN inputs are ignored by the merge (all NaN gives NaN); a missing feature is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.dataset.store import PointInTime
from levercast.features.frame.frame import compute_feature_frame
from levercast.features.liquidation_windows import ALL_ASSETS

__all__ = ["LIQ_FEATURES", "combine_assets", "liquidation_assets", "liquidation_features"]

LIQ_FEATURES: Final = (
    "liq_total_usd_1h",
    "liq_total_usd_24h",
    "liq_total_usd_7d",
    "liq_skew_1h",
    "liq_skew_24h",
    "liq_skew_7d",
    "rvol_24h",
    "rvol_7d",
    "oi_usd",
    "oi_change_1d",
    "funding_rate_8h",
    "oi_dominance_score",
    "leverage_reset_30d",
    "liq_mass_above_2pct_usd",
    "liq_mass_below_2pct_usd",
    "liq_mass_above_5pct_usd",
    "liq_mass_below_5pct_usd",
)
_SKEWS: Final = {
    "liq_skew_1h": "liq_total_usd_1h",
    "liq_skew_24h": "liq_total_usd_24h",
    "liq_skew_7d": "liq_total_usd_7d",
}


def _column(features: pd.DataFrame, name: str) -> FloatArray:
    if name in features:
        return np.asarray(features[name].to_numpy(float), dtype=np.float64)
    return np.full(len(features), np.nan)


def combine_assets(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One feature row per row position from aligned per-asset feature rows (``asset = ALL``).

    USD amounts are summed; a liquidation skew is weighted by its window's total; other rates
    and scores are weighted by ``oi_usd`` (equal weights where OI is missing); flags take the
    max. NaN values are ignored (all NaN gives NaN).
    """
    if not frames:
        raise ValueError("frames must hold at least one asset's rows; found none")
    n = len(frames[0])
    if any(len(f) != n for f in frames):
        raise ValueError(f"frames must be aligned; found lengths {[len(f) for f in frames]}")
    out = pd.DataFrame(index=range(n))
    oi = np.vstack([_column(f, "oi_usd") for f in frames])
    weight_oi = np.where(np.isfinite(oi) & (oi > 0), oi, 1.0)
    for name in LIQ_FEATURES:
        values = np.vstack([_column(f, name) for f in frames])
        present = np.isfinite(values)
        any_present = present.any(axis=0)
        if "_usd" in name:
            combined = np.where(present, values, 0.0).sum(axis=0)
        elif name == "leverage_reset_30d":
            combined = np.where(present, values, -np.inf).max(axis=0)
        else:
            if name in _SKEWS:
                weights = np.vstack([_column(f, _SKEWS[name]) for f in frames])
                weights = np.where(np.isfinite(weights), weights, 0.0)
            else:
                weights = weight_oi
            w = np.where(present, weights, 0.0)
            total = w.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                combined = np.where(present, values * w, 0.0).sum(axis=0) / total
        out[name] = np.where(any_present, combined, np.nan)
    return out


def liquidation_assets(source: PointInTime, at: pd.Timestamp) -> list[str]:
    """Assets with liquidation rows known at ``at`` (sorted)."""
    if not source.has("liquidations"):
        return []
    rows = source.as_of("liquidations", at)
    return sorted(str(a) for a in rows["asset"].dropna().unique())


def liquidation_features(source: PointInTime, asset: str, times: pd.DatetimeIndex) -> pd.DataFrame:
    """``asset, ts`` + ``LIQ_FEATURES`` of ``asset`` (or ``ALL_ASSETS``) at ``times`` (rows in
    the order of ``times``)."""
    times = pd.DatetimeIndex(times)
    if asset != ALL_ASSETS:
        frame = compute_feature_frame(source, asset, times, names=list(LIQ_FEATURES)).frame
        return frame.assign(asset=asset).reset_index(drop=True)
    members = liquidation_assets(source, times.max()) if len(times) else []
    frames = [liquidation_features(source, a, times) for a in members]
    if not frames:
        empty = pd.DataFrame({name: np.full(len(times), np.nan) for name in LIQ_FEATURES})
        return empty.assign(asset=ALL_ASSETS, ts=times)
    return combine_assets(frames).assign(asset=ALL_ASSETS, ts=times)
