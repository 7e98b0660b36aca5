"""The liquidation-volume model: quantiles of next-window long/short/total liquidations.

Store-free. Features are the deleveraging features of the feature frame at the decision time
(past liquidations, their skew, realised vol, open interest change, funding), plus the window
length and the side; the target is ``log1p(sum_usd)`` of the window's liquidations (labelled by
``experiments.labels.liquidations``); ``QuantileRegressorSet`` predicts its quantiles and
``prob_above`` turns them into P(sum > threshold). ``experiments.learning.fitting`` assembles the
windows and fits it with ``fit_liquidation_volume``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.liquidation_windows import SIDES
from levercast.models.learned.estimators import QuantileRegressorSet

__all__ = [
    "LIQ_FEATURES",
    "LIQ_HORIZONS_HOURS",
    "MIN_ROWS",
    "SIDES",
    "LiquidationVolumeModel",
    "fit_liquidation_volume",
]

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
MIN_ROWS: Final = 300
QUANTILES: Final = (0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98)


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


def fit_liquidation_volume(
    features: pd.DataFrame,
    hours: FloatArray,
    sides: Sequence[str] | np.ndarray,
    y_usd: FloatArray,
    *,
    cut: pd.Timestamp,
    assets: Sequence[str],
    seed: int = 0,
) -> LiquidationVolumeModel:
    """Fit the quantile model on labelled windows (rows aligned across the arguments).

    Parameters
    ----------
    features
        Feature-frame rows at each window's decision time (columns of ``LIQ_FEATURES``; NaN
        allowed).
    hours, sides
        Window length and side per row.
    y_usd
        Realised USD liquidated in each window (finite, >= 0).
    cut
        Last decision time of the windows (recorded with the model).
    assets, seed
        Recorded / the LightGBM seed.
    """
    X = _design(
        features.reset_index(drop=True), np.asarray(hours, float), np.asarray(sides, dtype=str)
    )
    regressor = QuantileRegressorSet(
        quantiles=QUANTILES,
        n_estimators=150,
        num_leaves=15,
        min_child_samples=40,
        random_state=seed,
    )
    regressor.fit(X.to_numpy(float), np.log1p(np.asarray(y_usd, float)))
    return LiquidationVolumeModel(regressor, pd.Timestamp(cut), len(X), tuple(assets))
