"""Learned probability models with the scikit-learn estimator contract (STYLE G9).

``TimeCalibratedClassifier`` fits a base classifier on the earlier rows and calibrates it
(isotonic or sigmoid, per group such as the contract kind) on a later fold, with a purge gap
between the two: rows are assumed to be in time order, and the gap keeps labels that resolve
after the calibration fold starts out of the base fit (look-ahead across the split).
``QuantileRegressorSet`` predicts several quantiles of a target (LightGBM quantile objective)
and turns them into exceedance probabilities.

NaN policy: NaN inputs are accepted at fit and predict time (LightGBM natively; the logistic
base imputes medians and adds missing-indicator columns).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_response_method, check_is_fitted, validate_data

from levercast.features._typing import FloatArray

__all__ = [
    "PlattSigmoid",
    "QuantileRegressorSet",
    "TimeCalibratedClassifier",
    "lightgbm_classifier",
    "logistic_classifier",
]


def logistic_classifier(*, c: float = 1.0, random_state: int = 0) -> Pipeline:
    """Median imputer with missing indicators, scaling, L2 logistic regression."""
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=c, max_iter=1000, random_state=random_state),
    )


def lightgbm_classifier(
    *,
    n_estimators: int = 300,
    learning_rate: float = 0.05,
    num_leaves: int = 31,
    min_child_samples: int = 200,
    random_state: int = 0,
    n_jobs: int = 1,
) -> Any:
    """A regularised LightGBM classifier (deterministic for a given seed, whatever ``n_jobs``).

    One thread by default: on the 2-core machine of the benchmarks a fit of the default's
    training set took 1.12-1.22 s on one thread against 1.39-1.40 s on two (53k rows; 5.3 s
    against 5.7 s on 260k rows), identical trees; the cores are better spent fitting the
    forecaster's independent models side by side (``fit_forecaster``)."""
    from lightgbm import LGBMClassifier

    return LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=n_jobs,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )


class PlattSigmoid:
    """Platt's sigmoid calibrator: ``predict(f) = expit(-(a_ f + b_))``.

    Fitted as scikit-learn's ``_sigmoid_calibration`` fits it (Platt's prior-smoothed targets,
    the response scaled down when ``max|f| >= 30``, the same start and L-BFGS-B tolerances), with
    one difference: the gradient's ``sum(g f)`` is numpy's pairwise sum, not a BLAS dot product.
    OpenBLAS splits a dot product of more than 10,000 values across its threads, so scikit-learn's
    fit moved with the number of cores (366 of a 12-month backtest's 142,155 probabilities came
    out 1 ulp apart with one BLAS thread and with two, and so with ``--engine joblib``, whose
    workers run one); this one gives the same ``a_``, ``b_`` bit for bit whatever the threads.
    It is also faster where it matters: the woken BLAS threads spun on the cores the walk-forward
    refits' LightGBM threads needed (a 12-month ``gbm,default`` backtest 26.5-27.4 s against
    29.3-33.9 s, alternated; ``benchmarks/README.md``).
    """

    a_: float
    b_: float

    def fit(self, response: FloatArray, y: npt.ArrayLike) -> PlattSigmoid:
        """Fit ``a_``, ``b_`` by maximum likelihood of the smoothed targets."""
        f = np.asarray(response, dtype=np.float64).reshape(-1)
        y01 = np.asarray(y).reshape(-1) > 0
        if f.shape != y01.shape:
            raise ValueError(
                f"response and y must have the same length; found {f.size} and {y01.size}"
            )
        scale = 1.0
        largest = float(np.max(np.abs(f))) if f.size else 0.0
        if largest >= 30.0:
            scale = largest
            f = f / scale
        prior1 = float(np.count_nonzero(y01))
        prior0 = f.size - prior1
        target = np.where(y01, (prior1 + 1.0) / (prior1 + 2.0), 1.0 / (prior0 + 2.0))

        def loss_grad(ab: FloatArray) -> tuple[float, FloatArray]:
            raw = -(ab[0] * f + ab[1])
            loss = float(np.sum(np.logaddexp(0.0, raw) - target * raw))
            g = expit(raw) - target
            return loss, np.array([-np.sum(g * f), -np.sum(g)], dtype=np.float64)

        start = np.array([0.0, np.log((prior0 + 1.0) / (prior1 + 1.0))])
        options = {"gtol": 1e-6, "ftol": 64 * np.finfo(float).eps}
        ab = minimize(loss_grad, start, method="L-BFGS-B", jac=True, options=options).x
        self.a_, self.b_ = float(ab[0] / scale), float(ab[1])
        return self

    def predict(self, response: npt.ArrayLike) -> FloatArray:
        """Calibrated probabilities of ``response``."""
        f = np.asarray(response, dtype=np.float64).reshape(-1)
        return np.asarray(expit(-(self.a_ * f + self.b_)), dtype=np.float64)


class TimeCalibratedClassifier(ClassifierMixin, BaseEstimator):
    """Binary classifier: base fit on early rows, per-group calibration on a later fold.

    Parameters
    ----------
    estimator
        Base classifier (default: ``logistic_classifier()``); cloned at fit.
    method
        ``"isotonic"`` or ``"sigmoid"`` calibration.
    calibration_fraction
        Share of rows (the latest) used for calibration.
    purge_rows
        Rows dropped between the base-fit rows and the calibration rows. Set it to at least the
        number of rows whose labels resolve within the longest horizon, so the base model never
        sees an outcome that resolves inside the calibration period.
    group_column
        Index of a column holding integer group codes (e.g. contract kind); calibration is fitted
        per group with at least ``min_group_rows`` rows and both classes, else on all rows.
    min_group_rows
        Minimum calibration rows of a group for its own calibrator.
    """

    def __init__(
        self,
        estimator: Any = None,
        method: Literal["isotonic", "sigmoid"] = "isotonic",
        calibration_fraction: float = 0.25,
        purge_rows: int = 0,
        group_column: int | None = None,
        min_group_rows: int = 200,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.calibration_fraction = calibration_fraction
        self.purge_rows = purge_rows
        self.group_column = group_column
        self.min_group_rows = min_group_rows

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    def _validate_params_values(self) -> None:
        if self.method not in ("isotonic", "sigmoid"):
            raise ValueError(f"method must be 'isotonic' or 'sigmoid'; found {self.method!r}")
        if not 0.0 <= self.calibration_fraction < 1.0:
            raise ValueError(
                f"calibration_fraction must be within [0, 1); found {self.calibration_fraction}"
            )
        if self.purge_rows < 0:
            raise ValueError(f"purge_rows must be >= 0; found {self.purge_rows}")

    def fit(self, X: Any, y: Any) -> TimeCalibratedClassifier:
        """Fit the base on early rows and the calibrators on the latest rows."""
        self._validate_params_values()
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type not in ("binary", "unknown") and np.unique(y).size > 2:
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}."
            )
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            raise ValueError(
                f"y must hold exactly two classes (binary outcome); found {self.classes_.size} "
                f"class{'es' if self.classes_.size != 1 else ''}"
                + (" (only one class)" if self.classes_.size == 1 else "")
            )
        y01 = (y == self.classes_[1]).astype(int)
        n = X.shape[0]
        n_cal = int(n * self.calibration_fraction)
        n_fit = n - n_cal - self.purge_rows
        if n_cal < 20 or n_fit < 20 or len(np.unique(y01[:n_fit])) < 2:
            n_fit, n_cal = n, 0
        base = clone(self.estimator) if self.estimator is not None else logistic_classifier()
        base.fit(X[:n_fit], y01[:n_fit])
        self.base_estimator_ = base
        self.calibrators_: dict[int, Any] = {}
        if n_cal:
            X_cal, y_cal = X[n - n_cal :], y01[n - n_cal :]
            # the base's response on the calibration rows, once for every calibrator
            response = self._response(X_cal)
            self.calibrators_[-1] = self._calibrate(response, y_cal)
            if self.group_column is not None:
                groups = X_cal[:, self.group_column]
                for g in np.unique(groups[np.isfinite(groups)]):
                    sel = groups == g
                    if sel.sum() >= self.min_group_rows and len(np.unique(y_cal[sel])) == 2:
                        self.calibrators_[int(g)] = self._calibrate(response[sel], y_cal[sel])
        self.n_calibration_rows_ = n_cal
        return self

    def _response(self, X: FloatArray) -> FloatArray:
        """What the calibrators read: the base's ``decision_function``, else its probability of
        the positive class (the response ``CalibratedClassifierCV`` reads)."""
        read = _check_response_method(self.base_estimator_, ["decision_function", "predict_proba"])
        values = np.asarray(read(X), dtype=np.float64)
        return values[:, 1] if read.__name__ == "predict_proba" else values.reshape(-1)

    def _calibrate(self, response: FloatArray, y: npt.NDArray[np.int_]) -> Any:
        """A calibrator of ``response`` (``.predict(response)`` is the probability).

        The same calibrator, fitted on the same values, as ``CalibratedClassifierCV`` of the
        frozen base (its folds only re-predict the frozen base's rows), without predicting the
        rows again per calibrator: Platt's sigmoid (``PlattSigmoid``: scikit-learn's fit, summed
        the same way on any number of cores) or a clipped isotonic regression."""
        if len(np.unique(y)) < 2:
            return None
        if self.method == "isotonic":
            return IsotonicRegression(out_of_bounds="clip").fit(response, y)
        return PlattSigmoid().fit(response, y)

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated class probabilities, shape (n, 2)."""
        check_is_fitted(self, "base_estimator_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        general = self.calibrators_.get(-1)
        grouped = self.group_column is not None and any(
            g != -1 and cal is not None for g, cal in self.calibrators_.items()
        )
        response = self._response(X) if general is not None or grouped else None
        if general is not None:
            assert response is not None
            p1 = np.asarray(general.predict(response), dtype=np.float64)
        else:
            p1 = self.base_estimator_.predict_proba(X)[:, 1]
        if grouped:
            assert response is not None
            groups = X[:, self.group_column]
            for g, cal in self.calibrators_.items():
                if g == -1 or cal is None:
                    continue
                sel = groups == g
                if sel.any():
                    p1[sel] = cal.predict(response[sel])
        p1 = np.clip(p1, 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> Any:
        """Most likely class."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]


class QuantileRegressorSet(RegressorMixin, BaseEstimator):
    """One LightGBM quantile regressor per level; ``predict`` is the median.

    Parameters
    ----------
    quantiles
        Increasing levels in (0, 1); must include 0.5.
    n_estimators, learning_rate, num_leaves, min_child_samples, random_state
        LightGBM settings shared by every level.
    """

    def __init__(
        self,
        quantiles: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95),
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        random_state: int = 0,
    ) -> None:
        self.quantiles = quantiles
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any) -> QuantileRegressorSet:
        """Fit one regressor per quantile level."""
        from lightgbm import LGBMRegressor

        qs = np.asarray(self.quantiles, dtype=float)
        if qs.size == 0 or np.any(np.diff(qs) <= 0) or qs[0] <= 0 or qs[-1] >= 1:
            raise ValueError(f"quantiles must increase strictly within (0, 1); found {qs}")
        if not np.any(np.isclose(qs, 0.5)):
            raise ValueError(f"quantiles must include 0.5; found {qs}")
        X, y = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype=np.float64, y_numeric=True
        )
        self.models_ = []
        for q in qs:
            model = LGBMRegressor(
                objective="quantile",
                alpha=float(q),
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                random_state=self.random_state,
                n_jobs=1,
                deterministic=True,
                force_row_wise=True,
                verbose=-1,
            )
            model.fit(X, y)
            self.models_.append(model)
        self.quantiles_ = qs
        return self

    def predict_quantiles(self, X: Any) -> FloatArray:
        """Predicted quantiles, shape (n, len(quantiles)), sorted along each row."""
        check_is_fitted(self, "models_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        out = np.column_stack([m.predict(X) for m in self.models_])
        return np.sort(out, axis=1)

    def predict(self, X: Any) -> FloatArray:
        """The median prediction."""
        qs = self.predict_quantiles(X)
        return qs[:, int(np.argmin(np.abs(self.quantiles_ - 0.5)))]

    def prob_above(self, X: Any, threshold: float | FloatArray) -> FloatArray:
        """P(target > threshold) by linear interpolation of the quantile function.

        Beyond the outer quantiles the tail mass is shrunk linearly to the nearest level
        (e.g. above the 0.95 quantile the probability is at most 0.05).
        """
        qs = self.predict_quantiles(X)
        levels = self.quantiles_
        thr = np.broadcast_to(np.asarray(threshold, dtype=float), (qs.shape[0],))
        out = np.empty(qs.shape[0])
        for i in range(qs.shape[0]):
            row = qs[i]
            if thr[i] <= row[0]:
                out[i] = 1.0 - levels[0] * max(0.0, thr[i] / row[0]) if row[0] > 0 else 1.0
            elif thr[i] >= row[-1]:
                out[i] = (1.0 - levels[-1]) * (row[-1] / thr[i] if thr[i] > 0 else 1.0)
            else:
                out[i] = 1.0 - float(np.interp(thr[i], row, levels))
        return np.clip(out, 0.0, 1.0)
