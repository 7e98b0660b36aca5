"""What moved a learned answer: the effect of each input against its typical value.

Store-free: a ``FittedForecaster``, contract rows and their point-in-time inputs (frame features
and maps) in, one ``InputEffect`` per model input out, largest first.

Definition (``input_effects``)
    The inputs are the learned model's own: its volatility features (``fitted.features``) and
    its contract-relative leverage features (``fitted.leverage``). The effect of input ``j`` on a
    row is

        effect_j = p - p_j

    where ``p`` is the model's answer for the row (``prob_default`` or ``prob_learned``) and
    ``p_j`` the answer of the same fit with input ``j`` pinned to its training median, every
    other input as it is. Pinning acts wherever the fit reads ``j``: the row itself, the z-nodes
    its strike is interpolated between, the terminal contracts of the coherent ``c(K)`` and the
    volatility-only companion when it reads ``j``. So ``effect_j`` is in probability units and
    signed: +0.04 means the input as it is now raised the answer by 4 points against a typical
    value. Effects are one at a time and need not add up to ``p - p_gbm`` (the model is not
    additive). The contract's own columns (moneyness, horizon, the ``gbm`` logit) are not
    inputs in this sense: they say what is asked, not what the market looks like.

Training medians
    The medians of the latest training rows (at most 60,000) as the fit's logistic variant
    recorded them (its median imputer). A fit without the logistic variant has no medians:
    ``training_medians`` is None and no effect is computed.

NaN policy: an input whose value is NaN for the row still gets an effect (the fit reads a NaN
there); an effect that is not finite is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.liqmap.contract_maps import SnapshotMaps
from levercast.models.learned.design import CONTRACT_COLUMNS
from levercast.models.learned.forecaster import FittedForecaster

__all__ = ["InputEffect", "input_effects", "training_medians"]

_COLUMNS: Final = {"default": "prob_default", "learned": "prob_learned"}


@dataclass(frozen=True, slots=True)
class InputEffect:
    """One input's effect on an answer (module docstring).

    Attributes
    ----------
    name
        The input (a design column of the fit).
    value
        Its value for the contract (None when missing).
    median
        Its training median (the neutral value).
    effect
        ``p - p(name at its median)``, in probability units.
    """

    name: str
    value: float | None
    median: float
    effect: float

    def to_json_dict(self) -> dict[str, Any]:
        """``{"name", "value", "effect"}`` (INTERFACE.md §4 ``ask`` drivers) plus ``median``."""
        return {
            "name": self.name,
            "value": self.value,
            "effect": self.effect,
            "median": self.median,
        }


def _design_names(fitted: FittedForecaster) -> list[str]:
    return [*CONTRACT_COLUMNS, *fitted.features, *fitted.leverage]


def training_medians(fitted: FittedForecaster) -> dict[str, float] | None:
    """Design column -> training median, from the logistic variant's median imputer; None when
    the fit has no logistic variant (or it holds no imputer)."""
    classifier: Any = fitted.logistic
    statistics = getattr(classifier, "medians", None)  # a lean fit (models.learned.lean)
    if statistics is None:
        base = getattr(classifier, "base_estimator_", None)
        steps = getattr(base, "steps", None)
        if not steps:
            return None
        statistics = getattr(steps[0][1], "statistics_", None)
    names = _design_names(fitted)
    if statistics is None or len(statistics) != len(names):
        return None
    return {name: float(v) for name, v in zip(names, statistics, strict=True)}


def _row_values(
    fitted: FittedForecaster,
    rows: pd.DataFrame,
    features: pd.DataFrame,
    maps: SnapshotMaps | None,
) -> dict[str, float | None]:
    """Each input's value for the first row (frame features at its (asset, t); leverage
    features of the row itself)."""
    out: dict[str, float | None] = {}
    keyed = features.set_index(["asset", "ts"])
    key = (str(rows["asset"].iloc[0]), pd.Timestamp(rows["t"].iloc[0]))
    for name in fitted.features:
        value = keyed[name].get(key, np.nan) if name in keyed else np.nan
        out[name] = float(value) if np.isfinite(value) else None
    leverage = fitted.leverage_of(rows.iloc[:1], features, maps)
    for name in leverage.columns:
        value = float(leverage[name].iloc[0])
        out[str(name)] = value if np.isfinite(value) else None
    return out


def input_effects(
    fitted: FittedForecaster,
    rows: pd.DataFrame,
    features: pd.DataFrame,
    maps: SnapshotMaps | None = None,
    *,
    model: str = "default",
    medians: Mapping[str, float] | None = None,
) -> list[InputEffect]:
    """The effect of each input on the answer for one contract row, largest first.

    Parameters
    ----------
    fitted
        The fit that answered.
    rows
        One contract row (``FittedForecaster.predict`` columns).
    features, maps
        Its point-in-time inputs, as for ``predict``.
    model
        ``default`` or ``learned``: the answer whose drivers are wanted.
    medians
        Neutral values by input (default: ``training_medians(fitted)``).

    Returns
    -------
    list of InputEffect
        Sorted by ``abs(effect)``, largest first; empty without medians.

    Raises
    ------
    ConfigError
        ``rows`` not one row, or an unknown ``model``.
    """
    if len(rows) != 1:
        raise ConfigError(f"rows must hold exactly one contract row; found {len(rows)}")
    if model not in _COLUMNS:
        raise ConfigError(f"model must be one of {sorted(_COLUMNS)}; found {model!r}")
    neutral = dict(medians) if medians is not None else training_medians(fitted)
    if not neutral:
        return []
    column = _COLUMNS[model]
    inputs = [
        (name, float(neutral[name]))
        for name in [*fitted.features, *fitted.leverage]
        if neutral.get(name) is not None and np.isfinite(neutral[name])
    ]
    # One call: the row as it is, then once per input pinned to its median (predict's pins).
    copies = rows.loc[rows.index.repeat(len(inputs) + 1)].reset_index(drop=True)
    pins: list[tuple[str, float] | None] = [None, *inputs]
    answers = fitted.predict(copies, features, maps, rowwise=True, pins=pins)[column]
    answers = answers.to_numpy(np.float64)
    values = _row_values(fitted, rows, features, maps)
    out = []
    for (name, median), pinned in zip(inputs, answers[1:], strict=True):
        effect = float(answers[0] - pinned)
        if np.isfinite(effect):
            out.append(InputEffect(name, values.get(name), median, effect))
    out.sort(key=lambda e: abs(e.effect), reverse=True)
    return out
