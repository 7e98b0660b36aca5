"""Coherence of probabilities across related contracts (same asset, decision time and deadline).

Rules enforced (and checked by ``consistency_violations``):

- **monotone in strike**: ``close_above`` and up ``touch`` are non-increasing in the strike,
  ``close_below`` and down ``touch`` non-decreasing;
- **touch >= close beyond**: P(touch K up) >= P(close above K), P(touch K down) >= P(close below
  K), for the same barrier and deadline (a path that ends beyond the barrier has touched it);
- **ranges sum to at most 1**: disjoint ``range`` contracts of one deadline.

Repairs, all pure (arrays or frames in, new arrays or frames out):

- a ladder is made monotone by the midpoint of its two monotone envelopes (running min from one
  side, running max from the other); an already monotone ladder is unchanged;
- a touch below its close beyond is raised to it (``max``): the max of two ladders monotone in the
  same direction stays monotone, so the order of the repairs is: ladders, then touches;
- a range ladder whose sum exceeds 1 is scaled down proportionally.

NaN policy: NaN probabilities are left as NaN and ignored by every rule.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.errors import ConfigError

__all__ = [
    "GROUP_COLUMNS",
    "cap_range_ladder",
    "consistency_violations",
    "enforce_consistency",
    "monotone_ladder",
    "touch_at_least_close",
]

GROUP_COLUMNS: Final = ("asset", "t", "end")
_TOL: Final = 1e-9


def monotone_ladder(prob: npt.ArrayLike, *, decreasing: bool) -> FloatArray:
    """Monotone repair of one ladder ordered by increasing strike.

    Parameters
    ----------
    prob
        Probabilities along the ladder (strikes increasing); NaN entries are kept and skipped.
    decreasing
        True for a non-increasing ladder (``close_above``, up touch).

    Returns
    -------
    numpy.ndarray
        ``(running envelope from the left + from the right) / 2``: monotone, equal to ``prob``
        when ``prob`` is already monotone.
    """
    p = np.asarray(prob, dtype=float).copy()
    ok = np.isfinite(p)
    q = p[ok] if decreasing else p[ok][::-1]
    if q.size:
        lower = np.minimum.accumulate(q)
        upper = np.maximum.accumulate(q[::-1])[::-1]
        fixed = (lower + upper) / 2
        p[ok] = fixed if decreasing else fixed[::-1]
    return p


def touch_at_least_close(prob_touch: npt.ArrayLike, prob_close_beyond: npt.ArrayLike) -> FloatArray:
    """``max(P(touch), P(close beyond))`` element-wise (NaN where the touch is NaN)."""
    touch = np.asarray(prob_touch, dtype=float)
    close = np.asarray(prob_close_beyond, dtype=float)
    if touch.shape != close.shape:
        raise ConfigError(
            f"prob_touch and prob_close_beyond must have the same shape; found {touch.shape} "
            f"and {close.shape}"
        )
    return np.where(np.isfinite(close) & np.isfinite(touch), np.fmax(touch, close), touch)


def cap_range_ladder(
    lower_usd: npt.ArrayLike, upper_usd: npt.ArrayLike, prob: npt.ArrayLike
) -> FloatArray:
    """Scale disjoint ranges of one deadline so that their probabilities sum to at most 1.

    Raises
    ------
    ConfigError
        If two ranges overlap (the rule holds for disjoint ranges only).
    """
    lo = np.asarray(lower_usd, dtype=float)
    hi = np.asarray(upper_usd, dtype=float)
    p = np.asarray(prob, dtype=float)
    order = np.argsort(lo, kind="stable")
    if np.any(hi[order][:-1] > lo[order][1:] + _TOL):
        raise ConfigError(
            "ranges must be disjoint (upper_usd <= the next lower_usd); found overlap"
        )
    total = float(np.nansum(p))
    return p / total if total > 1.0 else p.copy()


def _group_codes(frame: pd.DataFrame) -> npt.NDArray[np.int64]:
    missing = set(GROUP_COLUMNS) - set(frame.columns)
    if missing:
        raise ConfigError(f"frame must have columns {sorted(missing)}; found {list(frame.columns)}")
    codes = frame.groupby(list(GROUP_COLUMNS), sort=False, dropna=False).ngroup()
    return np.asarray(codes.to_numpy(), dtype=np.int64)


def _ladder_masks(frame: pd.DataFrame) -> list[tuple[npt.NDArray[np.bool_], bool]]:
    kind = frame["kind"].to_numpy(str)
    way = frame["direction"].fillna("").to_numpy(str) if "direction" in frame else np.array([""])
    mon = frame["monitoring"].fillna("").to_numpy(str) if "monitoring" in frame else np.array([""])
    path = mon != "terminal"
    return [
        (kind == "close_above", True),
        (kind == "close_below", False),
        ((kind == "touch") & (way == "up") & path, True),
        ((kind == "touch") & (way == "down") & path, False),
    ]


def _monotone_frame(p: FloatArray, group: FloatArray, strike: FloatArray, decreasing: bool) -> Any:
    """Monotone repair of every ladder at once (rows of one kind/direction)."""
    frame = pd.DataFrame({"g": group, "k": strike, "p": p})
    frame = frame.sort_values(["g", "k"], kind="stable")
    sign = 1.0 if decreasing else -1.0
    q = sign * frame["p"]
    lower = q.groupby(frame["g"]).cummin()
    upper = q[::-1].groupby(frame["g"][::-1]).cummax()[::-1]
    fixed = sign * (lower + upper) / 2
    out = pd.Series(fixed.to_numpy(), index=frame.index).sort_index()
    return np.where(np.isfinite(p), out.to_numpy(), p)


def enforce_consistency(frame: pd.DataFrame, *, prob: str = "prob") -> pd.DataFrame:
    """A copy of ``frame`` whose ``prob`` column obeys the rules of the module docstring.

    Parameters
    ----------
    frame
        Contract rows (``models.learned.contract_grid`` columns: ``asset, t, end, kind, direction,
        monitoring, strike_usd, lower_usd, upper_usd``) and the probability column.
    prob
        Name of the probability column.

    Returns
    -------
    pandas.DataFrame
        Same rows and order; only ``prob`` changes.
    """
    if prob not in frame.columns:
        raise ConfigError(f"prob must name a column of frame; found {prob!r}")
    out = frame.copy()
    if out.empty:
        return out
    group = _group_codes(out).astype(float)
    p = out[prob].to_numpy(float).copy()
    strike = out["strike_usd"].to_numpy(float)
    for mask, decreasing in _ladder_masks(out):
        if mask.any():
            p[mask] = _monotone_frame(p[mask], group[mask], strike[mask], decreasing)
    p = _raise_touches(out, group, strike, p)
    p = _cap_ranges(out, group, p)
    out[prob] = np.clip(p, 0.0, 1.0)
    return out


def _raise_touches(
    frame: pd.DataFrame, group: FloatArray, strike: FloatArray, p: FloatArray
) -> Any:
    masks = _ladder_masks(frame)
    pairs = ((masks[2][0], masks[0][0]), (masks[3][0], masks[1][0]))  # (touch, close beyond)
    rounded = np.round(strike, 6)
    for touch, close in pairs:
        if not (touch.any() and close.any()):
            continue
        key = pd.MultiIndex.from_arrays([group[close], rounded[close]])
        lookup = pd.Series(p[close], index=key)
        lookup = lookup[~lookup.index.duplicated()]
        wanted = pd.MultiIndex.from_arrays([group[touch], rounded[touch]])
        beyond = lookup.reindex(wanted).to_numpy(float)
        p[touch] = touch_at_least_close(p[touch], beyond)
    return p


def _cap_ranges(frame: pd.DataFrame, group: FloatArray, p: FloatArray) -> FloatArray:
    is_range = frame["kind"].to_numpy(str) == "range"
    if not is_range.any():
        return p
    sub = pd.DataFrame(
        {
            "g": group[is_range],
            "lo": frame["lower_usd"].to_numpy(float)[is_range],
            "hi": frame["upper_usd"].to_numpy(float)[is_range],
            "p": p[is_range],
        }
    ).sort_values(["g", "lo"], kind="stable")
    next_lo = sub.groupby("g")["lo"].shift(-1)
    overlap = (sub["hi"] > next_lo + _TOL).groupby(sub["g"]).transform("any")
    total = sub["p"].groupby(sub["g"]).transform(lambda s: np.nansum(s.to_numpy()))
    scale = np.where(~overlap & (total > 1.0), 1.0 / total.clip(lower=1.0), 1.0)
    sub["p"] = sub["p"] * scale
    out = p.copy()
    out[np.flatnonzero(is_range)] = sub["p"].sort_index().to_numpy()
    return out


def consistency_violations(
    frame: pd.DataFrame, *, prob: str = "prob", tol: float = 1e-9
) -> list[str]:
    """Rule violations of ``frame[prob]`` (empty when coherent), as sentences naming the rule."""
    if frame.empty:
        return []
    group = _group_codes(frame).astype(float)
    p = frame[prob].to_numpy(float)
    strike = frame["strike_usd"].to_numpy(float)
    problems: list[str] = []
    names = ("close_above", "close_below", "touch up", "touch down")
    for (mask, decreasing), name in zip(_ladder_masks(frame), names, strict=True):
        if mask.any():
            fixed = _monotone_frame(p[mask], group[mask], strike[mask], decreasing)
            bad = int(np.sum(np.abs(np.nan_to_num(fixed - p[mask])) > tol))
            if bad:
                problems.append(f"{name}: {bad} rows break monotonicity in strike")
    raised = _raise_touches(frame, group, strike, p.copy())
    bad = int(np.sum(np.nan_to_num(raised - p) > tol))
    if bad:
        problems.append(f"touch >= close beyond: {bad} touches below their close beyond")
    capped = _cap_ranges(frame, group, p.copy())
    bad = int(np.sum(np.abs(np.nan_to_num(capped - p)) > tol))
    if bad:
        problems.append(f"ranges: {bad} rows in ladders summing above 1")
    return problems
