"""Scores of forecasts against real markets: overall, per kind and family, on the held-out tail.

Every source (``model``, ``market``, ``blend``, and ``model_raw`` / ``market_aware`` when
present) is scored on identical rows: Brier, log loss, ECE (10 equal-mass bins, INTERFACE.md
§4) and the reliability curve, overall and per contract kind (``ece_by_kind``,
``reliability_by_kind``). Skill against the market is ``1 - Brier / Brier_market``, per
observation and with each market weighted equally (weight ``1 / observations of the market``),
each with a 90 % interval from a bootstrap over markets and UTC days
(``experiments.evaluation.uncertainty.cluster_skill``): a family with one market has no interval.

Exclusions (``exclusion_check``): the reasons the issue calls legitimate (they do not depend on
how a market resolved) are listed in ``LEGITIMATE``; any other reason above 1 % of observations
is reported in ``notes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.evaluation.uncertainty import cluster_skill
from levercast.experiments.metrics import model_metrics

__all__ = [
    "LEGITIMATE",
    "OTHER_EXCLUSION_LIMIT",
    "exclusion_check",
    "group_rows",
    "held_out_scores",
    "score_sources",
]

OTHER_EXCLUSION_LIMIT: Final = 0.01
LEGITIMATE: Final = (
    "unsupported market",
    "candles in the store",  # "no <ASSET> candles in the store"
    "no YES price at the ts",
    "at or after the resolution time",
    "at or after the contract's end",
    "event already decided at T",
)


def _equal_weights(obs: pd.DataFrame) -> np.ndarray:
    return 1.0 / obs.groupby("market_id")["market_id"].transform("size").to_numpy(float)


def _skills(obs: pd.DataFrame, source: str, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    args = (
        obs[f"prob_{source}"].to_numpy(float),
        obs["prob_market"].to_numpy(float),
        obs["outcome"].to_numpy(float),
    )
    kwargs: dict[str, Any] = {
        "markets": obs["market_id"].astype(str).to_numpy(),
        "days": obs["t"].dt.floor("D").to_numpy(),
        "seed": seed,
    }
    per_obs = cluster_skill(*args, **kwargs)
    equal = cluster_skill(*args, weights=_equal_weights(obs), **kwargs)
    return per_obs, equal


def _brief(est: Mapping[str, Any]) -> dict[str, Any]:
    return {"value": est["value"], "ci90": est["ci90"]}


def score_sources(obs: pd.DataFrame, sources: Sequence[str], seed: int) -> dict[str, Any]:
    """Overall scores of ``sources`` (module docstring); skills for every source but the
    market."""
    y = obs["outcome"].to_numpy(float)
    metrics = {s: model_metrics(obs[f"prob_{s}"].to_numpy(float), y) for s in sources}
    out: dict[str, Any] = {
        "brier": {s: metrics[s]["brier"] for s in sources},
        "log_loss": {s: metrics[s]["log_loss"] for s in sources},
        "ece": {s: metrics[s]["ece"] for s in sources},
        "skill_vs_market": {},
        "skill_vs_market_equal_markets": {},
        "reliability": {s: metrics[s]["reliability"] for s in sources},
        "ece_by_kind": {},
        "reliability_by_kind": {},
    }
    for s in sources:
        if s == "market":
            continue
        per_obs, equal = _skills(obs, s, seed)
        out["skill_vs_market"][s] = _brief(per_obs)
        out["skill_vs_market_equal_markets"][s] = {
            **_brief(equal),
            "n_markets": equal["n_markets"],
            "n_days": equal["n_days"],
            "clusters": equal["clusters"],
        }
    kinds = obs.groupby("kind", sort=True) if "kind" in obs.columns else ()
    for kind, part in kinds:
        yk = part["outcome"].to_numpy(float)
        kind_metrics = {s: model_metrics(part[f"prob_{s}"].to_numpy(float), yk) for s in sources}
        out["ece_by_kind"][str(kind)] = {s: kind_metrics[s]["ece"] for s in sources}
        out["reliability_by_kind"][str(kind)] = {s: kind_metrics[s]["reliability"] for s in sources}
    return out


def group_rows(
    obs: pd.DataFrame, keys: list[str], sources: Sequence[str], seed: int
) -> list[dict[str, Any]]:
    """Per group of ``keys``: markets, observations, Brier and log loss of every source, the
    model's skill per observation and with markets weighted equally (cluster intervals)."""
    rows = []
    for key, part in obs.groupby(keys, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        y = part["outcome"].to_numpy(float)
        entry: dict[str, Any] = dict(zip(keys, values, strict=True))
        entry.update(markets=int(part["market_id"].nunique()), observations=len(part))
        entry["brier"] = {s: float(np.mean((part[f"prob_{s}"] - y) ** 2)) for s in sources}
        entry["log_loss"] = {s: model_metrics(part[f"prob_{s}"], y)["log_loss"] for s in sources}
        entry["ece"] = {s: model_metrics(part[f"prob_{s}"], y)["ece"] for s in sources}
        per_obs, equal = _skills(part, "model", seed)
        entry["skill_vs_market"] = {"model": _brief(per_obs)}
        entry["skill_vs_market_equal_markets"] = {"model": _brief(equal)}
        rows.append(entry)
    return rows


def held_out_scores(
    obs: pd.DataFrame, since: str | None, sources: Sequence[str], seed: int
) -> dict[str, Any]:
    """Scores on the markets known at or after ``since`` (the prior's ``tuned_until``: no
    choice was made on them). Markets with an unknown ``known_at`` are left out."""
    if since is None:
        return {"since": None, "markets": 0, "observations": 0, "note": "no committed prior"}
    known = pd.to_datetime(obs["known_at"], utc=True)
    tail = obs[(known >= pd.Timestamp(since)).to_numpy()]
    out: dict[str, Any] = {
        "since": since,
        "markets": int(tail["market_id"].nunique()),
        "observations": len(tail),
    }
    if tail.empty:
        return out
    scores = score_sources(tail, sources, seed)
    for key in ("brier", "log_loss", "ece", "skill_vs_market", "skill_vs_market_equal_markets"):
        out[key] = scores[key]
    out["ece_by_kind"] = scores["ece_by_kind"]
    return out


def exclusion_check(excluded: Mapping[str, int], scored: int) -> list[str]:
    """Notes for every exclusion reason outside ``LEGITIMATE`` above 1 % of observations."""
    total = scored + sum(excluded.values())
    notes = []
    for reason, n in excluded.items():
        legitimate = any(key in reason for key in LEGITIMATE)
        if not legitimate and total and n / total > OTHER_EXCLUSION_LIMIT:
            notes.append(
                f"exclusion {reason!r} drops {n} of {total} observations "
                f"({n / total:.1%} > {OTHER_EXCLUSION_LIMIT:.0%}); it may bias the scores"
            )
    return notes
