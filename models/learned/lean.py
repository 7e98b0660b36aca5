"""Fitted classifiers as plain arrays: prediction without importing scikit-learn or LightGBM.

A cached fit is loaded by every ``price``/``ask`` of a learned model; unpickling its
scikit-learn and LightGBM objects imports both libraries (about 2 s of a 4 s answer on a 2-core
machine). ``lean_classifier`` turns a fitted ``TimeCalibratedClassifier``
(``models.learned.estimators``) into a ``LeanClassifier`` holding only numpy arrays, which
predicts what it predicts:

- a LightGBM base: its trees (split feature, threshold, missing-value rule, children, leaf
  values, read from the booster's model text at full precision) summed in tree order from 0, as
  LightGBM sums them (the raw score); the decision rule per node is LightGBM's (NaN goes to 0
  unless the node sends missing values one way, "zero" means ``|x| <= 1e-35f``);
- a logistic pipeline (median imputer with missing indicators, scaler, logistic regression):
  the same operations in the same order, the decision ``X @ coef.T + intercept``;
- sigmoid calibrators: ``expit(-(a f + b))`` of the base's decision function ``f`` (the raw
  score, the logistic decision: what scikit-learn's calibration reads when a base has one), per
  group as the classifier routes them.

The same operations in the same order: identical numbers, up to the last bit of a dot product
(the logistic decision of a row taken alone or among others; measured at most 3e-16 on
probabilities, ``tests/models/learned/test_lean.py``). Uncalibrated LightGBM probabilities
(a fit too small to calibrate) use numpy's ``exp``, which may differ from the C library's in the
last bit.
Anything else (isotonic calibrators, other bases) is not converted: ``lean_classifier`` returns
None and the caller keeps the scikit-learn object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from scipy.special import expit

from levercast.features._typing import FloatArray, IntArray

__all__ = ["LeanClassifier", "LeanLogistic", "LeanTrees", "lean_classifier"]

# LightGBM's kZeroThreshold is the float 1e-35f, compared in double.
_ZERO: Final = float(np.float32(1e-35))
_MISSING_ZERO: Final = 1
_MISSING_NAN: Final = 2
_ROWS: Final = 4096  # rows walked at once (bounds the rows x trees work arrays)


@dataclass(frozen=True, slots=True, eq=False)
class LeanTrees:
    """A binary LightGBM model as arrays (``predict_proba`` of ``LGBMClassifier``): one row per
    tree, nodes and leaves padded, so that every tree is walked at once."""

    feature: IntArray
    threshold: FloatArray
    default_left: np.ndarray
    missing: IntArray
    left: IntArray
    right: IntArray
    leaf_value: FloatArray
    depth: int
    n_features: int

    @classmethod
    def from_lightgbm(cls, model: Any) -> LeanTrees | None:
        """The trees of a fitted binary ``LGBMClassifier`` (None for other objectives or
        categorical splits)."""
        text = model.booster_.model_to_string()
        header, _, body = text.partition("\nTree=")
        head = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
        if head.get("objective", "").split(" ")[0] != "binary" or head.get("num_class") != "1":
            return None
        if "sigmoid:1" not in head.get("objective", ""):
            return None
        trees: list[dict[str, np.ndarray]] = []
        for block in ("Tree=" + body).split("\nTree=")[: int(model.booster_.num_trees())]:
            fields = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            if int(fields.get("num_cat", "0")):
                return None
            leaf_value = np.array(fields["leaf_value"].split(), dtype=np.float64)
            if int(fields["num_leaves"]) == 1:
                # no split: one node sending every row to leaf 0 either way
                one, leaf0 = np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int64)
                trees.append(
                    {
                        "feature": one,
                        "threshold": np.zeros(1),
                        "decision": one,
                        "left": leaf0,
                        "right": leaf0,
                        "leaf_value": leaf_value,
                    }
                )
                continue
            trees.append(
                {
                    "feature": np.array(fields["split_feature"].split(), dtype=np.int64),
                    "threshold": np.array(fields["threshold"].split(), dtype=np.float64),
                    "decision": np.array(fields["decision_type"].split(), dtype=np.int64),
                    "left": np.array(fields["left_child"].split(), dtype=np.int64),
                    "right": np.array(fields["right_child"].split(), dtype=np.int64),
                    "leaf_value": leaf_value,
                }
            )
        if not trees:
            return None

        def padded(name: str, fill: float, dtype: Any) -> np.ndarray:
            width = max(len(t[name]) for t in trees)
            out = np.full((len(trees), width), fill, dtype=dtype)
            for i, t in enumerate(trees):
                out[i, : len(t[name])] = t[name]
            return out

        decision = padded("decision", 0, np.int64)
        return cls(
            feature=padded("feature", 0, np.int64),
            threshold=padded("threshold", 0.0, np.float64),
            default_left=(decision & 2) > 0,
            missing=(decision >> 2) & 3,
            left=padded("left", -1, np.int64),
            right=padded("right", -1, np.int64),
            leaf_value=padded("leaf_value", 0.0, np.float64),
            depth=max(len(t["leaf_value"]) for t in trees),  # a bound on any path's length
            n_features=int(model.n_features_in_),
        )

    def raw(self, X: FloatArray) -> FloatArray:
        """The raw score: leaf values summed in tree order from 0 (a sequential accumulate,
        as LightGBM adds its trees one by one)."""
        n = X.shape[0]
        out = np.zeros(n)
        for start in range(0, n, _ROWS):
            out[start : start + _ROWS] = self._raw(X[start : start + _ROWS])
        return out

    def _raw(self, X: FloatArray) -> FloatArray:
        n, trees = X.shape[0], self.feature.shape[0]
        tree = np.arange(trees)[None, :]
        row = np.arange(n)[:, None]
        node = np.zeros((n, trees), dtype=np.int64)
        leaf = np.zeros((n, trees), dtype=np.int64)
        active = np.ones((n, trees), dtype=bool)
        for _ in range(self.depth):
            value = X[row, self.feature[tree, node]]
            missing = self.missing[tree, node]
            nan = np.isnan(value)
            value = np.where(nan & (missing != _MISSING_NAN), 0.0, value)
            default = ((missing == _MISSING_ZERO) & (value >= -_ZERO) & (value <= _ZERO)) | (
                (missing == _MISSING_NAN) & nan
            )
            go_left = np.where(
                default, self.default_left[tree, node], value <= self.threshold[tree, node]
            )
            child = np.where(go_left, self.left[tree, node], self.right[tree, node])
            done = active & (child < 0)
            leaf[done] = ~child[done]
            active &= child >= 0
            if not active.any():
                break
            node = np.where(active, child, node)
        values = self.leaf_value[tree, leaf]
        return np.asarray(np.add.accumulate(values, axis=1)[:, -1], dtype=np.float64)

    def response(self, X: FloatArray) -> FloatArray:
        """The decision function (the raw score), what a calibrator of the model reads."""
        return self.raw(X)

    def proba(self, X: FloatArray) -> FloatArray:
        """The uncalibrated probability of class 1 (``1 / (1 + exp(-raw))``)."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.raw(X))), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class LeanLogistic:
    """The logistic pipeline (median imputer + missing indicators, scaler, logistic
    regression) as arrays."""

    medians: FloatArray
    indicator: IntArray
    mean: FloatArray | None
    scale: FloatArray | None
    coef: FloatArray
    intercept: FloatArray

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> LeanLogistic | None:
        """The arrays of ``estimators.logistic_classifier()`` once fitted (None for another
        pipeline)."""
        steps = [type(step).__name__ for _, step in pipeline.steps]
        if steps != ["SimpleImputer", "StandardScaler", "LogisticRegression"]:
            return None
        imputer, scaler, logistic = (step for _, step in pipeline.steps)
        if imputer.strategy != "median" or logistic.coef_.shape[0] != 1:
            return None
        if imputer.missing_values == imputer.missing_values:  # only NaN marks missing values
            return None
        indicator = getattr(imputer, "indicator_", None)
        features = (
            np.zeros(0, dtype=np.int64)
            if indicator is None
            else np.asarray(indicator.features_, dtype=np.int64)
        )
        return cls(
            medians=np.asarray(imputer.statistics_, dtype=np.float64),
            indicator=features,
            mean=None if scaler.mean_ is None else np.asarray(scaler.mean_, dtype=np.float64),
            scale=None if scaler.scale_ is None else np.asarray(scaler.scale_, dtype=np.float64),
            coef=np.asarray(logistic.coef_, dtype=np.float64),
            intercept=np.asarray(logistic.intercept_, dtype=np.float64),
        )

    def response(self, X: FloatArray) -> FloatArray:
        """The decision function (what a calibrator of the pipeline reads)."""
        mask = np.isnan(X)
        filled = np.where(mask, self.medians, X)
        Z = np.hstack([filled, mask[:, self.indicator].astype(np.float64)])
        if self.mean is not None:
            Z -= self.mean
        if self.scale is not None:
            Z /= self.scale
        scores = Z @ self.coef.T + self.intercept
        return np.asarray(scores.reshape(-1), dtype=np.float64)

    def proba(self, X: FloatArray) -> FloatArray:
        """The uncalibrated probability of class 1."""
        return np.asarray(expit(self.response(X)), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class LeanClassifier:
    """A ``TimeCalibratedClassifier`` as arrays: base, sigmoid calibrators (``a``, ``b``) per
    group code (``-1``: all rows), the group column."""

    base: LeanTrees | LeanLogistic
    calibrators: dict[int, tuple[float, float] | None]
    group_column: int | None
    classes_: np.ndarray

    @property
    def medians(self) -> FloatArray | None:
        """The training medians of the design columns (logistic base only)."""
        return self.base.medians if isinstance(self.base, LeanLogistic) else None

    def predict_proba(self, X: Any) -> FloatArray:
        """Calibrated class probabilities, shape (n, 2), as the classifier it was made from."""
        X = np.asarray(X, dtype=np.float64)
        general = self.calibrators.get(-1)
        response = self.base.response(X) if self.calibrators else None
        if general is not None:
            assert response is not None
            p1 = _sigmoid(general, response)
        else:
            p1 = self.base.proba(X)
        if self.group_column is not None and response is not None:
            groups = X[:, self.group_column]
            for g, cal in self.calibrators.items():
                if g == -1 or cal is None:
                    continue
                sel = groups == g
                if sel.any():
                    p1[sel] = _sigmoid(cal, response[sel])
        p1 = np.clip(p1, 0.0, 1.0)
        return np.column_stack([1.0 - p1, p1])


def _sigmoid(cal: tuple[float, float], response: FloatArray) -> FloatArray:
    a, b = cal
    p = np.asarray(expit(-(a * response + b)), dtype=np.float64)
    p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0
    return p


def lean_classifier(model: Any) -> LeanClassifier | None:
    """``model`` (a fitted ``TimeCalibratedClassifier``) as a ``LeanClassifier``, or None when
    some part has no lean form (isotonic calibration, another base)."""
    base_model = getattr(model, "base_estimator_", None)
    if base_model is None:
        return None
    base: LeanTrees | LeanLogistic | None
    if type(base_model).__name__ == "LGBMClassifier":
        base = LeanTrees.from_lightgbm(base_model)
    elif type(base_model).__name__ == "Pipeline":
        base = LeanLogistic.from_pipeline(base_model)
    else:
        base = None
    if base is None:
        return None
    from sklearn.utils.validation import _check_response_method

    read = _check_response_method(base_model, ["decision_function", "predict_proba"])
    if read.__name__ != "decision_function":
        return None
    calibrators: dict[int, tuple[float, float] | None] = {}
    for group, cal in model.calibrators_.items():
        if cal is None:
            calibrators[int(group)] = None
            continue
        if type(cal).__name__ != "PlattSigmoid":
            return None  # isotonic: no lean form
        calibrators[int(group)] = (float(cal.a_), float(cal.b_))
    return LeanClassifier(base, calibrators, model.group_column, np.asarray(model.classes_))
