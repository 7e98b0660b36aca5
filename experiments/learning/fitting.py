"""Fitting the learned forecaster: training data from the store, fit, cache, budget, MLflow.

``fit_default(store, assets=..., cut=...)`` assembles the training set
(``experiments.learning.training_set``: labels from ``experiments.labels``) and the
liquidation-volume windows (``experiments.labels.liquidations``), then fits the store-free
models of ``models.learned`` on them.

``find_or_fit`` gives a fit usable at ``T`` and says how it was obtained: the best cached fit
under the reuse rule of ``experiments.learning.fit_cache`` (``cut + purge <= T``, a cut at most
30 days behind ``floor_day(T - purge)``, the current data fingerprint first, then an earlier
state of the same data directory), else a fit made now with ``cut = floor_day(T - purge)``
(refit on data before T, INTERFACE.md §5) and cached. ``load_or_fit`` is the same, returning the
fit only. ``fit_with_budget`` runs it in a worker thread under ``LEVERCAST_COLD_BUDGET_SECS``
(default 40 s) and gives up (the caller answers with ``gbm``) past it.

Answering one question (``build_pricer(name, ..., kind=K)``) fits only what answers it
(``question_config``): the asset asked, the contract kind asked plus the two terminal kinds that
make the coherent ``c(K)`` of ``default`` (close_above, close_below), no liquidation-volume model
(a ``liquidations_above`` question has its own cheap model), and no volatility-only companion
when every family asked is answered by the leverage model. Such a fit is a model of its own
(trained on fewer kinds than the full ``default``, cached under its own configuration); a cached
fit trained on every kind the question needs is accepted in its place (``covering_configs``:
another question's fit, e.g. a touch question's for a close question, or the full
configuration's), so questions asked one after another share one fit where they can.
``default`` and ``default_vol`` answer range and first_of contracts with ``gbm`` by construction
(``models.learned.forecaster``), so those questions need no fit at all. Without ``kind``
(``scan``, ``report``: many kinds per asset) the full configuration is fitted, liquidation model
included.

Every learned answer says in its ``warnings`` which fit answered: reused (its cut, its data) or
fitted now (its cut and wall time), or why ``gbm`` answered instead. Pricing itself never fits
and never logs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import pandas as pd

from levercast.experiments.learning.fit_cache import (
    MAX_REUSE_DAYS,
    CachedFit,
    cache_path,
    load_fit,
    prune_cache,
    save_fit,
    single_threaded,
    usable_fits,
)
from levercast.experiments.learning.liquidations import (
    fit_liquidation_model,
    load_or_fit_liquidations,
)
from levercast.experiments.learning.training_set import TrainingPool, assemble_training_set
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.timeutil import format_utc
from levercast.models.contracts import Kind
from levercast.models.learned.beside import beside
from levercast.models.learned.contract_grid import GRID_KINDS
from levercast.models.learned.design import FAMILIES, TrainingConfig
from levercast.models.learned.forecaster import FittedForecaster, fit_forecaster
from levercast.models.learned.liquidation_volume import LiquidationVolumeModel
from levercast.models.learned.pricer import LearnedPricer

__all__ = [
    "COLD_BUDGET_SECS",
    "BuiltPricer",
    "FitOutcome",
    "build_pricer",
    "covering_configs",
    "find_or_fit",
    "fit_default",
    "fit_liquidation_model",
    "fit_with_budget",
    "learned_pricer",
    "liquidation_pricer",
    "load_or_fit",
    "model_config",
    "question_config",
    "replace_config",
]

COLD_BUDGET_SECS: Final = 40.0
# The event families of each grid kind (a move is one-way or either way).
_FAMILIES_OF: Final[dict[str, frozenset[str]]] = {
    "touch": frozenset({"touch"}),
    "close_above": frozenset({"terminal_beyond"}),
    "close_below": frozenset({"terminal_beyond"}),
    "up_down": frozenset({"terminal_beyond"}),
    "range": frozenset({"range"}),
    "first_of": frozenset({"first_of"}),
    "move": frozenset({"terminal_beyond", "move_either"}),
}
_TERMINAL: Final = ("close_above", "close_below")
_GBM_BY_CONSTRUCTION: Final = ("range", "first_of")


def fit_default(
    store: Store,
    *,
    assets: Sequence[str],
    cut: pd.Timestamp,
    seed: int = 0,
    config: TrainingConfig | None = None,
    logistic: bool = True,
    liquidations: bool = True,
    pool: TrainingPool | None = None,
) -> FittedForecaster:
    """Fit the learned/default forecaster on contracts decided at or before ``cut``.

    Parameters
    ----------
    store
        The dataset.
    assets
        Assets whose grid contracts are pooled (e.g. ``("BTC", "ETH")``).
    cut
        Last decision time of the training contracts (tz-aware); use the model at
        ``T >= cut + config.purge``.
    seed
        Seed of the row subsample and LightGBM.
    config
        Sizes and settings (default ``TrainingConfig()``: decisions every 24 h over 540 days).
    logistic, liquidations
        Also fit the logistic variant / the liquidation-volume model.
    pool
        The grid, labels and inputs shared by several cuts (walk-forward refits): the training
        set is taken from it when it covers ``cut`` (the same set, value for value), else
        assembled from the store.

    Raises
    ------
    DataError
        When no contract can be labelled before ``cut + purge``.
    """
    config = config or TrainingConfig()
    cut = pd.Timestamp(cut)
    if cut.tzinfo is None:
        raise ConfigError(f"cut must be tz-aware UTC; found naive {cut.isoformat()}")
    # LightGBM's OpenMP threads spin while idle by default; on a busy 2-core machine two spinning
    # threads made one fit 3x slower (3.6 s with 1 thread, 11.7 s with 2, 4.7 s with 2 passive).
    # Read when the OpenMP runtime starts: it has no effect once LightGBM is loaded.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if pool is not None and pool.covers(cut, config) and pool.assets == tuple(assets):
        data = pool.training_set(cut, config=config, seed=seed)
    else:
        data = assemble_training_set(store, assets=assets, cut=cut, config=config, seed=seed)
    common: dict[str, Any] = {
        "cut": cut,
        "fingerprint": store.fingerprint(),
        "assets": assets,
        "seed": seed,
        "logistic": logistic,
    }

    # The fits are independent and each deterministic: the volatility-only companion and the
    # liquidation-volume model are fitted on a second thread (LightGBM releases the GIL) while
    # the main forecaster fits on this one; the result is the same as fitted one after another.
    def side_fits() -> tuple[FittedForecaster | None, LiquidationVolumeModel | None]:
        companion = None
        if config.uses_companion:
            # the families without leverage are answered by the volatility-only fit of the same
            # rows (without its logistic variant: the band of those families uses LightGBM alone)
            companion = fit_forecaster(
                data.without_leverage(), config=config.vol_only(), **{**common, "logistic": False}
            )
        liq = (
            fit_liquidation_model(store, assets=assets, cut=cut, seed=seed)
            if liquidations
            else None
        )
        return companion, liq

    side = beside(side_fits)
    main = fit_forecaster(data, config=config, **common)
    companion, liq = side.result()
    return replace(main, companion=companion, liquidations=liq)


@dataclass(frozen=True, slots=True)
class FitOutcome:
    """A fit for pricing at a time, and how it was obtained.

    Attributes
    ----------
    fitted
        The fit (None when none could be had within the budget or at all).
    note
        Which fit it is, in words, for the answer's ``warnings`` (empty without a fit).
    reason
        Why ``fitted`` is None (``learned-model-timeout: ...``, ``learned-model-unavailable:
        ...``).
    """

    fitted: FittedForecaster | None
    note: str = ""
    reason: str | None = None


def _kinds_text(config: TrainingConfig) -> str:
    return "all grid kinds" if set(config.kinds) == set(GRID_KINDS) else ", ".join(config.kinds)


def _reused_note(found: CachedFit, fitted: FittedForecaster, at: pd.Timestamp) -> str:
    newest = (at - fitted.purge).floor("D")
    age = (newest - fitted.cut) / pd.Timedelta(days=1)
    note = (
        f"reused the cached fit of {'+'.join(fitted.assets)} ({_kinds_text(fitted.config)}) with "
        f"training cut {format_utc(fitted.cut)}, usable from cut + purge "
        f"{format_utc(fitted.cut + fitted.purge)}; {age:.0f} days older than a fit made now "
        f"would be (fits more than {MAX_REUSE_DAYS:.0f} days older are refitted)"
    )
    if not found.same_data:
        note += (
            f"; fitted on an earlier state of this data directory (data fingerprint "
            f"{found.fingerprint})"
        )
    return note


def find_or_fit(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    config: TrainingConfig | None = None,
    seed: int = 0,
    max_age_days: float = MAX_REUSE_DAYS,
    liquidations: bool = True,
    alternatives: Sequence[TrainingConfig] = (),
) -> FitOutcome:
    """A fit usable at ``at``: the best cached one, else fitted now and cached (a pickle file).

    Parameters
    ----------
    store, assets, at
        The dataset, the assets trained on, the decision time (tz-aware).
    config
        The configuration to fit when nothing cached qualifies (default ``TrainingConfig()``).
    seed
        Seed of a new fit.
    max_age_days
        Largest age of a reused cut behind ``floor_day(at - purge)``
        (``experiments.learning.fit_cache``).
    liquidations
        Fit the liquidation-volume model with a new fit.
    alternatives
        Other configurations whose cached fits are accepted in place of ``config``'s (never
        fitted here), preferred after ``config`` at an equal cut.

    Returns
    -------
    FitOutcome
        ``fitted`` is never None here; ``note`` says which fit it is.
    """
    config = config or TrainingConfig()
    at = pd.Timestamp(at)
    configs = [config, *alternatives]
    for found in usable_fits(
        store, assets=assets, at=at, configs=configs, max_age_days=max_age_days
    ):
        cached = load_fit(found.path)
        if cached is not None and cached.usable_at(at):
            return FitOutcome(cached, _reused_note(found, cached, at))
    cut = (at - config.purge).floor("D")
    started = time.perf_counter()
    fitted = fit_default(
        store, assets=assets, cut=cut, seed=seed, config=config, liquidations=liquidations
    )
    seconds = time.perf_counter() - started
    path = cache_path(store, assets, config, cut)
    save_fit(fitted, path)
    prune_cache()  # fits of older code are never read again
    trained = fitted
    # Answer with the fit as it is cached (lean: a later answer from the cache is this one).
    fitted = single_threaded(fitted.lean())  # pricing predicts small batches
    if os.environ.get("MLFLOW_TRACKING_URI"):
        # Tracking configured explicitly: register the fresh fit under a stable name with its
        # training cut (failures are reported on stderr by log_model and never stop pricing).
        from levercast.experiments.tracking import log_model

        log_model(
            trained.lightgbm,
            name="levercast-default-lightgbm",
            training_cut=fitted.cut.to_pydatetime(),
            tags={"data_fingerprint": fitted.fingerprint, "assets": ",".join(fitted.assets)},
        )
    note = (
        f"fitted now on {'+'.join(assets)} ({_kinds_text(config)}) contracts decided up to the "
        f"training cut {format_utc(cut)} in {seconds:.1f} s, usable from cut + purge "
        f"{format_utc(cut + config.purge)}; cached for later answers"
    )
    return FitOutcome(fitted, note)


def load_or_fit(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    config: TrainingConfig | None = None,
    seed: int = 0,
    max_age_days: float = MAX_REUSE_DAYS,
) -> FittedForecaster:
    """``find_or_fit``'s fit: a cached fit usable at ``at``, else one fitted now and cached."""
    outcome = find_or_fit(
        store, assets=assets, at=at, config=config, seed=seed, max_age_days=max_age_days
    )
    assert outcome.fitted is not None
    return outcome.fitted


def model_config(name: str) -> TrainingConfig:
    """The training settings of a learned model: ``default_vol`` is ``default`` without the
    leverage features; ``learned`` and ``default`` share one fit."""
    if name not in ("learned", "default", "default_vol"):
        raise ConfigError(f"name must be 'learned', 'default' or 'default_vol'; found {name!r}")
    config = TrainingConfig()
    return config.vol_only() if name == "default_vol" else config


def question_config(name: str, kind: Kind | str) -> TrainingConfig | None:
    """The training settings that answer one ``kind`` question with model ``name`` (module
    docstring); None when ``name`` answers ``kind`` with ``gbm`` and needs no fit."""
    kind = Kind(kind).value
    full = model_config(name)
    if name != "learned" and kind in _GBM_BY_CONSTRUCTION:
        return None
    if kind not in GRID_KINDS:
        return full
    kinds = tuple(k for k in GRID_KINDS if k == kind or k in _TERMINAL)
    config = replace(full, kinds=kinds)
    families = frozenset().union(*(_FAMILIES_OF[k] for k in kinds))
    if config.leverage_families is not None and families <= set(config.leverage_families):
        # every family asked is answered by the leverage model: no companion to fit
        config = replace(config, leverage_families=None)
    elif config.leverage_families is not None:
        kept = tuple(f for f in FAMILIES if f in config.leverage_families and f in families)
        config = replace(config, leverage_families=kept or None)
    return config


def covering_configs(name: str, kind: Kind | str) -> tuple[TrainingConfig, ...]:
    """Configurations whose cached fits also answer a ``kind`` question with model ``name``:
    the other questions' fits trained on every kind it needs (every question fit holds the two
    terminal kinds), then the full configuration; empty when the question needs no fit."""
    needed = question_config(name, kind)
    if needed is None:
        return ()
    out: list[TrainingConfig] = []
    for other in GRID_KINDS:
        config = question_config(name, other)
        if config is not None and config != needed and set(config.kinds) >= set(needed.kinds):
            out.append(config)
    return (*dict.fromkeys(out), model_config(name))


def fit_with_budget(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    budget_secs: float | None = None,
    config: TrainingConfig | None = None,
    liquidations: bool = True,
    alternatives: Sequence[TrainingConfig] = (),
) -> FitOutcome:
    """``find_or_fit`` in a worker thread; without a fit (and with the reason) when it exceeds
    the budget or fails. In a long-lived process (a notebook) a fit past the budget goes on in
    the background and is cached when done."""
    budget = budget_secs
    if budget is None:
        budget = float(os.environ.get("LEVERCAST_COLD_BUDGET_SECS", COLD_BUDGET_SECS))
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["fit"] = find_or_fit(
                store,
                assets=assets,
                at=at,
                config=config,
                liquidations=liquidations,
                alternatives=alternatives,
            )
        except Exception as e:  # reported as the reason gbm answered instead
            result["error"] = e

    worker = threading.Thread(target=work, name="levercast-cold-fit", daemon=True)
    worker.start()
    worker.join(timeout=budget)
    if worker.is_alive():
        return FitOutcome(
            None, reason=f"learned-model-timeout: the cold fit exceeded {budget:.0f} s"
        )
    if "error" in result:
        return FitOutcome(None, reason=f"learned-model-unavailable: {result['error']}")
    outcome: FitOutcome = result["fit"]
    return outcome


def replace_config(config: TrainingConfig, **changes: Any) -> TrainingConfig:
    """A copy of ``config`` with ``changes`` (e.g. ``use_leverage=False`` for the ablation)."""
    return replace(config, **changes)


@dataclass(frozen=True, slots=True)
class BuiltPricer:
    """A learned pricer and what the answer should say about it.

    Attributes
    ----------
    pricer
        The ``LearnedPricer`` (``gbm`` answers, named in its warnings, without a fit).
    notes
        Sentences for the answer's ``warnings``: which fit answered, reused or fitted now.
    """

    pricer: LearnedPricer
    notes: tuple[str, ...] = ()

    @property
    def fitted(self) -> FittedForecaster | None:
        """The fit behind the pricer (None: ``gbm`` or the liquidation model answers)."""
        return self.pricer.fitted


def build_pricer(
    name: str,
    store: Store,
    *,
    asset: str,
    at: pd.Timestamp,
    kind: Kind | str | None = None,
    budget_secs: float | None = None,
) -> BuiltPricer:
    """The ``learned`` / ``default`` / ``default_vol`` pricer for ``asset`` at ``at`` (module
    docstring); ``kind`` (the question's) narrows the fit to what answers it."""
    at = pd.Timestamp(at)
    asked = None if kind is None else Kind(kind)
    if asked is Kind.LIQUIDATIONS_ABOVE:
        return BuiltPricer(liquidation_pricer(name, store, asset=asset, at=at))
    full = model_config(name)
    config = full if asked is None else question_config(name, asked)
    if config is None:
        reason = (
            f"{name} prices {asked} contracts with the closed form by construction "
            "(the learned version lost to gbm out of sample, experiments/studies/learned_models/"
            "README.md): no fit is needed"
        )
        return BuiltPricer(LearnedPricer(name, None, reason))
    outcome = fit_with_budget(
        store,
        assets=(asset,),
        at=at,
        budget_secs=budget_secs,
        config=config,
        liquidations=kind is None,
        alternatives=() if asked is None else covering_configs(name, asked),
    )
    pricer = LearnedPricer(name, outcome.fitted, outcome.reason)
    notes = (f"{name}: {outcome.note}",) if outcome.note else ()
    return BuiltPricer(pricer, notes)


def learned_pricer(
    name: str,
    store: Store,
    *,
    asset: str,
    at: pd.Timestamp,
    budget_secs: float | None = None,
    kind: Kind | str | None = None,
) -> LearnedPricer:
    """``build_pricer``'s pricer: a usable fit (cached, or fitted now within the cold budget)
    wrapped in ``LearnedPricer``; without one the pricer answers with ``gbm`` and names the
    reason."""
    return build_pricer(name, store, asset=asset, at=at, kind=kind, budget_secs=budget_secs).pricer


def liquidation_pricer(name: str, store: Store, *, asset: str, at: pd.Timestamp) -> LearnedPricer:
    """The pricer ``name`` for ``liquidations_above`` questions on ``asset`` (``ALL``: every
    asset with liquidations): only the cheap liquidation-volume model is fitted (or loaded); the
    climatology answers, named in the warnings, when it cannot be fitted."""
    model = load_or_fit_liquidations(store, asset=asset, at=pd.Timestamp(at))
    reason = (
        "the price model is not fitted for a liquidations_above question"
        if model is not None
        else "liquidation model unavailable: too few liquidation windows labelled before "
        f"{(pd.Timestamp(at) - pd.Timedelta(days=7)).floor('D').isoformat()}"
    )
    return LearnedPricer(name, None, reason, liquidations=model)
