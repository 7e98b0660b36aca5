"""Walk-forward fits of the learned forecaster (``experiments.learning.fitting``) for backtests.

The segments come from ``models.learned.splits.walk_forward_splits``: rows with
``decision_time`` in ``[first + k every, first + (k+1) every)`` are predicted by a fit whose
training cut is ``first + k every - purge`` (expanding window): every training contract was
decided before the cut and, its window being at most ``purge`` long, resolved before the first
decision the fit serves. When the fit reports a longer purge of its own it is refitted earlier,
never later. A segment with nothing labelled before its cut, and a row the forecaster marks
``in_domain = False`` (it then answers with ``prob_gbm``), yield NaN: the caller falls back to
``gbm`` and counts it.

What does not change between refits is computed once per run
(``experiments.learning.training_set``): the training grid of every cut, its labels, contract
design, feature rows and liquidation maps (a ``TrainingPool`` over the union of the cuts'
decision times, each cut taking its own rows), and the feature rows and maps of the rows to
predict (``KeyedInputs``, each segment taking its own). Each fit and each prediction is the one
computed from the store for its cut or segment alone, value for value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from levercast.experiments.learning import fitting
from levercast.experiments.learning.fit_cache import (
    load_walk_forward,
    prune_cache,
    save_walk_forward,
    walk_forward_path,
)
from levercast.experiments.learning.training_set import KeyedInputs, TrainingPool
from levercast.experiments.parallel import Progress, no_progress, run_grid
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from levercast.models.learned.design import BASE_FEATURES, TrainingConfig
from levercast.models.learned.forecaster import FittedForecaster
from levercast.models.learned.leverage import SCALAR_INPUTS
from levercast.models.learned.splits import walk_forward_splits

__all__ = ["WalkForwardResult", "walk_forward_predict", "walk_forward_run"]


@dataclass(frozen=True, slots=True)
class _Segment:
    store: Store
    assets: tuple[str, ...]
    cut: datetime
    seed: int
    rows: pd.DataFrame
    config: TrainingConfig | None = None
    pool: TrainingPool | None = None
    inputs: KeyedInputs | None = None
    cached: bool = False


def _cached_path(task: _Segment, cut: datetime) -> Path | None:
    if not task.cached:
        return None
    config = task.config or TrainingConfig()
    return walk_forward_path(task.store, task.assets, config, pd.Timestamp(cut), task.seed)


def _fit(task: _Segment, cut: datetime) -> tuple[FittedForecaster, bool]:
    """The refit at ``cut`` and whether it was taken from the home (``cached``)."""
    path = _cached_path(task, cut)
    if path is not None:
        found = load_walk_forward(path)
        if found is not None:
            return found, True
    # Neither the logistic variant nor the liquidation model is scored by backtests.
    fitted = fitting.fit_default(
        task.store,
        assets=task.assets,
        cut=pd.Timestamp(cut),
        seed=task.seed,
        config=task.config,
        logistic=False,
        liquidations=False,
        pool=task.pool,
    )
    if path is not None and isinstance(fitted, FittedForecaster):
        save_walk_forward(fitted, path)
    return fitted, False


def _fit_predict(task: _Segment) -> tuple[pd.DataFrame, tuple[str, ...], int]:
    """The segment's predictions, the design features of the fit that made them and the
    number of fits taken from the home."""
    try:
        fitted, reused = _fit(task, task.cut)
    except DataError:  # nothing labelled before the cut yet: these rows fall back to gbm
        return pd.DataFrame(index=task.rows.index), (), 0
    first = pd.Timestamp(task.rows["t"].min())
    if first < pd.Timestamp(task.cut) + fitted.purge:
        # The fit's own purge is longer than the configured one: refit earlier, never later.
        fitted, reused = _fit(task, (first - fitted.purge).to_pydatetime())
    # ``start`` is left out: the grid's windows start at ``t`` (the forecaster's default).
    rows = task.rows.drop(columns=["start"], errors="ignore")
    keys = rows[["asset", "t"]]
    used = (*fitted.features, *fitted.leverage)
    inputs = task.inputs
    if inputs is None:
        inputs = KeyedInputs.compute(
            task.store, keys, [*fitted.features, *SCALAR_INPUTS], maps=bool(fitted.leverage)
        )
    if fitted.leverage:
        features, maps = inputs.leverage_inputs(keys, fitted.features)
        return fitted.predict(rows, features, maps), used, int(reused)
    return fitted.predict(rows, inputs.frame(keys, fitted.features)), used, int(reused)


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """Walk-forward predictions and what the fits used.

    Attributes
    ----------
    probs
        ``model -> prob`` aligned with the frame (NaN where the forecaster gives none).
    features
        ``model -> design features`` of its fits (frame features, then the contract-relative
        leverage features; the union over the refits in first-seen order): the backtest JSON's
        ``"features"`` of each learned model (INTERFACE.md §4a).
    segments, reused
        Segments predicted (one refit each, of every configuration) and refits taken from
        ``$LEVERCAST_HOME`` instead of fitted (``cached``).
    """

    probs: dict[str, np.ndarray]
    features: dict[str, tuple[str, ...]]
    segments: int = 0
    reused: int = 0


def walk_forward_run(
    store: Store,
    frame: pd.DataFrame,
    *,
    wanted: list[str],
    assets: tuple[str, ...],
    first: datetime,
    every: timedelta,
    purge: timedelta,
    seed: int,
    engine: str = "threads",
    configs: Mapping[str, TrainingConfig] | None = None,
    cached: bool = False,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """``prob_<model>`` of the learned forecasters, refitted every ``every`` (expanding window).

    Rows with ``decision_time`` in ``[first + k every, first + (k+1) every)`` are predicted by a
    fit with training cut ``first + k every - purge``. ``learned`` and ``default`` share the
    shipped fit; ``default_vol`` is the fit without leverage features (its ``prob_default``).
    ``configs`` replaces the training settings of ``"default"`` (and ``learned``) or
    ``"default_vol"`` (studies of the fit itself, ``experiments.studies.fit_budget``).
    ``cached`` keeps each refit in ``$LEVERCAST_HOME/models`` and takes it from there when the
    same refit (data, settings, seed, cut, code: ``fit_cache.walk_forward_path``) was made
    before: the probabilities are the same, value for value, without the fits.
    ``progress(done, total, label)`` is told of each step: the training pool, the rows' inputs,
    then each refit as it finishes (``total``: the refits of every configuration).
    """
    tick = progress or no_progress
    splits = walk_forward_splits(
        frame["decision_time"], origin=pd.Timestamp(first), every=every, purge=purge
    )
    out = {m: np.full(len(frame), np.nan) for m in wanted}
    used: dict[str, dict[str, None]] = {m: {} for m in wanted}
    groups: dict[str, list[str]] = {}
    for m in wanted:
        groups.setdefault("default_vol" if m == "default_vol" else "default", []).append(m)
    configs = {name: (configs or {}).get(name) or fitting.model_config(name) for name in groups}
    leverage = any(c.use_leverage for c in configs.values())
    pool = inputs = None
    if cached:
        prune_cache()  # refits of older code or data, unused for 30 days
    # The cuts some group has to fit (all of them unless refits are kept and found).
    unfitted = [
        split.cut
        for split in splits
        if not cached
        or any(
            not walk_forward_path(store, assets, c, split.cut, seed).is_file()
            for c in configs.values()
        )
    ]
    total = len(splits) * len(groups)
    if unfitted:
        tick(0, total, "training set")
        # Shared by every refit of every group (the configurations differ in leverage only).
        pool = TrainingPool.build(
            store,
            assets=assets,
            cuts=unfitted,
            config=next(iter(configs.values())),
            leverage=leverage,
        )
    if splits:
        tick(0, total, "inputs")
        wanted_features = [*BASE_FEATURES, *SCALAR_INPUTS] if leverage else list(BASE_FEATURES)
        inputs = KeyedInputs.compute(store, frame[["asset", "t"]], wanted_features, maps=leverage)
    segments = reused = 0
    for name, models in groups.items():
        config = configs[name]
        tasks = [
            _Segment(
                store,
                assets,
                split.cut.to_pydatetime(),
                seed,
                frame.iloc[split.rows],
                config,
                pool,
                inputs,
                cached,
            )
            for split in splits
        ]
        offset = segments

        def finished(done: int, _: int, offset: int = offset) -> None:
            tick(offset + done, total, "refits")

        results = run_grid(_fit_predict, tasks, engine=engine, progress=False, on_done=finished)
        segments += len(tasks)
        for split, (predicted, names, from_home) in zip(splits, results, strict=True):
            reused += from_home
            where = split.rows
            # Outside its domain the forecaster answers with prob_gbm: count that as a fallback.
            domain = np.ones(len(where), bool)
            if "in_domain" in predicted.columns:
                domain = predicted["in_domain"].to_numpy(bool)
            for m in models:
                used[m].update(dict.fromkeys(names))
                column = "prob_default" if m == "default_vol" else f"prob_{m}"
                if column in predicted.columns:
                    out[m][where] = np.where(domain, predicted[column].to_numpy(float), np.nan)
    features = {m: tuple(names) for m, names in used.items()}
    return WalkForwardResult(out, features, segments, reused)


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
    engine: str = "threads",
    cached: bool = False,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """The ``probs`` of ``walk_forward_run`` (NaN where the forecaster gives none)."""
    return walk_forward_run(
        store,
        frame,
        wanted=wanted,
        assets=assets,
        first=first,
        every=every,
        purge=purge,
        seed=seed,
        engine=engine,
        cached=cached,
        progress=progress,
    ).probs
