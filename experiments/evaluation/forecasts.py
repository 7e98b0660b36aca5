"""The forecasts ``evaluate`` scores at each observation of a real market.

``base_probs``: the model's own probability, point in time: ``gbm`` (vectorised closed forms);
``learned``/``default``/``default_vol`` from ``experiments.learning.fitting`` refitted
walk-forward every 30 days with a 30-day purge (rows it cannot forecast take ``gbm``, counted);
any other built-in pricer row by row through ``price_contract``.

``market_aware_probs`` and ``recalibrated_probs``: the walk-forward fits of
``experiments.learning.market_aware`` on the observations' features, each market's outcome
used only from its ``known_at`` on, starting from the committed priors of
``experiments/studies/polymarket_eval`` (``<design>_prior_<base model>.json``) when they exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.backtest.walk_forward import walk_forward_predict
from levercast.experiments.learning.market_aware import (
    CoefficientPrior,
    WalkForward,
    load_coefficient_prior,
    walk_forward,
)
from levercast.experiments.learning.market_observations import ObservationSet
from levercast.experiments.parallel import Progress
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError, UnsupportedContract

__all__ = ["LEARNED", "base_probs", "market_aware_probs", "recalibrated_probs"]

LEARNED: Final = ("learned", "default", "default_vol")
_RETRAIN: Final = timedelta(days=30)
_PURGE: Final = timedelta(days=30)


def base_probs(
    store: Store,
    obs: pd.DataFrame,
    sets: ObservationSet,
    model: str,
    seed: int,
    *,
    cached: bool = False,
    progress: Progress | None = None,
) -> tuple[np.ndarray, str, int]:
    """(probability, model used, rows that fell back to ``gbm``) given ``obs["prob_gbm"]``;
    ``cached``: the learned models' refits are kept and reused (``walk_forward_run``), each
    reported to ``progress`` as it finishes."""
    gbm = obs["prob_gbm"].to_numpy(float)
    if model == "gbm":
        return gbm, "gbm", 0
    if model in LEARNED:
        frame = _learned_rows(obs, sets)
        probs = walk_forward_predict(
            store,
            frame,
            wanted=[model],
            assets=tuple(sorted(obs["asset"].unique())),
            first=obs["t"].min().floor("D").to_pydatetime(),
            every=_RETRAIN,
            purge=_PURGE,
            seed=seed,
            cached=cached,
            progress=progress,
        )
        p = np.full(len(obs), np.nan)
        p[frame.index.to_numpy()] = probs[model]
        missing = ~np.isfinite(p)
        return np.where(missing, gbm, p), model, int(missing.sum())
    from levercast.models.pricing.price import price_contract
    from levercast.models.pricing.pricers import BUILTIN_PRICERS

    if model not in BUILTIN_PRICERS:
        raise ConfigError(
            f"model must be market_aware, {', '.join(LEARNED)} or one of "
            f"{list(BUILTIN_PRICERS)}; found {model!r}"
        )
    pricer = BUILTIN_PRICERS[model]
    out = gbm.copy()
    fallbacks = 0
    for i, (market_id, t) in enumerate(zip(obs["market_id"], obs["t"], strict=True)):
        try:
            out[i] = price_contract(
                sets.contracts[market_id], store.at(t), pricer=pricer, seed=seed
            ).prob
        except (DataError, ConfigError, UnsupportedContract):
            fallbacks += 1
    return out, model, fallbacks


def _learned_rows(obs: pd.DataFrame, sets: ObservationSet) -> pd.DataFrame:
    """``models.learned.contract_grid``-style rows of the observations the learned forecaster
    can take: windows already begun (or starting at t) with a deadline; the rest take ``gbm``."""
    contracts = [sets.contracts[m] for m in obs["market_id"]]
    start = pd.to_datetime([c.start for c in contracts], utc=True)
    end = pd.to_datetime([c.end if c.end is not None else pd.NaT for c in contracts], utc=True)
    t = pd.DatetimeIndex(obs["t"])
    frame = pd.DataFrame(
        {
            "asset": obs["asset"].to_numpy(),
            "t": t,
            "decision_time": t,
            "kind": obs["kind"].to_numpy(),
            "horizon_hours": (end - t).total_seconds() / 3600.0,
            "end": end,
            "strike_usd": [c.strike_usd if c.strike_usd is not None else np.nan for c in contracts],
            "lower_usd": [c.lower_usd if c.lower_usd is not None else np.nan for c in contracts],
            "upper_usd": [c.upper_usd if c.upper_usd is not None else np.nan for c in contracts],
            "threshold": [c.threshold if c.threshold is not None else np.nan for c in contracts],
            "direction": [c.direction or "" for c in contracts],
            "monitoring": [c.monitoring_rule.value for c in contracts],
            "spot_usd": obs["spot_usd"].to_numpy(float),
            "vol_annual": obs["vol_annual"].to_numpy(float),
            "reference_usd": obs["reference_usd"].to_numpy(float),
        }
    )
    usable = (start <= t) & end.notna() & np.isfinite(frame["vol_annual"].to_numpy())
    return frame[np.asarray(usable)]


def _describe(fit: WalkForward, prior: CoefficientPrior | None) -> dict[str, Any]:
    return {
        "prior": None
        if prior is None
        else {
            "cut": prior.cut,
            "tuned_until": prior.tuned_until,
            "fitted_on": prior.fitted_on,
            "strength": prior.strength,
        },
        "fits": fit.fits,
        "last_history_markets": int(fit.history_markets.max()) if len(fit.prob) else 0,
        "last_coefficients": {k: round(v, 4) for k, v in fit.last_coef.items() if "@" not in k},
    }


def market_aware_probs(
    features: pd.DataFrame, obs: pd.DataFrame, base_model: str
) -> tuple[WalkForward, dict[str, Any]]:
    """The market-aware forecast at every observation, walk-forward (module docstring)."""
    prior = load_coefficient_prior("market_aware", base_model)
    fit = walk_forward("market_aware", features, obs, prior=prior)
    info = {"base_model": base_model, **_describe(fit, prior)}
    if prior is None:
        info["note"] = (
            f"no committed market-aware prior for base model {base_model}: starts from the "
            "market alone"
        )
    return fit, info


def recalibrated_probs(
    features: pd.DataFrame, obs: pd.DataFrame, model: str
) -> tuple[WalkForward, dict[str, Any]]:
    """The model's probabilities recalibrated by kind x horizon, walk-forward."""
    prior = load_coefficient_prior("recalibration", model)
    fit = walk_forward("recalibration", features, obs, prior=prior)
    info = {"rule": "Platt scaling by kind x horizon, walk-forward", **_describe(fit, prior)}
    if prior is None:
        info["note"] = f"no committed recalibration prior for {model}: starts from the model"
    return fit, info
