"""The liquidation-volume model: quantiles of next-window long/short/total liquidations.

Store-free. Inputs are the leverage features of the feature frame at the decision time: open
interest, its one-day change and the leverage-reset flag, funding and the OI dominance score,
the liquidation map's mass within 2 % and 5 % of spot (above and below, and the side's own:
long liquidations sit below spot, short ones above), recent liquidations (1 h, 24 h, 7 d totals
and their long/short skew) and realised vol; plus the window length and the side. USD inputs
enter as ``log1p``. The target is ``log1p(sum_usd)`` of the window's liquidations (labelled by
``experiments.labels.liquidations``); ``QuantileRegressorSet`` predicts its ``QUANTILES`` and
``prob_above`` turns them into P(sum > threshold). ``experiments.learning.fitting`` assembles the
windows and fits it with ``fit_liquidation_volume``.

``asset = "ALL"`` (every asset the store has liquidations for): the per-asset feature rows are
merged into one (``features.liquidation_inputs.combine_assets``) and the model answers for the
summed windows.

CRPS from quantiles (``crps_from_quantiles``): with levels ``tau_k`` and predicted quantiles
``q_k``, ``CRPS ~= sum_k w_k 2 QS_tau_k(q_k, y)``, ``QS_tau(q, y) = (1{y < q} - tau)(q - y)``
the pinball loss and ``w_k`` trapezoid weights of the levels normalised to sum to 1
(``CRPS(F, y) = int_0^1 2 QS_tau(F^-1(tau), y) d tau``; Gneiting & Raftery 2007); the tails
beyond the outer levels are left out, so it is a lower bound compared consistently across
forecasts given at the same levels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.liquidation_inputs import LIQ_FEATURES
from levercast.features.liquidation_windows import SIDES

if TYPE_CHECKING:  # scikit-learn and LightGBM are imported to fit
    from levercast.models.learned.estimators import QuantileRegressorSet

__all__ = [
    "LIQ_FEATURES",
    "LIQ_HORIZONS_HOURS",
    "MIN_ROWS",
    "QUANTILES",
    "SIDES",
    "LiquidationVolumeModel",
    "crps_from_quantiles",
    "fit_liquidation_volume",
]

LIQ_HORIZONS_HOURS: Final = (1.0, 4.0, 12.0, 24.0, 72.0, 168.0)
MIN_ROWS: Final = 300
QUANTILES: Final = (0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98)


def _column(features: pd.DataFrame, name: str) -> FloatArray:
    if name in features:
        return np.asarray(features[name].to_numpy(float), dtype=np.float64)
    return np.full(len(features), np.nan)


def _design(features: pd.DataFrame, hours: FloatArray, sides: np.ndarray) -> pd.DataFrame:
    X = pd.DataFrame(index=features.index)
    X["log_hours"] = np.log(hours)
    X["side_code"] = np.select([sides == "long", sides == "short"], [-1.0, 1.0], 0.0)
    for name in LIQ_FEATURES:
        value = _column(features, name)
        X[name] = np.log1p(np.maximum(value, 0.0)) if "_usd" in name else value
    for band in ("2pct", "5pct"):
        above = _column(features, f"liq_mass_above_{band}_usd")
        below = _column(features, f"liq_mass_below_{band}_usd")
        own = np.select([sides == "long", sides == "short"], [below, above], above + below)
        X[f"liq_mass_side_{band}_usd"] = np.log1p(np.maximum(own, 0.0))
    return X


def crps_from_quantiles(
    quantiles: npt.ArrayLike, outcome: npt.ArrayLike, levels: Sequence[float] = QUANTILES
) -> FloatArray:
    """Quantile-based CRPS per row (module docstring); ``quantiles`` shape (n, len(levels))."""
    q = np.asarray(quantiles, dtype=float)
    y = np.asarray(outcome, dtype=float)[:, None]
    tau = np.asarray(levels, dtype=float)
    if q.ndim != 2 or q.shape[1] != len(tau):
        raise ValueError(f"quantiles must have shape (n, {len(tau)}); found {q.shape}")
    edges = np.concatenate([[tau[0]], (tau[1:] + tau[:-1]) / 2, [tau[-1]]])
    weights = np.diff(edges)
    weights = weights / weights.sum()
    pinball = ((y < q).astype(float) - tau) * (q - y)
    return np.asarray(2.0 * pinball @ weights, dtype=np.float64)


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

    def log_quantiles(
        self, features: pd.DataFrame, hours: FloatArray, sides: np.ndarray
    ) -> FloatArray:
        """Predicted ``log1p(USD)`` quantiles, shape (n, len(QUANTILES))."""
        X = _design(features.reset_index(drop=True), np.asarray(hours, float), np.asarray(sides))
        return np.asarray(self.regressor.predict_quantiles(X.to_numpy(float)), dtype=np.float64)

    def quantiles_usd(
        self, features: pd.DataFrame, hours: FloatArray, sides: np.ndarray
    ) -> FloatArray:
        """Predicted window-sum quantiles in USD, shape (n, len(QUANTILES))."""
        return np.asarray(np.expm1(self.log_quantiles(features, hours, sides)), dtype=np.float64)


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
    from levercast.models.learned.estimators import QuantileRegressorSet

    regressor = QuantileRegressorSet(
        quantiles=QUANTILES,
        n_estimators=150,
        num_leaves=15,
        min_child_samples=40,
        random_state=seed,
    )
    regressor.fit(X.to_numpy(float), np.log1p(np.asarray(y_usd, float)))
    return LiquidationVolumeModel(regressor, pd.Timestamp(cut), len(X), tuple(assets))
