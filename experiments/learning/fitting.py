"""Fitting the learned forecaster: training data from the store, fit, cache, budget, MLflow.

``fit_default(store, assets=..., cut=...)`` assembles the training set
(``experiments.learning.training_set``: labels from ``experiments.labels``) and the
liquidation-volume windows (``experiments.labels.liquidations``), then fits the store-free
models of ``models.learned`` on them. ``load_or_fit`` reuses a fit cached in
``$LEVERCAST_HOME/models`` keyed by (layout version, fingerprint, assets, config, cut) with
``cut + purge <= T``, else fits with ``cut = floor_day(T - purge)`` (refit on data before T,
INTERFACE.md §5); a cached file that does not load as a fit of this layout is refitted, never
trusted. ``fit_with_budget`` runs a cold fit under ``LEVERCAST_COLD_BUDGET_SECS`` (default 40 s).
``learned_pricer(name, ...)`` wraps a usable fit in a ``LearnedPricer``: ``learned`` and
``default`` use the shipped ``TrainingConfig()``, ``default_vol`` the same without leverage
features (``TrainingConfig().vol_only()``; ``model_config``); each config is cached separately.
Pricing itself never fits and never logs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import pandas as pd

from levercast.experiments.learning.liquidations import (
    fit_liquidation_model,
    load_or_fit_liquidations,
)
from levercast.experiments.learning.training_set import assemble_training_set
from levercast.experiments.paths import levercast_home
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.models.learned.design import TrainingConfig
from levercast.models.learned.forecaster import FittedForecaster, fit_forecaster
from levercast.models.learned.pricer import LearnedPricer

__all__ = [
    "COLD_BUDGET_SECS",
    "fit_default",
    "fit_liquidation_model",
    "fit_with_budget",
    "learned_pricer",
    "liquidation_pricer",
    "load_or_fit",
    "model_config",
    "replace_config",
]

COLD_BUDGET_SECS: Final = 40.0
# Bumped whenever the pickled classes move or change: older cache files are then never matched.
CACHE_VERSION: Final = "v3"


def fit_default(
    store: Store,
    *,
    assets: Sequence[str],
    cut: pd.Timestamp,
    seed: int = 0,
    config: TrainingConfig | None = None,
    logistic: bool = True,
    liquidations: bool = True,
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

    Raises
    ------
    DataError
        When no contract can be labelled before ``cut + purge``.
    """
    config = config or TrainingConfig()
    cut = pd.Timestamp(cut)
    if cut.tzinfo is None:
        raise ConfigError(f"cut must be tz-aware UTC; found naive {cut.isoformat()}")
    data = assemble_training_set(store, assets=assets, cut=cut, config=config, seed=seed)
    liq = fit_liquidation_model(store, assets=assets, cut=cut, seed=seed) if liquidations else None
    common: dict[str, Any] = {
        "cut": cut,
        "fingerprint": store.fingerprint(),
        "assets": assets,
        "seed": seed,
        "logistic": logistic,
    }
    companion = None
    if config.uses_companion:
        # the families without leverage are answered by the volatility-only fit of the same rows
        # (without its logistic variant: the band of those families uses the LightGBM alone)
        companion = fit_forecaster(
            data.without_leverage(), config=config.vol_only(), **{**common, "logistic": False}
        )
    return fit_forecaster(data, config=config, liquidations=liq, companion=companion, **common)


def _cache_dir() -> Path:
    path = levercast_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_prefix(fingerprint: str, assets: Sequence[str], config: TrainingConfig) -> str:
    digest = hashlib.sha256(config.key().encode()).hexdigest()[:10]
    return f"forecaster-{CACHE_VERSION}-{fingerprint}-{'+'.join(assets)}-{digest}-"


def _load_cached(path: Path) -> FittedForecaster | None:
    """A cached fit, or None when the file is unreadable or not a fit of this layout."""
    import joblib

    try:
        fitted = joblib.load(path)
    except Exception:  # an unreadable or foreign pickle is refitted, never trusted
        return None
    return fitted if isinstance(fitted, FittedForecaster) else None


def load_or_fit(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    config: TrainingConfig | None = None,
    seed: int = 0,
    max_age_days: float = 7.0,
) -> FittedForecaster:
    """A fit usable at ``at``: cached, or fitted now and cached (joblib).

    A cached fit qualifies when its cut is at most ``max_age_days`` older than
    ``floor_day(at - purge)`` and not newer; otherwise the fit uses that cut.
    """
    import joblib

    config = config or TrainingConfig()
    at = pd.Timestamp(at)
    target = (at - config.purge).floor("D")
    max_age = pd.Timedelta(days=max_age_days)
    prefix = _cache_prefix(store.fingerprint(), assets, config)
    folder = _cache_dir()
    best: tuple[pd.Timestamp, Any] | None = None
    for path in folder.glob(f"{prefix}*.joblib"):
        stamp = pd.Timestamp(path.stem[len(prefix) :].replace("_", ":"))
        if target - max_age <= stamp <= target and (best is None or stamp > best[0]):
            best = (stamp, path)
    if best is not None:
        cached = _load_cached(best[1])
        if cached is not None and cached.usable_at(at):
            return cached
    fitted = fit_default(store, assets=assets, cut=target, seed=seed, config=config)
    final = folder / f"{prefix}{target.isoformat().replace(':', '_')}.joblib"
    tmp = final.with_suffix(f".tmp{os.getpid()}")
    joblib.dump(fitted, tmp)
    tmp.replace(final)
    if os.environ.get("MLFLOW_TRACKING_URI"):
        # Tracking configured explicitly: register the fresh fit under a stable name with its
        # training cut (failures are reported on stderr by log_model and never stop pricing).
        from levercast.experiments.tracking import log_model

        log_model(
            fitted.lightgbm,
            name="levercast-default-lightgbm",
            training_cut=fitted.cut.to_pydatetime(),
            tags={"data_fingerprint": fitted.fingerprint, "assets": ",".join(fitted.assets)},
        )
    return fitted


def model_config(name: str) -> TrainingConfig:
    """The training settings of a learned model: ``default_vol`` is ``default`` without the
    leverage features; ``learned`` and ``default`` share one fit."""
    if name not in ("learned", "default", "default_vol"):
        raise ConfigError(f"name must be 'learned', 'default' or 'default_vol'; found {name!r}")
    config = TrainingConfig()
    return config.vol_only() if name == "default_vol" else config


def fit_with_budget(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    budget_secs: float | None = None,
    config: TrainingConfig | None = None,
) -> tuple[FittedForecaster | None, str | None]:
    """``load_or_fit`` in a worker thread; (None, reason) when it exceeds the budget or fails."""
    budget = budget_secs
    if budget is None:
        budget = float(os.environ.get("LEVERCAST_COLD_BUDGET_SECS", COLD_BUDGET_SECS))
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["fit"] = load_or_fit(store, assets=assets, at=at, config=config)
        except Exception as e:
            result["error"] = e

    worker = threading.Thread(target=work, name="levercast-cold-fit", daemon=True)
    worker.start()
    worker.join(timeout=budget)
    if worker.is_alive():
        return None, f"learned-model-timeout: the cold fit exceeded {budget:.0f} s"
    if "error" in result:
        return None, f"learned-model-unavailable: {result['error']}"
    return result["fit"], None


def replace_config(config: TrainingConfig, **changes: Any) -> TrainingConfig:
    """A copy of ``config`` with ``changes`` (e.g. ``use_leverage=False`` for the ablation)."""
    return replace(config, **changes)


def learned_pricer(
    name: str, store: Store, *, asset: str, at: pd.Timestamp, budget_secs: float | None = None
) -> LearnedPricer:
    """The ``learned`` / ``default`` / ``default_vol`` pricer for ``asset`` at ``at``: a usable
    fit (cached, or fitted now within the cold budget) wrapped in ``LearnedPricer``; without one
    the pricer answers with ``gbm`` and names the reason."""
    fitted, reason = fit_with_budget(
        store,
        assets=(asset,),
        at=pd.Timestamp(at),
        budget_secs=budget_secs,
        config=model_config(name),
    )
    return LearnedPricer(name, fitted, reason)


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
