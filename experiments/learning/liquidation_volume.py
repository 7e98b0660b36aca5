"""The liquidation-volume model: quantiles of next-window long/short/total liquidations.

Labels are window sums of the ``liquidations`` table by the outcome reader's rule
(``experiments.labels.outcomes``: 1h buckets of the asset whose *start* lies in ``[start, end)``;
buckets missing inside the table's span count as zero; a window outside the span is unknown):
``liquidation_sums`` computes them vectorised, and the tests check it against
``label_contracts`` on ``liquidations_above`` contracts. Features are the deleveraging features
of the feature frame at the decision time (past liquidations, their skew, realised vol, open
interest change, funding), plus the window length and the side. The target is
``log1p(sum_usd)``; ``QuantileRegressorSet`` predicts its quantiles and ``prob_above`` turns them
into P(sum > threshold).

The 365-day history rule of the price models does not apply here: the target itself exists only
where the liquidations table does (on the shared data, from 2025-11-23).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.dataset.store import Store
from levercast.models.learned.estimators import QuantileRegressorSet

__all__ = [
    "LIQ_FEATURES",
    "LIQ_HORIZONS_HOURS",
    "SIDES",
    "LiquidationVolumeModel",
    "fit_liquidation_model",
    "liquidation_sums",
]

SIDES: Final = ("long", "short", "total")
LIQ_HORIZONS_HOURS: Final = (1.0, 4.0, 12.0, 24.0, 72.0, 168.0)
LIQ_FEATURES: Final = (
    "liq_total_usd_1h",
    "liq_total_usd_24h",
    "liq_total_usd_7d",
    "liq_skew_1h",
    "liq_skew_24h",
    "liq_skew_7d",
    "rvol_24h",
    "rvol_7d",
    "oi_change_1d",
    "funding_rate_8h",
    "leverage_reset_30d",
)
_COLUMNS: Final = {
    "long": ("long_usd",),
    "short": ("short_usd",),
    "total": ("long_usd", "short_usd"),
}
MIN_ROWS: Final = 300
QUANTILES: Final = (0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98)


def _buckets(store: Store, asset: str) -> pd.DataFrame:
    if not store.has("liquidations"):
        return pd.DataFrame(columns=["ts", "available_at", "long_usd", "short_usd"])
    liq = store.read("liquidations")
    sub = liq[(liq["asset"] == asset) & (liq["interval"] == "1h")]
    if sub.empty:
        sub = liq[liq["asset"] == asset]
    return sub.sort_values("ts")


def liquidation_sums(
    store: Store,
    asset: str,
    start: pd.DatetimeIndex,
    end: pd.DatetimeIndex,
    side: Sequence[str] | np.ndarray,
) -> FloatArray:
    """USD liquidated of ``side`` in each window ``[start, end)`` (NaN outside the table span).

    Parameters
    ----------
    store
        The dataset (read in full: this is a label reader, like ``experiments.labels.outcomes``).
    asset
        Ticker.
    start, end
        Window bounds (tz-aware), aligned arrays.
    side
        ``long``, ``short`` or ``total`` per window.
    """
    sub = _buckets(store, asset)
    n = len(start)
    if sub.empty:
        return np.full(n, np.nan)
    ts = sub["ts"].to_numpy("datetime64[ns]").view("int64")
    first, last = ts.min(), sub["available_at"].to_numpy("datetime64[ns]").view("int64").max()
    s_ns = np.asarray(pd.DatetimeIndex(start).as_unit("ns").asi8)
    e_ns = np.asarray(pd.DatetimeIndex(end).as_unit("ns").asi8)
    lo = np.searchsorted(ts, s_ns, side="left")
    hi = np.searchsorted(ts, e_ns, side="left")
    sides = np.asarray(side, dtype=str)
    out = np.full(n, np.nan)
    for name, columns in _COLUMNS.items():
        sel = sides == name
        if not sel.any():
            continue
        values = sub[list(columns)].to_numpy(float).sum(axis=1)
        cum = np.concatenate([[0.0], np.cumsum(values)])
        out[sel] = cum[hi[sel]] - cum[lo[sel]]
    covered = (s_ns >= first) & (e_ns <= last)
    return np.where(covered, out, np.nan)


def _design(features: pd.DataFrame, hours: FloatArray, sides: np.ndarray) -> pd.DataFrame:
    X = pd.DataFrame(index=features.index)
    X["log_hours"] = np.log(hours)
    X["side_code"] = np.select([sides == "long", sides == "short"], [-1.0, 1.0], 0.0)
    for name in LIQ_FEATURES:
        value = features[name].to_numpy(float) if name in features else np.full(len(X), np.nan)
        X[name] = (
            np.log1p(np.maximum(value, 0.0))
            if name.endswith("_usd_1h") or "_usd_" in name
            else value
        )
    return X


@dataclass(frozen=True, slots=True, eq=False)
class LiquidationVolumeModel:
    """Fitted quantiles of ``log1p`` window liquidations.

    Attributes
    ----------
    regressor
        The fitted ``QuantileRegressorSet``.
    cut
        Last decision time of the training windows (labels end by ``cut + 168 h``).
    n_rows
        Training windows.
    assets
        Assets trained on.
    """

    regressor: QuantileRegressorSet
    cut: pd.Timestamp
    n_rows: int
    assets: tuple[str, ...]

    def prob_above(
        self,
        features: pd.DataFrame,
        hours: FloatArray,
        sides: np.ndarray,
        threshold_usd: FloatArray,
    ) -> FloatArray:
        """P(window sum > threshold) per row (``features``: feature-frame rows, aligned)."""
        X = _design(features.reset_index(drop=True), np.asarray(hours, float), np.asarray(sides))
        thr = np.log1p(np.maximum(np.asarray(threshold_usd, float), 0.0))
        return self.regressor.prob_above(X.to_numpy(float), thr)

    def quantiles_usd(
        self, features: pd.DataFrame, hours: FloatArray, sides: np.ndarray
    ) -> FloatArray:
        """Predicted window-sum quantiles in USD, shape (n, len(QUANTILES))."""
        X = _design(features.reset_index(drop=True), np.asarray(hours, float), np.asarray(sides))
        return np.expm1(self.regressor.predict_quantiles(X.to_numpy(float)))


def fit_liquidation_model(
    store: Store,
    *,
    assets: Sequence[str],
    cut: pd.Timestamp,
    every_hours: float = 4.0,
    seed: int = 0,
) -> LiquidationVolumeModel | None:
    """Fit on windows decided at or before ``cut`` (every ``every_hours`` over the table's span).

    Returns None when fewer than ``MIN_ROWS`` windows can be labelled.
    """
    from levercast.experiments.learning.training_set import features_for

    pieces = []
    for asset in assets:
        sub = _buckets(store, asset)
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
        frame = frame[
            np.isfinite(frame["y_usd"]) & (end <= cut + pd.Timedelta(hours=max(LIQ_HORIZONS_HOURS)))
        ]
        pieces.append(frame)
    if not pieces or sum(len(p) for p in pieces) < MIN_ROWS:
        return None
    rows = pd.concat(pieces, ignore_index=True)
    features = features_for(store, rows[["asset", "t"]], LIQ_FEATURES).set_index(["asset", "ts"])
    aligned = features.reindex(
        pd.MultiIndex.from_arrays([rows["asset"], pd.DatetimeIndex(rows["t"])])
    )
    X = _design(
        aligned.reset_index(drop=True), rows["h"].to_numpy(float), rows["side"].to_numpy(str)
    )
    regressor = QuantileRegressorSet(
        quantiles=QUANTILES,
        n_estimators=150,
        num_leaves=15,
        min_child_samples=40,
        random_state=seed,
    )
    regressor.fit(X.to_numpy(float), np.log1p(rows["y_usd"].to_numpy(float)))
    return LiquidationVolumeModel(regressor, pd.Timestamp(cut), len(rows), tuple(assets))
