"""A log-HAR realised-variance forecast with optional exogenous (leverage) regressors: HAR-X.

Store-free arrays in, forecasts out (the walk-forward comparison against the EWMA and a plain
HAR lives in ``experiments/studies/volatility``).

Model (Corsi's HAR on logs, with a crypto week; the regressors enter linearly)
    With ``RV_d`` the realised variance of day ``d`` (sum of squared hourly log returns) and
    ``x_d`` the regressors known at the end of day ``d``, the target is the log of the average
    realised variance over the next ``h`` days,
    ``ln((RV_{d+1} + ... + RV_{d+h}) / h) = b0 + b1 ln RV_d + b2 ln RV^w_d + b3 ln RV^m_d
    + c' x_d + e``, with ``RV^w`` and ``RV^m`` the 7- and 30-day means; OLS with a small ridge
    penalty on the regressors' coefficients (standardised). The variance forecast is
    ``exp(fitted + s^2 / 2)`` (log-normal bias correction, ``s^2`` the residual variance).

QLIKE (Patton 2011): ``L = RV / F - ln(RV / F) - 1`` >= 0, robust to noise in the realised
variance proxy; lower is better.

NaN policy: rows with a NaN target or input are dropped from the fit; a forecast row with a
NaN input is NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from levercast.features._typing import FloatArray
from levercast.features.errors import ConfigError, DataError

__all__ = ["HarFit", "fit_har", "har_design", "qlike", "realised_target"]

MIN_ROWS: Final = 60
_RIDGE: Final = 1e-3


def har_design(
    rv_daily: npt.ArrayLike, regressors: Mapping[str, npt.ArrayLike] | None = None
) -> tuple[FloatArray, tuple[str, ...]]:
    """Design rows per day ``d``: ``1, ln RV_d, ln RV^w_d, ln RV^m_d`` and the regressors.

    Rows before 30 days of history, or with a non-positive variance, are NaN.
    """
    rv = np.asarray(rv_daily, dtype=float)
    n = len(rv)
    cum = np.concatenate([[0.0], np.cumsum(np.where(np.isfinite(rv), rv, np.nan))])
    idx = np.arange(n)

    def mean(window: int) -> FloatArray:
        lo = idx + 1 - window
        out = np.full(n, np.nan)
        ok = lo >= 0
        out[ok] = (cum[idx[ok] + 1] - cum[lo[ok]]) / window
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        columns = [np.ones(n), np.log(rv), np.log(mean(7)), np.log(mean(30))]
    names = ["const", "ln_rv_d", "ln_rv_w", "ln_rv_m"]
    for name, values in (regressors or {}).items():
        column = np.asarray(values, dtype=float)
        if column.shape != rv.shape:
            raise ConfigError(
                f"regressor {name!r} must have one value per day ({n}); found {column.shape}"
            )
        columns.append(column)
        names.append(name)
    X = np.column_stack(columns)
    X[~np.isfinite(X)] = np.nan
    return X, tuple(names)


def realised_target(rv_daily: npt.ArrayLike, horizon_days: int) -> FloatArray:
    """Average realised variance over days ``d+1 .. d+h`` (NaN where not all known)."""
    if horizon_days < 1:
        raise ConfigError(f"horizon_days must be >= 1; found {horizon_days}")
    rv = np.asarray(rv_daily, dtype=float)
    n = len(rv)
    cum = np.concatenate([[0.0], np.cumsum(rv)])
    out = np.full(n, np.nan)
    end = np.arange(n) + 1 + horizon_days
    ok = end <= n
    out[ok] = (cum[end[ok]] - cum[np.arange(n)[ok] + 1]) / horizon_days
    return out


@dataclass(frozen=True, slots=True)
class HarFit:
    """A fitted log-HAR(-X): coefficients per design column, residual variance, scaling."""

    names: tuple[str, ...]
    coef: FloatArray
    mean: FloatArray
    scale: FloatArray
    resid_var: float
    n_rows: int

    def predict_variance(self, X: npt.ArrayLike) -> FloatArray:
        """Forecast average daily variance for design rows ``X`` (``har_design`` columns)."""
        x = np.asarray(X, dtype=float)
        z = (x - self.mean) / self.scale
        z[:, 0] = 1.0
        fitted = z @ self.coef
        return np.asarray(np.exp(fitted + self.resid_var / 2.0), dtype=np.float64)


def fit_har(X: npt.ArrayLike, target: npt.ArrayLike, names: tuple[str, ...] = ()) -> HarFit:
    """OLS of ``ln(target)`` on the design (ridge ``1e-3`` on standardised non-constant columns).

    Raises
    ------
    DataError
        Fewer than ``MIN_ROWS`` complete rows.
    """
    x = np.asarray(X, dtype=float)
    y = np.asarray(target, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(y)
    ok = np.isfinite(x).all(axis=1) & np.isfinite(ly)
    if ok.sum() < MIN_ROWS:
        raise DataError(f"fit_har needs at least {MIN_ROWS} complete rows; found {int(ok.sum())}")
    x, ly = x[ok], ly[ok]
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0
    scale = np.where(scale > 0, scale, 1.0)
    z = (x - mean) / scale
    penalty = _RIDGE * len(z) * np.eye(z.shape[1])
    penalty[0, 0] = 0.0
    coef = np.linalg.solve(z.T @ z + penalty, z.T @ ly)
    resid = ly - z @ coef
    return HarFit(
        names=names,
        coef=coef,
        mean=mean,
        scale=scale,
        resid_var=float(np.mean(resid**2)),
        n_rows=int(ok.sum()),
    )


def qlike(realised: npt.ArrayLike, forecast: npt.ArrayLike) -> FloatArray:
    """QLIKE loss per row: ``RV / F - ln(RV / F) - 1`` (NaN where either is not positive)."""
    rv = np.asarray(realised, dtype=float)
    f = np.asarray(forecast, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = rv / f
        out = ratio - np.log(ratio) - 1.0
    return np.asarray(np.where((rv > 0) & (f > 0), out, np.nan), dtype=np.float64)
