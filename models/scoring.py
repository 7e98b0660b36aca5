"""Probabilistic scores: Brier, log loss, ECE, reliability, Murphy decomposition, skill with
block-bootstrap confidence intervals.

NaN policy: inputs must be finite; rows with NaN raise ``ValueError`` naming the argument (drop
them before scoring). Probabilities are clipped to [1e-6, 1 - 1e-6] inside the log loss only.

References: Brier (1950); Murphy (1973) decomposition Brier = reliability - resolution +
uncertainty; properscoring ``_brier.py``; ECE with equal-mass bins as in INTERFACE.md §4.

Bootstrap intervals resample the rows' blocks: ``resample="blocks"`` (default) draws whole
labelled blocks with replacement, the draws of ``arch.bootstrap.IIDBootstrap`` over the per-block
sums made with the same generator calls (one ``integers(n, size=n)`` per replicate; tested
equal, draw for draw, to arch's) without importing arch, whose import (statsmodels, patsy,
formulaic) cost every backtest 0.7-1.1 s; ``resample="stationary"`` keeps runs of consecutive
blocks together (arch's ``StationaryBootstrap`` in label order, mean run length from
``arch.bootstrap.optimal_block_length``), for blocks that are themselves serially dependent
(days of one market regime). The market-clustered bootstrap of the evaluation
(``experiments.evaluation.uncertainty``) stays ours: ``arch`` has none. ``arch`` is imported
only for the stationary bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from levercast.features._typing import FloatArray

__all__ = [
    "BrierDecomposition",
    "MeanEstimate",
    "ReliabilityCurve",
    "SkillEstimate",
    "block_bootstrap_mean",
    "block_bootstrap_skill",
    "brier_decomposition",
    "brier_loss",
    "expected_calibration_error",
    "log_loss",
    "reliability_curve",
]

_EPS = 1e-6
Resample = Literal["blocks", "stationary"]
RESAMPLES: Final = ("blocks", "stationary")


def _check_seed(seed: object) -> None:
    if seed is None or isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer within [0, 2**64); found {seed!r}")


def _block_draws(
    n_blocks: int,
    n_boot: int,
    seed: int | np.random.Generator | None,
    resample: str,
    series: FloatArray,
) -> npt.NDArray[np.intp]:
    """``n_boot`` rows of block indices drawn by ``arch.bootstrap`` (see module docstring)."""
    if resample not in RESAMPLES:
        raise ValueError(f"resample must be one of {RESAMPLES}; found {resample!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer; found {n_boot!r}")
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    if resample == "blocks" or n_blocks < 3:
        # ``IIDBootstrap.update_indices`` is one ``integers(n, size=n, dtype=int64)`` call per
        # replicate: drawn here the same way, call for call (tested equal to arch's), because
        # importing arch (statsmodels, patsy, formulaic) costs 0.7-1.1 s per process
        return np.stack(
            [
                rng.integers(n_blocks, size=n_blocks, dtype=np.int64).astype(np.intp)
                for _ in range(n_boot)
            ]
        )
    from arch.bootstrap import StationaryBootstrap, optimal_block_length

    length = float(optimal_block_length(series)["stationary"].iloc[0])
    length = min(max(length, 1.0), float(n_blocks)) if np.isfinite(length) else 1.0
    # arch types the size as int; the stationary bootstrap takes the mean run as a float
    bs = StationaryBootstrap(length, series, seed=rng)  # type: ignore[arg-type]
    return np.stack([np.asarray(bs.update_indices(), dtype=np.intp) for _ in range(n_boot)])


def _check(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(prob, dtype=float)
    y = np.asarray(outcome, dtype=float)
    if p.shape != y.shape:
        raise ValueError(
            f"prob and outcome must have the same shape; found {p.shape} and {y.shape}"
        )
    if p.size == 0:
        raise ValueError("prob must not be empty; found 0 rows")
    if not np.isfinite(p).all():
        raise ValueError(f"prob must be finite; found {int((~np.isfinite(p)).sum())} NaN/inf")
    if not np.isfinite(y).all():
        raise ValueError(f"outcome must be finite; found {int((~np.isfinite(y)).sum())} NaN/inf")
    if (p < 0).any() or (p > 1).any():
        bad = int(np.flatnonzero((p < 0) | (p > 1))[0])
        raise ValueError(f"prob must be within [0, 1]; found {p[bad]} at row {bad}")
    if (y < 0).any() or (y > 1).any():
        bad = int(np.flatnonzero((y < 0) | (y > 1))[0])
        raise ValueError(f"outcome must be within [0, 1]; found {y[bad]} at row {bad}")
    return p, y


def brier_loss(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """Mean squared error of probabilities against outcomes in [0, 1] (lower is better)."""
    p, y = _check(prob, outcome)
    return float(np.mean((p - y) ** 2))


def log_loss(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """Mean negative log likelihood (natural log; outcomes may be fractional, e.g. 0.5 ties)."""
    p, y = _check(prob, outcome)
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _equal_mass_bins(p: FloatArray, n_bins: int) -> list[npt.NDArray[np.intp]]:
    order = np.argsort(p, kind="stable")
    return [chunk for chunk in np.array_split(order, min(n_bins, p.size)) if chunk.size]


@dataclass(frozen=True, slots=True)
class ReliabilityCurve:
    """Per-bin mean forecast, observed frequency and count (equal-mass bins)."""

    mean_prob: FloatArray
    observed: FloatArray
    count: npt.NDArray[np.int64]


def reliability_curve(
    prob: npt.ArrayLike, outcome: npt.ArrayLike, *, n_bins: int = 10
) -> ReliabilityCurve:
    """Reliability curve over ``n_bins`` equal-mass bins of the forecasts."""
    p, y = _check(prob, outcome)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1; found {n_bins}")
    bins = _equal_mass_bins(p, n_bins)
    return ReliabilityCurve(
        mean_prob=np.array([p[b].mean() for b in bins]),
        observed=np.array([y[b].mean() for b in bins]),
        count=np.array([b.size for b in bins], dtype=np.int64),
    )


def expected_calibration_error(
    prob: npt.ArrayLike, outcome: npt.ArrayLike, *, n_bins: int = 10
) -> float:
    """ECE: count-weighted mean |mean forecast - observed frequency| over equal-mass bins."""
    curve = reliability_curve(prob, outcome, n_bins=n_bins)
    weights = curve.count / curve.count.sum()
    return float(np.sum(weights * np.abs(curve.mean_prob - curve.observed)))


@dataclass(frozen=True, slots=True)
class BrierDecomposition:
    """Murphy decomposition over equal-mass bins: brier ~= reliability - resolution + uncertainty.

    ``brier`` is the exact score; the identity holds exactly only when forecasts are constant
    within each bin (the within-bin variance term is the difference).
    """

    brier: float
    reliability: float
    resolution: float
    uncertainty: float


def brier_decomposition(
    prob: npt.ArrayLike, outcome: npt.ArrayLike, *, n_bins: int = 10
) -> BrierDecomposition:
    """Murphy's reliability / resolution / uncertainty decomposition of the Brier score."""
    p, y = _check(prob, outcome)
    curve = reliability_curve(p, y, n_bins=n_bins)
    w = curve.count / curve.count.sum()
    base = float(y.mean())
    return BrierDecomposition(
        brier=brier_loss(p, y),
        reliability=float(np.sum(w * (curve.mean_prob - curve.observed) ** 2)),
        resolution=float(np.sum(w * (curve.observed - base) ** 2)),
        uncertainty=base * (1 - base),
    )


@dataclass(frozen=True, slots=True)
class SkillEstimate:
    """Skill ``1 - Brier/Brier_reference`` with a bootstrap confidence interval."""

    value: float
    ci_low: float
    ci_high: float
    n_blocks: int

    @property
    def ci90(self) -> list[float]:
        """``[low, high]`` as INTERFACE.md prints it."""
        return [self.ci_low, self.ci_high]


def block_bootstrap_skill(
    prob: npt.ArrayLike,
    reference: npt.ArrayLike,
    outcome: npt.ArrayLike,
    blocks: npt.ArrayLike,
    *,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int | np.random.Generator | None = 0,
    resample: Resample = "blocks",
) -> SkillEstimate:
    """Skill of ``prob`` over ``reference`` with a cluster (block) bootstrap CI.

    Parameters
    ----------
    prob, reference, outcome
        Forecasts of the model, of the reference, and outcomes, aligned rows.
    blocks
        Block label per row (e.g. the day, or ``floor(t / max(1 day, horizon))``): whole blocks
        are resampled, which respects the dependence of rows within a block.
    n_boot, level, seed
        Resamples, two-sided interval level, random seed.
    resample
        ``blocks`` (whole blocks, independently) or ``stationary`` (runs of consecutive blocks,
        in label order); see the module docstring.
    """
    p, y = _check(prob, outcome)
    r, _ = _check(reference, outcome)
    labels = np.asarray(blocks)
    if labels.shape != p.shape:
        raise ValueError(f"blocks must match prob's shape {p.shape}; found {labels.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be within (0, 1); found {level}")
    _, codes = np.unique(labels, return_inverse=True)
    n_blocks = int(codes.max()) + 1
    model_sq = np.bincount(codes, weights=(p - y) ** 2, minlength=n_blocks)
    ref_sq = np.bincount(codes, weights=(r - y) ** 2, minlength=n_blocks)
    value = 1.0 - model_sq.sum() / ref_sq.sum() if ref_sq.sum() > 0 else float("nan")
    draws = _block_draws(n_blocks, n_boot, seed, resample, np.asarray(model_sq - ref_sq, float))
    num = model_sq[draws].sum(axis=1)
    den = ref_sq[draws].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        skills = 1.0 - num / den
    skills = skills[np.isfinite(skills)]
    alpha = (1 - level) / 2
    if skills.size == 0:
        return SkillEstimate(float(value), float("nan"), float("nan"), n_blocks)
    lo, hi = np.quantile(skills, [alpha, 1 - alpha])
    return SkillEstimate(float(value), float(lo), float(hi), n_blocks)


@dataclass(frozen=True, slots=True)
class MeanEstimate:
    """A mean with a block-bootstrap confidence interval."""

    value: float
    ci_low: float
    ci_high: float
    n_blocks: int


def block_bootstrap_mean(
    values: npt.ArrayLike,
    blocks: npt.ArrayLike,
    *,
    n_boot: int = 1000,
    level: float = 0.9,
    seed: int | np.random.Generator | None = 0,
    resample: Resample = "blocks",
) -> MeanEstimate:
    """Mean of ``values`` (e.g. a loss difference per day) with a cluster-bootstrap CI.

    Whole blocks are resampled (as ``block_bootstrap_skill``), which respects the dependence of
    rows within a block (overlapping forecast windows, the same day).
    """
    v = np.asarray(values, dtype=float)
    labels = np.asarray(blocks)
    if v.size == 0 or not np.isfinite(v).all():
        raise ValueError(f"values must be finite and non-empty; found {v.size} rows")
    if labels.shape != v.shape:
        raise ValueError(f"blocks must match values' shape {v.shape}; found {labels.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be within (0, 1); found {level}")
    _, codes = np.unique(labels, return_inverse=True)
    n_blocks = int(codes.max()) + 1
    sums = np.bincount(codes, weights=v, minlength=n_blocks)
    counts = np.bincount(codes, minlength=n_blocks).astype(float)
    draws = _block_draws(n_blocks, n_boot, seed, resample, np.asarray(sums / counts, float))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return MeanEstimate(float(v.mean()), float(lo), float(hi), n_blocks)
