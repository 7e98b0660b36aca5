"""The market-aware forecast: the market's price and our model's, combined by what past markets
taught (STYLE G9 estimator; no store, no labels: ``fit(X, y)`` on the design it is given).

``MarketAwareClassifier`` is a logistic regression fitted by maximum a posteriori with a
Gaussian prior on its coefficients: it minimises

    sum_i w_i logloss(y_i, sigmoid(x_i . beta)) + 1/2 (beta - mu)' Lambda (beta - mu)

by Newton steps. The prior (``prior_mean`` mu, ``prior_precision`` Lambda) is what makes the
model *shrink towards the market when history is thin*: ``market_prior`` puts weight 1 on the
market's logit and 0 on everything else, so with no history the forecast is the market's price.
A fitted model's posterior (``coef_``, ``precision_``: the Hessian at the optimum, the Laplace
approximation) is itself a prior for the next markets, which is how a committed prior is updated
walk-forward (``experiments.learning.market_aware``).

Designs (pure functions of a feature frame, one column per named role):

``market_aware_design``
    ``z_market = logit(prob_market)``, ``z_model = logit(prob_model)`` and the known biases, each
    its own column so the fit can confirm or drop it: favourite-longshot (``longshot``: the
    market's logit on its cheap side only, so cheap contracts can be priced lower than quoted),
    far-strike overpricing on long-dated ladders (``longshot_x_horizon``), horizon compression
    (``z_market_x_horizon``: long-dated prices too close to 50 %, Le 2026), the market's own
    ladder (``ladder_gap``: the neighbouring strikes' interpolated logit minus this one's;
    ``ladder_disagreement``: this strike's model-minus-market logit less the event's mean, the
    part of the disagreement that is the strike's own), touch vs close-beyond coherence
    (``touch_close_gap``: ``logit(2 p_close_beyond)`` minus the touch's logit, or the mirror),
    and the model-market disagreement scaled by quote age and by moneyness. Then per (kind group
    x horizon bucket) a deviation of the intercept and of both slopes (Le 2026: calibration is
    domain x horizon).
``recalibration_design``
    ``z_model`` with a per (kind group x horizon bucket) intercept and slope deviation: Platt
    scaling by kind x horizon; its prior (``identity_prior``) is the model unchanged.

NaN policy: the designs read missing optional features as 0 (no information); ``fit`` and
``predict_proba`` refuse NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from levercast.features._typing import FloatArray
from levercast.models.probability import expit, logit

__all__ = [
    "HORIZON_EDGES_HOURS",
    "KIND_GROUPS",
    "MarketAwareClassifier",
    "PriorStrength",
    "group_labels",
    "identity_prior",
    "market_aware_design",
    "market_prior",
    "recalibration_design",
]

KIND_GROUPS: Final = {
    "touch": "touch",
    "first_of": "touch",
    "close_above": "terminal",
    "close_below": "terminal",
    "range": "terminal",
    "up_down": "up_down",
}
GROUP_NAMES: Final = ("touch", "terminal", "up_down", "other")
HORIZON_EDGES_HOURS: Final = (24.0, 24.0 * 7, 24.0 * 30)
HORIZON_NAMES: Final = ("le1d", "1to7d", "7to30d", "gt30d")
MARKET_EPS: Final = 1e-3  # Polymarket quotes are bounded at 0.001 and 0.999
MODEL_EPS: Final = 1e-4  # far strikes: the model's own logit, capped at about +-9.2
MONEYNESS_CAP: Final = 4.0
# Typical magnitude of each column on real markets (logit units): the prior's precision is
# ``strength * scale**2``, so ``strength`` means the same for every column (a coefficient moving
# the forecast by one logit unit at a typical value costs the same).
COLUMN_SCALES: Final = {
    "const": 1.0,
    "z_market": 3.0,
    "z_model": 4.0,
    "longshot": 3.0,
    "longshot_x_horizon": 10.0,
    "z_market_x_horizon": 10.0,
    "disagreement_x_quote_age": 2.0,
    "disagreement_x_moneyness": 2.0,
    "ladder_gap": 1.0,
    "ladder_disagreement": 2.0,
    "touch_close_gap": 1.0,
}
_CORE: Final = ("z_market", "z_model")


def group_labels(kind: Sequence[str] | pd.Series, horizon_hours: npt.ArrayLike) -> list[str]:
    """``"<kind group>:<horizon bucket>"`` per row (e.g. ``touch:7to30d``)."""
    kinds = [KIND_GROUPS.get(str(k), "other") for k in kind]
    hours = np.nan_to_num(np.asarray(horizon_hours, dtype=float), nan=0.0)
    buckets = np.searchsorted(np.asarray(HORIZON_EDGES_HOURS), hours, side="left")
    return [f"{k}:{HORIZON_NAMES[int(b)]}" for k, b in zip(kinds, buckets, strict=True)]


def _all_groups() -> list[str]:
    return [f"{k}:{h}" for k in GROUP_NAMES for h in HORIZON_NAMES]


def _column(frame: pd.DataFrame, name: str) -> FloatArray:
    if name not in frame.columns:
        return np.zeros(len(frame))
    return np.nan_to_num(np.asarray(frame[name], dtype=float), nan=0.0)


def _check_frame(frame: pd.DataFrame, required: Sequence[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"features must hold columns {list(required)}; missing {missing}")
    for name in ("prob_market", "prob_model"):
        if name in required:
            p = np.asarray(frame[name], dtype=float)
            if not (np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()):
                raise ValueError(f"{name} must be finite probabilities in [0, 1]; found otherwise")


def _with_groups(
    base: dict[str, FloatArray], labels: list[str], slopes: dict[str, FloatArray]
) -> tuple[FloatArray, tuple[str, ...]]:
    names = list(base)
    columns = list(base.values())
    codes = np.asarray(labels)
    for group in _all_groups():
        member = (codes == group).astype(float)
        for slope, values in slopes.items():
            names.append(f"{slope}@{group}")
            columns.append(member * values)
    return np.column_stack(columns).astype(np.float64), tuple(names)


def market_aware_design(features: pd.DataFrame) -> tuple[FloatArray, tuple[str, ...]]:
    """Design matrix of the market-aware forecast and its column names (module docstring).

    Parameters
    ----------
    features
        ``prob_market``, ``prob_model`` (in [0, 1]), ``kind``, ``horizon_hours``; optional
        ``quote_age_hours``, ``abs_moneyness`` (``|log(K/S)| / (sigma sqrt(h))``),
        ``ladder_gap``, ``ladder_disagreement``, ``touch_close_gap`` (logit units; NaN or
        absent = 0, no information).
    """
    _check_frame(features, ("prob_market", "prob_model", "kind", "horizon_hours"))
    z_market = logit(features["prob_market"], eps=MARKET_EPS)
    z_model = logit(features["prob_model"], eps=MODEL_EPS)
    hours = np.clip(np.nan_to_num(np.asarray(features["horizon_hours"], float), nan=0.0), 0, None)
    log_horizon = np.log1p(hours / 24.0)
    longshot = np.minimum(z_market, 0.0)
    disagreement = z_model - z_market
    age = np.log1p(np.clip(_column(features, "quote_age_hours"), 0.0, None))
    moneyness = np.clip(_column(features, "abs_moneyness"), 0.0, MONEYNESS_CAP) / MONEYNESS_CAP
    base = {
        "const": np.ones(len(features)),
        "z_market": z_market,
        "z_model": z_model,
        "longshot": longshot,
        "longshot_x_horizon": longshot * log_horizon,
        "z_market_x_horizon": z_market * log_horizon,
        "disagreement_x_quote_age": disagreement * age,
        "disagreement_x_moneyness": disagreement * moneyness,
        "ladder_gap": _column(features, "ladder_gap"),
        "ladder_disagreement": _column(features, "ladder_disagreement"),
        "touch_close_gap": _column(features, "touch_close_gap"),
    }
    labels = group_labels(features["kind"], hours)
    slopes = {"const": base["const"], "z_market": z_market, "z_model": z_model}
    return _with_groups(base, labels, slopes)


def recalibration_design(features: pd.DataFrame) -> tuple[FloatArray, tuple[str, ...]]:
    """Platt scaling of ``prob_model`` by kind group x horizon bucket (module docstring)."""
    _check_frame(features, ("prob_model", "kind", "horizon_hours"))
    z_model = logit(features["prob_model"], eps=MODEL_EPS)
    hours = np.clip(np.nan_to_num(np.asarray(features["horizon_hours"], float), nan=0.0), 0, None)
    base = {"const": np.ones(len(features)), "z_model": z_model}
    labels = group_labels(features["kind"], hours)
    return _with_groups(base, labels, {"const": base["const"], "z_model": z_model})


@dataclass(frozen=True, slots=True)
class PriorStrength:
    """Precision of the base prior, in units of ``COLUMN_SCALES``: ``intercept`` for ``const``,
    ``core`` for ``z_market`` and ``z_model``, ``bias`` for the bias and ladder terms, ``group``
    for the per (kind x horizon) deviations. Larger: closer to the base prior for longer. The
    intercept gets its own: a level learned from a few dozen markets that mostly resolved one way
    is the noisiest term of all."""

    intercept: float = 100.0
    core: float = 3.0
    bias: float = 30.0
    group: float = 30.0

    def __post_init__(self) -> None:
        for name in ("intercept", "core", "bias", "group"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; found {getattr(self, name)}")

    def of(self, name: str) -> float:
        """The precision of column ``name`` (before its scale)."""
        if "@" in name:
            return self.group
        if name == "const":
            return self.intercept
        return self.core if name in _CORE else self.bias


def _prior(
    names: Sequence[str], one: str, strength: PriorStrength
) -> tuple[FloatArray, FloatArray]:
    mean = np.array([1.0 if n == one else 0.0 for n in names])
    diag = [strength.of(n) * COLUMN_SCALES[n.split("@")[0]] ** 2 for n in names]
    return mean, np.diag(np.asarray(diag))


def market_prior(names: Sequence[str], *, strength: PriorStrength) -> tuple[FloatArray, FloatArray]:
    """ "The market": mean 1 on ``z_market``, 0 elsewhere; diagonal precision from ``strength``
    times each column's squared ``COLUMN_SCALES``."""
    return _prior(names, "z_market", strength)


def identity_prior(
    names: Sequence[str], *, strength: PriorStrength
) -> tuple[FloatArray, FloatArray]:
    """The model unchanged: mean 1 on ``z_model``, 0 elsewhere (as ``market_prior``)."""
    return _prior(names, "z_model", strength)


class MarketAwareClassifier(ClassifierMixin, BaseEstimator):
    """Binary logistic regression, MAP under a Gaussian prior (module docstring).

    Parameters
    ----------
    prior_mean
        Prior mean of the coefficients, shape (n_features,); None: zeros.
    prior_precision
        Prior precision: a float (isotropic), a vector (diagonal) or a matrix
        (n_features x n_features). Must be positive definite: it is what keeps the fit finite
        on thin or one-sided history.
    max_iter, tol
        Newton iterations and the stopping tolerance on the step's largest coefficient change.

    Attributes
    ----------
    coef_
        MAP coefficients.
    precision_
        Posterior precision (Hessian of the objective at ``coef_``): the prior of an update.
    covariance_
        Its inverse, for the uncertainty of the linear predictor (``predict_logit_sd``).

    Notes
    -----
    A single class in ``y`` is accepted only when ``prior_mean`` is given (the prior then keeps
    the answer meaningful: no market resolved Yes yet is information, not an error).
    """

    def __init__(
        self,
        prior_mean: Any = None,
        prior_precision: Any = 1.0,
        max_iter: int = 100,
        tol: float = 1e-9,
    ) -> None:
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _prior_arrays(self, n: int) -> tuple[FloatArray, FloatArray]:
        mean = np.zeros(n) if self.prior_mean is None else np.asarray(self.prior_mean, float)
        if mean.shape != (n,):
            raise ValueError(f"prior_mean must have shape ({n},); found {mean.shape}")
        prec = np.asarray(self.prior_precision, dtype=float)
        if prec.ndim == 0:
            prec = np.eye(n) * float(prec)
        elif prec.ndim == 1:
            prec = np.diag(prec)
        if prec.shape != (n, n) or not np.isfinite(prec).all():
            raise ValueError(
                f"prior_precision must be a float, ({n},) or ({n}, {n}); found {prec.shape}"
            )
        if np.linalg.eigvalsh(0.5 * (prec + prec.T)).min() <= 0:
            raise ValueError("prior_precision must be positive definite; found otherwise")
        return mean, prec

    def _targets(self, y: Any) -> npt.NDArray[np.float64]:
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size > 2:
            raise ValueError(
                "Only binary classification is supported (y is an event's outcome); found "
                f"{classes.size} classes"
            )
        if classes.size == 2:
            self.classes_ = classes
            return (y == classes[1]).astype(np.float64)
        numeric = np.issubdtype(classes.dtype, np.number) or classes.dtype == bool
        if self.prior_mean is None or not numeric or not set(classes.tolist()) <= {0, 1}:
            raise ValueError(
                "y must hold two classes, or one 0/1 class with a prior_mean; found one class"
            )
        self.classes_ = np.array([0, 1])
        return np.asarray(y, dtype=np.float64)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MarketAwareClassifier:
        """MAP coefficients by Newton's method with step halving."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        y01 = self._targets(y)
        n, k = X.shape
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
            raise ValueError(
                "sample_weight must be finite, >= 0, one per row and not all zero; found otherwise"
            )
        mean, prec = self._prior_arrays(k)
        beta = mean.copy()

        def objective(b: FloatArray) -> float:
            z = X @ b
            loss = np.logaddexp(0.0, z) - y01 * z
            d = b - mean
            return float(w @ loss + 0.5 * d @ prec @ d)

        value = objective(beta)
        self.n_iter_ = 0
        for it in range(self.max_iter):
            p = expit(X @ beta)
            grad = X.T @ (w * (p - y01)) + prec @ (beta - mean)
            hess = (X * (w * p * (1 - p))[:, None]).T @ X + prec
            step = np.linalg.solve(hess, grad)
            t = 1.0
            while t > 1e-6:
                trial = beta - t * step
                new = objective(trial)
                if new <= value + 1e-12:
                    break
                t *= 0.5
            beta, value = trial, new
            self.n_iter_ = it + 1
            if np.max(np.abs(t * step)) < self.tol:
                break
        p = expit(X @ beta)
        self.coef_ = beta
        self.precision_ = (X * (w * p * (1 - p))[:, None]).T @ X + prec
        self.covariance_ = np.linalg.inv(self.precision_)
        return self

    def decision_function(self, X: Any) -> FloatArray:
        """The linear predictor (log-odds of the positive class)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(X @ self.coef_)

    def predict_logit_sd(self, X: Any) -> FloatArray:
        """Posterior standard deviation of the linear predictor at each row."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, self.covariance_, X), 0.0))

    def predict_proba(self, X: Any) -> FloatArray:
        """Class probabilities, shape (n, 2)."""
        p1 = expit(self.decision_function(X))
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> Any:
        """Most likely class."""
        positive = self.decision_function(X) >= 0
        return self.classes_[positive.astype(int)]
