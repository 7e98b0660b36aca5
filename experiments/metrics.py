"""Score tables for backtests and evaluations: per-model metrics, skill with cluster-bootstrap CIs.

Every model is scored on the same rows. ``model_metrics`` gives Brier, log loss, ECE (10
equal-mass bins, INTERFACE.md §4), the reliability curve and Murphy's decomposition
(``models.scoring``); ``skill`` is ``1 - Brier / Brier_reference`` with a 90 % interval from a
bootstrap that resamples whole clusters (days, or blocks of ``max(1 day, horizon)``), optionally
with row weights (each market weighted equally: weight ``1 / rows of the market``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.models.scoring import (
    block_bootstrap_skill,
    brier_decomposition,
    brier_loss,
    expected_calibration_error,
    log_loss,
    reliability_curve,
)

__all__ = ["model_metrics", "score_backtest", "skill", "skill_blocks", "weighted_cluster_skill"]

N_BINS = 10
N_BOOT = 1000


def model_metrics(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> dict[str, Any]:
    """Brier, log loss, ECE, reliability curve and decomposition of one model's forecasts."""
    p = np.asarray(prob, dtype=float)
    y = np.asarray(outcome, dtype=float)
    curve = reliability_curve(p, y, n_bins=N_BINS)
    parts = brier_decomposition(p, y, n_bins=N_BINS)
    return {
        "brier": brier_loss(p, y),
        "log_loss": log_loss(p, y),
        "ece": expected_calibration_error(p, y, n_bins=N_BINS),
        "reliability": {
            "mean_prob": curve.mean_prob.tolist(),
            "observed": curve.observed.tolist(),
            "count": curve.count.tolist(),
        },
        "decomposition": {
            "reliability": parts.reliability,
            "resolution": parts.resolution,
            "uncertainty": parts.uncertainty,
        },
    }


def skill(
    prob: npt.ArrayLike,
    reference: npt.ArrayLike,
    outcome: npt.ArrayLike,
    blocks: npt.ArrayLike,
    *,
    seed: int,
) -> dict[str, Any]:
    """``{"value", "ci90": [lo, hi], "n_blocks"}`` from ``models.scoring.block_bootstrap_skill``."""
    est = block_bootstrap_skill(prob, reference, outcome, blocks, n_boot=N_BOOT, seed=seed)
    return {"value": est.value, "ci90": est.ci90, "n_blocks": est.n_blocks}


def weighted_cluster_skill(
    prob: npt.ArrayLike,
    reference: npt.ArrayLike,
    outcome: npt.ArrayLike,
    clusters: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    seed: int,
    n_boot: int = N_BOOT,
) -> dict[str, Any]:
    """Weighted skill ``1 - sum w (p-y)^2 / sum w (r-y)^2`` with a cluster-bootstrap 90 % CI.

    Parameters
    ----------
    prob, reference, outcome
        Aligned rows, finite, in [0, 1].
    clusters
        Cluster label per row (e.g. the UTC day); whole clusters are resampled.
    weights
        Non-negative row weights.
    seed
        Bootstrap seed.
    """
    p, r, y = (np.asarray(a, dtype=float) for a in (prob, reference, outcome))
    w = np.asarray(weights, dtype=float)
    if not (p.shape == r.shape == y.shape == w.shape):
        raise ValueError(
            f"prob, reference, outcome and weights must share a shape; found {p.shape}, "
            f"{r.shape}, {y.shape}, {w.shape}"
        )
    if p.size == 0 or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite and >= 0 over at least one row; found otherwise")
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    n = int(codes.max()) + 1
    num = np.bincount(codes, weights=w * (p - y) ** 2, minlength=n)
    den = np.bincount(codes, weights=w * (r - y) ** 2, minlength=n)
    value = 1.0 - num.sum() / den.sum() if den.sum() > 0 else float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = 1.0 - num[draws].sum(axis=1) / den[draws].sum(axis=1)
    boot = boot[np.isfinite(boot)]
    if boot.size == 0:
        return {"value": float(value), "ci90": [None, None], "n_blocks": n}
    lo, hi = np.quantile(boot, [0.05, 0.95])
    return {"value": float(value), "ci90": [float(lo), float(hi)], "n_blocks": n}


# -- scoring -----------------------------------------------------------------------------------
def skill_blocks(times: pd.Series, hours: float) -> np.ndarray:
    """Bootstrap block of each decision time: ``max(1 day, hours)`` wide (a backtest's skill
    intervals resample these; overall: the longest horizon)."""
    width = max(timedelta(days=1), timedelta(hours=hours))
    ns = times.to_numpy("datetime64[ns]").view("int64")
    return np.asarray(ns // int(width.total_seconds() * 1e9), dtype=np.int64)


def score_backtest(frame: pd.DataFrame, models: tuple[str, ...], seed: int) -> dict[str, Any]:
    """Backtest scores of scored rows: overall and by kind x horizon, skill vs ``gbm``.

    Skill CIs resample blocks of ``max(1 day, horizon)`` (overall: the longest horizon).
    """
    y = frame["outcome"].to_numpy(float)
    out: dict[str, Any] = {
        "n_forecasts": len(frame),
        "n_days": int(frame["decision_time"].dt.floor("D").nunique()),
        "models": {},
        "skill_vs_gbm": {},
        "by_kind_horizon": [],
    }
    if frame.empty:
        return out
    blocks = skill_blocks(frame["decision_time"], float(frame["horizon_hours"].max()))
    gbm = frame["prob_gbm"].to_numpy(float)
    for m in models:
        out["models"][m] = model_metrics(frame[f"prob_{m}"].to_numpy(float), y)
        if m != "gbm":
            out["skill_vs_gbm"][m] = skill(frame[f"prob_{m}"], gbm, y, blocks, seed=seed)
    if "default" in models and "default_vol" in models:
        # The leverage contribution: default (with leverage where it ships) vs the same
        # forecaster with volatility features only, on the same rows and blocks.
        out["skill_vs_default_vol"] = {
            "default": skill(frame["prob_default"], frame["prob_default_vol"], y, blocks, seed=seed)
        }
    for (kind, horizon), part in frame.groupby(["kind", "horizon"], sort=True):
        yk = part["outcome"].to_numpy(float)
        hours = float(part["horizon_hours"].iloc[0])
        entry: dict[str, Any] = {
            "kind": kind,
            "horizon": horizon,
            "n": len(part),
            "base_rate": float(yk.mean()),
            "models": {},
            "skill_vs_gbm": {},
        }
        for m in models:
            metrics = model_metrics(part[f"prob_{m}"].to_numpy(float), yk)
            entry["models"][m] = {
                k: metrics[k] for k in ("brier", "log_loss", "ece", "decomposition")
            }
            if m != "gbm":
                entry["skill_vs_gbm"][m] = skill(
                    part[f"prob_{m}"],
                    part["prob_gbm"],
                    yk,
                    skill_blocks(part["decision_time"], hours),
                    seed=seed,
                )
        out["by_kind_horizon"].append(entry)
    return out
