"""Walk-forward fits of the learned forecaster (``experiments.learning.fitting``) for backtests.

Rows with ``decision_time`` in ``[first + k every, first + (k+1) every)`` are predicted by a fit
whose training cut is ``first + k every - purge`` (expanding window): every training contract was
decided before the cut and, its window being at most ``purge`` long, resolved before the first
decision the fit serves. When the fit reports a longer purge of its own it is refitted earlier,
never later. A segment with nothing labelled before its cut, and a row the forecaster marks
``in_domain = False`` (it then answers with ``prob_gbm``), yield NaN: the caller falls back to
``gbm`` and counts it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import DataError

__all__ = ["walk_forward_predict"]


def _load_forecaster() -> Any | None:
    try:
        return importlib.import_module("levercast.experiments.learning.fitting")
    except ModuleNotFoundError as e:
        if e.name in ("levercast.experiments.learning.fitting", "experiments"):
            return None
        raise


@dataclass(frozen=True, slots=True)
class _Segment:
    store: Store
    assets: tuple[str, ...]
    cut: datetime
    seed: int
    rows: pd.DataFrame


_FIT_OPTIONS: Final = {"logistic": False, "liquidations": False}  # not scored by backtests


def _fit(module: Any, task: _Segment, cut: datetime) -> Any:
    return module.fit_default(
        task.store, assets=task.assets, cut=cut, seed=task.seed, **_FIT_OPTIONS
    )


def _fit_predict(task: _Segment) -> pd.DataFrame:
    module = _load_forecaster()
    assert module is not None
    try:
        fitted = _fit(module, task, task.cut)
    except DataError:  # nothing labelled before the cut yet: these rows fall back to gbm
        return pd.DataFrame(index=task.rows.index)
    first = pd.Timestamp(task.rows["t"].min())
    purge = getattr(fitted, "purge", None)
    if purge is not None and first < pd.Timestamp(task.cut) + purge:
        # The fit's own purge is longer than the configured one: refit earlier, never later.
        cut = (first - purge).to_pydatetime()
        fitted = _fit(module, task, cut)
    # ``start`` is left out: the grid's windows start at ``t`` (the forecaster's default), and
    # its ``_domain`` check of a ``start`` column fails (reported to the learned-models issue).
    rows = task.rows.drop(columns=["start"], errors="ignore")
    out: pd.DataFrame = fitted.predict_frame(task.store, rows)
    return out


def walk_forward_predict(
    store: Store,
    frame: pd.DataFrame,
    *,
    wanted: list[str],
    assets: tuple[str, ...],
    first: datetime,
    every: timedelta,
    purge: timedelta,
    seed: int,
    engine: str = "serial",
) -> dict[str, np.ndarray] | None:
    """``prob_<model>`` of the learned forecaster, refitted every ``every`` (expanding window).

    Rows with ``decision_time`` in ``[first + k every, first + (k+1) every)`` are predicted by a
    fit with training cut ``first + k every - purge``. NaN where the forecaster gives none.
    None when ``experiments.learning.fitting`` is not available.
    """
    from levercast.experiments.parallel import run_grid

    if _load_forecaster() is None:
        return None
    t = frame["decision_time"]
    origin = pd.Timestamp(first)
    segment = ((t - origin) // every).to_numpy(dtype=np.int64)
    tasks = []
    for k in np.unique(segment):
        rows = frame[segment == k]
        cut = (origin + int(k) * every - purge).to_pydatetime()
        tasks.append(_Segment(store, assets, cut, seed, rows))
    results = run_grid(_fit_predict, tasks, engine=engine, progress=False)
    out = {m: np.full(len(frame), np.nan) for m in wanted}
    position = pd.Series(np.arange(len(frame)), index=frame.index)
    for task, predicted in zip(tasks, results, strict=True):
        where = position.loc[task.rows.index].to_numpy()
        # Outside its domain the forecaster answers with prob_gbm: count that as a fallback.
        domain = np.ones(len(where), bool)
        if "in_domain" in predicted.columns:
            domain = predicted["in_domain"].to_numpy(bool)
        for m in wanted:
            column = f"prob_{m}"
            if column in predicted.columns:
                out[m][where] = np.where(domain, predicted[column].to_numpy(float), np.nan)
    return out
