"""Score a forecaster against real prediction-market odds: ``run_evaluate(store, model=...)``.

Observations and the point-in-time ``gbm`` forecast come from
``experiments.learning.market_observations`` (they are the market-aware forecast's history too);
the model's probabilities from ``experiments.evaluation.forecasts``; the blend from
``experiments.evaluation.blend``, the edge rule from ``experiments.evaluation.trading`` and the
scores from ``experiments.evaluation.scores``. The model sees each market's question, rules,
outcomes, ``created_at`` and ``end_date`` only; outcomes (``winning_outcome``) are read by the
harness to score, and by the walk-forward fits only from the time each was public.

Columns scored on identical rows:

``model``
    ``--model market_aware``: the market-aware forecast over ``market_aware_base`` (``gbm``).
    Any other model: its probabilities recalibrated by kind x horizon, walk-forward
    (``model_raw`` keeps them as the model gave them; ``recalibrate=False`` scores them raw).
``market``
    The YES price.
``blend``
    The logarithmic pool of the market and the base model's raw probabilities with the online
    weight of ``experiments.evaluation.blend`` (the simplest combination, as before).
``market_aware``
    (models other than ``market_aware``) the market-aware forecast over this model.

``held_out`` scores the markets known after the committed prior's ``tuned_until``: no choice
was made on them. ``fit_blend_prior`` refits the blend prior; its entry point is
``python -m levercast.experiments.studies.polymarket_eval.fit_prior --data DIR --cut T``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.evaluation.blend import (
    BlendPrior,
    blend_weight,
    load_prior,
    online_blend,
)
from levercast.experiments.evaluation.forecasts import (
    base_probs,
    market_aware_probs,
    recalibrated_probs,
)
from levercast.experiments.evaluation.scores import (
    exclusion_check,
    group_rows,
    held_out_scores,
    score_sources,
)
from levercast.experiments.evaluation.trading import TradingRule, simulate_trading
from levercast.experiments.learning.market_aware import WalkForward
from levercast.experiments.learning.market_features import market_features
from levercast.experiments.learning.market_observations import scored_observations
from levercast.experiments.parallel import Progress, counted, no_progress, one_blas_thread
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from levercast.features.timeutil import format_utc, parse_utc
from levercast.models.probability import expit, logit

__all__ = ["EvaluationResult", "fit_blend_prior", "run_evaluate", "score_forward_log"]

_SOURCES: Final = ("model", "market", "blend")
Z90: Final = 1.6448536269514722  # two-sided 90 % normal quantile


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """An evaluation: the scored observations, the scores and what was left out.

    Attributes
    ----------
    observations
        One row per scored observation: ``market_id, family, kind, asset, t, quote_kind,
        prob_market, prob_gbm, prob_model_raw, prob_model, prob_blend, w_blend, outcome,
        known_at, path_venue`` and the features of the market-aware forecast.
    scores
        The JSON body (see ``to_json_dict``).
    model
        The model requested; ``scores["model_used"]`` names the one that produced the forecasts.
    """

    observations: pd.DataFrame
    scores: dict[str, Any]
    model: str

    def to_frame(self) -> pd.DataFrame:
        """The scored observations."""
        return self.observations

    def to_json_dict(self) -> dict[str, Any]:
        """INTERFACE.md §4 and §4a ``evaluate`` object (plus extra keys)."""
        return dict(self.scores)


def _books(store: Store) -> pd.DataFrame | None:
    if not store.has("books"):
        return None
    from datetime import UTC, datetime

    return store.as_of("books", datetime.now(UTC))  # every archived book known now


def _band(fit: WalkForward) -> dict[str, np.ndarray]:
    """The 90 % band of a walk-forward forecast from its coefficients' uncertainty."""
    z = logit(fit.prob, eps=1e-9)
    return {
        "logit_sd": fit.logit_sd,
        "prob_lo": expit(z - Z90 * fit.logit_sd),
        "prob_hi": expit(z + Z90 * fit.logit_sd),
    }


def _forecast_columns(
    store: Store,
    obs: pd.DataFrame,
    sets: Any,
    model: str,
    base: str,
    seed: int,
    recalibrate: bool,
    cached: bool,
    tick: Progress,
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The model (and market-aware) columns, what produced them, and the sources to score."""
    tick(0, None, f"{base} probabilities")
    raw, used, fallbacks = base_probs(store, obs, sets, base, seed, cached=cached, progress=tick)
    raw = np.clip(raw, 0.0, 1.0)
    features = market_features(obs, sets.contracts, raw)
    obs = pd.concat(
        [
            obs.assign(prob_model_raw=raw),
            features.drop(columns=["prob_market", "prob_model", "kind"]),
        ],
        axis=1,
    )
    info: dict[str, Any] = {"model_used": used, "fallbacks_to_gbm": fallbacks}
    sources = list(_SOURCES)
    tick(0, None, "market-aware model")
    aware, aware_info = market_aware_probs(features, obs, base)
    if model == "market_aware":
        info["model_used"] = f"market_aware over {used}"
        info["market_aware"] = aware_info
        return obs.assign(prob_model=aware.prob, **_band(aware)), info, sources
    obs = obs.assign(prob_market_aware=aware.prob)
    info["market_aware"] = aware_info
    sources.append("market_aware")
    if recalibrate:
        tick(0, None, "recalibration")
        recal, recal_info = recalibrated_probs(features, obs, base)
        info["recalibration"] = recal_info
        sources.append("model_raw")
        return obs.assign(prob_model=recal.prob, **_band(recal)), info, sources
    info["recalibration"] = None
    return obs.assign(prob_model=raw), info, sources


def run_evaluate(
    store: Store,
    *,
    model: str = "default",
    seed: int = 0,
    prior: BlendPrior | None = None,
    rule: TradingRule | None = None,
    market_aware_base: str = "gbm",
    recalibrate: bool = True,
    cached: bool = False,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Score ``model`` against the dataset's prediction markets (see module docstring).

    Parameters
    ----------
    store
        The dataset (needs ``markets``, ``market_prices`` and ``candles``; ``books`` optional).
    model
        ``market_aware``, ``gbm``, ``learned``, ``default``, ``default_vol`` or another
        built-in pricer.
    seed
        Bootstrap and fit seed.
    prior
        Blend prior; default: the committed
        ``experiments/studies/polymarket_eval/blend_prior.json`` (``blend.load_prior``).
    rule
        Trading rule; default ``TradingRule()`` (fees from the venue's schedule).
    market_aware_base
        The model under ``market_aware`` (its committed prior was fitted with ``gbm``).
    recalibrate
        Recalibrate a model other than ``market_aware`` by kind x horizon (walk-forward).
    cached
        Keep the learned model's walk-forward refits in ``$LEVERCAST_HOME`` and reuse them
        (``experiments.backtest.walk_forward``; the same probabilities, value for value).
    progress
        Told of each step as ``progress(done, total, label)`` (the walk-forward refits counted).
    """
    with one_blas_thread():  # the same numbers on any number of cores
        return _evaluate(
            store,
            model=model,
            seed=seed,
            prior=prior,
            rule=rule,
            market_aware_base=market_aware_base,
            recalibrate=recalibrate,
            cached=cached,
            progress=progress or no_progress,
        )


def _evaluate(
    store: Store,
    *,
    model: str,
    seed: int,
    prior: BlendPrior | None,
    rule: TradingRule | None,
    market_aware_base: str,
    recalibrate: bool,
    cached: bool,
    progress: Progress,
) -> EvaluationResult:
    tick = counted(progress)

    for table in ("markets", "market_prices"):
        if not store.has(table):
            raise DataError(f"evaluate needs the {table} table; found none in {store.root}")
    prior = prior if prior is not None else load_prior()
    tick(0, None, "observations")
    sets = scored_observations(store)
    obs = sets.obs
    base = market_aware_base if model == "market_aware" else model
    scores: dict[str, Any] = {
        "markets": int(obs["market_id"].nunique()) if len(obs) else 0,
        "observations": len(obs),
        "coverage": {
            **sets.coverage,
            "evaluated": int(obs["market_id"].nunique()) if len(obs) else 0,
        },
        "excluded": dict(sorted(sets.excluded.items())),
        "unsupported": sets.unsupported,
        "model": model,
        "model_used": base,
        "fallbacks_to_gbm": 0,
        "notes": exclusion_check(sets.excluded, len(obs)),
    }
    if obs.empty:
        scores["notes"].append("no observation could be scored")
        return EvaluationResult(obs, scores, model)
    obs, info, sources = _forecast_columns(
        store, obs, sets, model, base, seed, recalibrate, cached, tick
    )
    tick(0, None, "scores")
    scores.update(model_used=info["model_used"], fallbacks_to_gbm=info["fallbacks_to_gbm"])
    blend, w = online_blend(obs, obs["prob_model_raw"].to_numpy(float), prior)
    obs = obs.assign(prob_blend=blend, w_blend=w)
    scores.update(score_sources(obs, sources, seed))
    scores["by_family"] = group_rows(obs, ["family", "kind"], sources, seed)
    scores["by_kind"] = group_rows(obs, ["kind"], sources, seed)
    tick(0, None, "trading")
    scores["trading"] = simulate_trading(
        obs,
        obs["prob_model"].to_numpy(float),
        rule or TradingRule(),
        markets=sets.markets,
        contracts=sets.contracts,
        books=_books(store),
        seed=seed,
    )
    # The same rule at the point forecast, without the band's margin: what trading on it alone
    # would have done (a sensitivity, never the headline).
    scores["trading_point_forecast"] = simulate_trading(
        obs.drop(columns=["prob_lo", "prob_hi"], errors="ignore"),
        obs["prob_model"].to_numpy(float),
        rule or TradingRule(),
        markets=sets.markets,
        contracts=sets.contracts,
        books=_books(store),
        seed=seed,
    )
    tuned = (info.get("market_aware") or {}).get("prior") or {}
    recal = (info.get("recalibration") or {}).get("prior") or {}
    since = tuned.get("tuned_until") if model == "market_aware" else recal.get("tuned_until")
    tick(0, None, "held-out scores")
    scores["held_out"] = held_out_scores(obs, since or tuned.get("tuned_until"), sources, seed)
    scores["path_venues"] = {str(k): int(v) for k, v in obs["path_venue"].value_counts().items()}
    scores["ambiguous_paths_priced"] = int((obs["ambiguity"] != "").sum())
    scores["market_aware"] = info["market_aware"]
    scores["recalibration"] = info.get("recalibration")
    scores["blend"] = {
        "rule": "logit pool of the market and the base model, weight refitted on markets "
        "resolved before each observation, shrunk to the prior",
        "prior": None
        if prior is None
        else {"w_model": prior.w_model, "cut": prior.cut, "fitted_on": prior.fitted_on},
        "final_w_model": float(w[-1]),
    }
    return EvaluationResult(obs, scores, model)


def _empty_forward(note: str) -> EvaluationResult:
    scores: dict[str, Any] = {
        "markets": 0,
        "observations": 0,
        "coverage": {"resolved_with_prices": 0, "evaluated": 0},
        "excluded": {},
        "unsupported": [],
        "model": "forward log",
        "notes": [note],
    }
    return EvaluationResult(pd.DataFrame(), scores, "forward log")


def score_forward_log(store: Store, home: Path, *, seed: int = 0) -> EvaluationResult:
    """Score the forward log (``home/forecasts.parquet`` or ``home/forecasts/``, INTERFACE §6).

    Rows are those of ``experiments.evaluation.forward_log`` (``at``, ``market_id``, ``prob``,
    ``yes_outcome``, the logged quote ``prob_bid``/``prob_ask`` whose mid is the market's
    probability); a row is scored once its market has a winner in ``store`` that resolved after
    the row's time. Without a log: an empty result with a note.
    """
    with one_blas_thread():  # the same numbers on any number of cores
        return _score_forward_log(store, home, seed=seed)


def _score_forward_log(store: Store, home: Path, *, seed: int) -> EvaluationResult:
    from levercast.experiments.evaluation.forward_log import forecasts_path, read_forecasts

    log = read_forecasts(home)
    if log.empty:
        return _empty_forward(
            f"no forward log in {forecasts_path(home)}: live scan/report have not logged "
            "any forecast yet, so there is nothing to score"
        )
    time_col = "at"
    bid = pd.to_numeric(log["prob_bid"], errors="coerce")
    ask = pd.to_numeric(log["prob_ask"], errors="coerce")
    # The market's probability at logging time: the mid of the logged quote (one side if only
    # one was quoted); rows logged without any quote cannot be compared with the market.
    log = log.assign(prob_market=((bid + ask) / 2).fillna(bid).fillna(ask))
    markets = store.read("markets").set_index("market_id")
    log = log.join(markets[["winning_outcome", "resolved_at", "family"]], on="market_id")
    yes = log["yes_outcome"] if "yes_outcome" in log.columns else "Yes"
    t = pd.to_datetime(log[time_col], utc=True)
    done = log["winning_outcome"].notna() & log["resolved_at"].notna() & (log["resolved_at"] > t)
    obs = log[done].assign(t=t[done], outcome=(log["winning_outcome"] == yes)[done].astype(float))
    if obs.empty:
        return _empty_forward(f"{len(log)} logged forecasts, none of a resolved market yet")
    no_quote = obs["prob_market"].isna()
    obs = obs[~no_quote]
    if obs.empty:
        return _empty_forward(f"{len(log)} logged forecasts, none resolved with a logged quote")
    obs = obs.assign(prob_model=obs["prob"].astype(float), prob_market=obs["prob_market"])
    obs = obs.assign(prob_blend=obs["prob_model"])
    scores: dict[str, Any] = {
        "markets": int(obs["market_id"].nunique()),
        "observations": len(obs),
        "coverage": {
            "resolved_with_prices": int(obs["market_id"].nunique()),
            "evaluated": int(obs["market_id"].nunique()),
        },
        "excluded": {
            "not resolved yet": int((~done).sum()),
            "no quote logged": int(no_quote.sum()),
        },
        "unsupported": [],
        "model": "forward log",
        "notes": ["forward log: the blend is the logged model probability"],
    }
    obs = obs.reset_index(drop=True)
    scores.update(score_sources(obs, _SOURCES, seed))
    return EvaluationResult(obs, scores, "forward log")


def fit_blend_prior(store: Store, *, cut: str, model: str = "gbm", command: str = "") -> BlendPrior:
    """Fit the blend's prior weight on the markets resolved before ``cut``."""
    stamp = pd.Timestamp(parse_utc(cut, name="cut"))
    sets = scored_observations(store)
    obs = sets.obs
    if obs.empty:
        raise DataError(f"no observation of {store.root} could be scored")
    prob, _, _ = base_probs(store, obs, sets, model, 0)
    obs = obs.assign(prob_model=prob)
    fit = obs[obs["resolved_at"].notna() & (obs["resolved_at"] < stamp)]
    if fit.empty:
        raise DataError(f"no market resolved before cut {cut} has scored observations")
    markets = sorted(fit["market_id"].unique())
    return BlendPrior(
        w_model=blend_weight(fit, fit["prob_model"].to_numpy(float)),
        strength_markets=float(len(markets)),
        cut=format_utc(stamp.to_pydatetime()),
        fitted_on=f"{store.root.name} (fingerprint {store.fingerprint()}): {len(markets)} "
        f"markets resolved before {format_utc(stamp.to_pydatetime())}, {len(fit)} observations, "
        f"model {model}",
        markets=[str(m) for m in markets],
        command=command,
    )
