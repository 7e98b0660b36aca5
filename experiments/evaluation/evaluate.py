"""Score a forecaster against real prediction-market odds: ``run_evaluate(store, model=...)``.

Observations and the point-in-time ``gbm`` forecast come from
``experiments.evaluation.observations``;
the blend from ``experiments.evaluation.blend`` and the edge rule from
``experiments.evaluation.trading``. The model sees each market's
question, rules, outcomes, ``created_at`` and ``end_date`` only; outcomes (``winning_outcome``)
are read here, by the harness, to score. ``family`` groups results only.

Scores: Brier and log loss of the model, the market (the YES price) and the blend on identical
rows; skill vs the market ``1 - Brier/Brier_market`` with a day-clustered bootstrap 90 % CI, and
the same with each market weighted equally (weight ``1 / observations of the market``); per
family and kind; coverage, exclusions by reason, unsupported markets and the trading simulation.

Models: ``gbm`` (vectorised closed forms); ``learned``/``default`` from
``experiments.learning.fitting`` refitted walk-forward every 30 days with a 30-day purge (rows it
cannot forecast take ``gbm``, counted); any other registered pricer row by row through
``price_contract``. When the learned forecaster is not available, ``gbm`` is used and named.

``fit_blend_prior`` refits the blend prior; its entry point is
``python -m levercast.experiments.studies.polymarket_eval.fit_prior --data DIR --cut T``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.backtest.walk_forward import walk_forward_predict
from levercast.experiments.evaluation.blend import (
    BlendPrior,
    blend_weight,
    load_prior,
    online_blend,
)
from levercast.experiments.evaluation.observations import (
    ObservationSet,
    build_observations,
    gbm_observation_probs,
)
from levercast.experiments.evaluation.trading import TradingRule, simulate_trading
from levercast.experiments.metrics import model_metrics, skill, weighted_cluster_skill
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError, UnsupportedContract
from levercast.features.timeutil import format_utc, parse_utc

__all__ = ["EvaluationResult", "fit_blend_prior", "run_evaluate", "score_forward_log"]

_LEARNED: Final = ("learned", "default")
_RETRAIN: Final = timedelta(days=30)
_PURGE: Final = timedelta(days=30)
_SOURCES: Final = ("model", "market", "blend")


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """An evaluation: the scored observations, the scores and what was left out.

    Attributes
    ----------
    observations
        One row per scored observation: ``market_id, family, kind, asset, t, quote_kind,
        prob_market, prob_gbm, prob_model, prob_blend, w_blend, outcome, path_venue``.
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
        """INTERFACE.md §4 ``evaluate`` object (plus extra keys)."""
        return dict(self.scores)


def _model_probs(
    store: Store, obs: pd.DataFrame, sets: ObservationSet, model: str, seed: int
) -> tuple[np.ndarray, str, list[str], int]:
    """(prob_model, model_used, notes, fallbacks) given ``obs["prob_gbm"]``."""
    gbm = obs["prob_gbm"].to_numpy(float)
    if model == "gbm":
        return gbm, "gbm", [], 0
    if model in _LEARNED:
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
        )
        p = np.full(len(obs), np.nan)
        p[frame.index.to_numpy()] = probs[model]
        missing = ~np.isfinite(p)
        return np.where(missing, gbm, p), model, [], int(missing.sum())
    from levercast.models.pricing.price import price_contract
    from levercast.models.pricing.pricers import BUILTIN_PRICERS

    if model not in BUILTIN_PRICERS:
        raise ConfigError(
            f"model must be learned, default or one of {list(BUILTIN_PRICERS)}; found {model!r}"
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
    return out, model, [], fallbacks


def _learned_rows(obs: pd.DataFrame, sets: ObservationSet) -> pd.DataFrame:
    """``models.learned.contract_grid``-style rows of the observations the learned forecaster can
    take:
    windows already begun (or starting at t) with a deadline; the rest fall back to ``gbm``."""
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


def _scores(obs: pd.DataFrame, seed: int) -> dict[str, Any]:
    y = obs["outcome"].to_numpy(float)
    days = obs["t"].dt.floor("D").to_numpy()
    weights = 1.0 / obs.groupby("market_id")["market_id"].transform("size").to_numpy(float)
    market = obs["prob_market"].to_numpy(float)
    metrics = {s: model_metrics(obs[f"prob_{s}"].to_numpy(float), y) for s in _SOURCES}
    out: dict[str, Any] = {
        "brier": {s: metrics[s]["brier"] for s in _SOURCES},
        "log_loss": {s: metrics[s]["log_loss"] for s in _SOURCES},
        "ece": {s: metrics[s]["ece"] for s in _SOURCES},
        "skill_vs_market": {},
        "skill_vs_market_equal_markets": {},
        "reliability": {s: metrics[s]["reliability"] for s in _SOURCES},
    }
    for s in ("model", "blend"):
        p = obs[f"prob_{s}"].to_numpy(float)
        est = skill(p, market, y, days, seed=seed)
        out["skill_vs_market"][s] = {"value": est["value"], "ci90": est["ci90"]}
        out["skill_vs_market_equal_markets"][s] = weighted_cluster_skill(
            p, market, y, days, weights, seed=seed
        )
    return out


def _group_rows(obs: pd.DataFrame, keys: list[str], seed: int) -> list[dict[str, Any]]:
    rows = []
    for key, part in obs.groupby(keys, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        y = part["outcome"].to_numpy(float)
        entry: dict[str, Any] = dict(zip(keys, values, strict=True))
        entry.update(markets=int(part["market_id"].nunique()), observations=len(part))
        entry["brier"] = {s: float(np.mean((part[f"prob_{s}"] - y) ** 2)) for s in _SOURCES}
        entry["log_loss"] = {s: model_metrics(part[f"prob_{s}"], y)["log_loss"] for s in _SOURCES}
        est = skill(part["prob_model"], part["prob_market"], y, part["t"].dt.floor("D"), seed=seed)
        entry["skill_vs_market"] = {"model": {"value": est["value"], "ci90": est["ci90"]}}
        rows.append(entry)
    return rows


def _prepare(store: Store, model: str, seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    sets = build_observations(store)
    obs = sets.obs
    excluded: Counter[str] = Counter(sets.excluded)
    info: dict[str, Any] = {"unsupported": sets.unsupported, "coverage": dict(sets.coverage)}
    if obs.empty:
        info.update(excluded=dict(excluded), notes=[], model_used=model, fallbacks=0)
        return obs, info
    inputs, reasons = gbm_observation_probs(store, obs, sets.contracts)
    obs = pd.concat([obs, inputs], axis=1)
    for reason in reasons:
        if reason is not None:
            excluded[reason] += 1
    keep = np.array([r is None for r in reasons]) & np.isfinite(obs["prob_gbm"].to_numpy())
    obs = obs[keep].reset_index(drop=True)
    prob, used, notes, fallbacks = _model_probs(store, obs, sets, model, seed)
    obs = obs.assign(prob_model=np.clip(prob, 0.0, 1.0))
    info.update(excluded=dict(sorted(excluded.items())), notes=notes, model_used=used)
    info["fallbacks"] = fallbacks
    return obs, info


def run_evaluate(
    store: Store,
    *,
    model: str = "default",
    seed: int = 0,
    prior: BlendPrior | None = None,
    rule: TradingRule | None = None,
) -> EvaluationResult:
    """Score ``model`` against the dataset's prediction markets (see module docstring).

    Parameters
    ----------
    store
        The dataset (needs ``markets``, ``market_prices`` and ``candles``).
    model
        ``gbm``, ``learned``, ``default`` or another registered pricer.
    seed
        Bootstrap and fit seed.
    prior
        Blend prior; default: the committed
        ``experiments/studies/polymarket_eval/blend_prior.json`` (``blend.load_prior``).
    rule
        Trading rule; default ``TradingRule()``.
    """
    for table in ("markets", "market_prices"):
        if not store.has(table):
            raise DataError(f"evaluate needs the {table} table; found none in {store.root}")
    prior = prior if prior is not None else load_prior()
    obs, info = _prepare(store, model, seed)
    scores: dict[str, Any] = {
        "markets": int(obs["market_id"].nunique()) if len(obs) else 0,
        "observations": len(obs),
        "coverage": {
            **info["coverage"],
            "evaluated": int(obs["market_id"].nunique()) if len(obs) else 0,
        },
        "excluded": info["excluded"],
        "unsupported": info["unsupported"],
        "model": model,
        "model_used": info["model_used"],
        "fallbacks_to_gbm": info["fallbacks"],
        "notes": list(info["notes"]),
    }
    if obs.empty:
        scores["notes"].append("no observation could be scored")
        return EvaluationResult(obs, scores, model)
    p_model = obs["prob_model"].to_numpy(float)
    blend, w = online_blend(obs, p_model, prior)
    obs = obs.assign(prob_blend=blend, w_blend=w)
    scores.update(_scores(obs, seed))
    scores["by_family"] = _group_rows(obs, ["family", "kind"], seed)
    scores["by_kind"] = _group_rows(obs, ["kind"], seed)
    scores["trading"] = simulate_trading(obs, p_model, rule or TradingRule())
    scores["path_venues"] = {str(k): int(v) for k, v in obs["path_venue"].value_counts().items()}
    scores["blend"] = {
        "rule": "logit pool, weight on the model refitted on markets resolved before each "
        "observation, shrunk to the prior",
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
    scores.update(_scores(obs.reset_index(drop=True), seed))
    return EvaluationResult(obs.reset_index(drop=True), scores, "forward log")


def fit_blend_prior(store: Store, *, cut: str, model: str = "gbm", command: str = "") -> BlendPrior:
    """Fit the blend's prior weight on the markets resolved before ``cut``."""
    stamp = pd.Timestamp(parse_utc(cut, name="cut"))
    obs, _ = _prepare(store, model, 0)
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
