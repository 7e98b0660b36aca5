"""OI dominance: which side is crowded, from the best inputs available at t.

What it measures
    In a perpetual every long is matched by a short, so long notional == short notional always;
    "dominance" cannot mean that one side holds more contracts. It measures **which side is the
    aggressive, leveraged, paying side of recently opened positions**: whether new OI was opened
    on up moves (buyers lifting offers: longs opening) or down moves (shorts opening), whether the
    largest accounts are net long, whether takers buy, and whether longs pay shorts (funding above
    the 0.01%/8h interest baseline). The liquidation map uses it as the long share of newly opened
    notional that sits on the leveraged side (``long_share_series``).

Recipe (each component is a score in [-1, 1], +1 = long-dominated)
    ``dominance_top_trader``  (r - 1) / (r + 1), r = last top-trader long/short POSITION ratio;
    ``dominance_taker``       mean of (q - 1) / (q + 1) over 24h, q = taker buy/sell ratio;
    ``dominance_oi_flow``     sum(new_i * sign(dp_i)) / sum(new_i) over hourly bars of 24h, with
                              new_i = max(OI coins_i - OI coins_{i-1}, 0) and dp_i the price move;
    ``dominance_funding``     tanh((mean funding over 24h - 0.0001) / 0.0002);
    ``dominance_account``     (a - 1) / (a + 1), a = last long/short ACCOUNT ratio of all
                              accounts (Binance, else Bybit, else OKX: the one series each of
                              the three venues publishes).
    ``oi_dominance_score`` = weighted mean of the components present (weights 0.4, 0.3, 0.15,
    0.15 and 0.1 for accounts, renormalised over the components present). Account head-counts
    are mostly noise (METHODS.md §2.2: realised OI destruction stays near 50/50 when account
    ratios say 65/35), so they get the smallest weight; they are kept because they are the only
    crowd measure a Bybit- or OKX-only store has. ``oi_long_share = 0.5 + 0.5 * DAMPING *
    score`` with ``DAMPING = 0.5``: in [0.25, 0.75], damped toward 0.5 for the same reason.

The specs are ``DOMINANCE_FEATURES`` (part of the catalogue ``features.frame.registry.FEATURES``).

NaN policy: a component NaN with its reason when its input is missing or stale (the ``ratios``
table is optional and often absent); the score is NaN only when no component is available.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray, IntArray
from levercast.features.dataset.store import StoreView
from levercast.features.frame.inputs import FrameContext, context_for
from levercast.features.frame.specs import (
    FeatureColumn,
    FeatureSpec,
    ReasonArray,
    first_reason,
    reason_where,
)

__all__ = ["DAMPING", "DOMINANCE_FEATURES", "WEIGHTS", "long_share_series"]

HOUR_NS: Final = 3_600 * 10**9
DAY_NS: Final = 24 * HOUR_NS
DAMPING: Final = 0.5
FUNDING_NEUTRAL: Final = 1e-4  # Binance interest component per 8h: premium 0 gives this rate
FUNDING_SCALE: Final = 2e-4
WEIGHTS: Final = {
    "top_trader": 0.4,
    "taker": 0.3,
    "oi_flow": 0.15,
    "funding": 0.15,
    "account": 0.1,
}
_INPUTS: Final = {
    "top_trader": "top_trader_ratio",
    "taker": "taker_ratio",
    "oi_flow": "open_interest_flow",
    "funding": "funding",
    "account": "account_ratio",
}


def _ratio_score(ctx: FrameContext, name: str, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    sel = ctx.select(name, times)
    r = ctx.pick(sel, "value")
    return (r - 1.0) / (r + 1.0), sel.reasons


def _top_trader(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    return _ratio_score(ctx, "top_trader_ratio", times)


def _account(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    return _ratio_score(ctx, "account_ratio", times)


def _taker(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    sel = ctx.select("taker_ratio", times)
    # mean of the per-row score: (q - 1) / (q + 1) is bounded, unlike q itself
    score = np.full(len(times), np.nan)
    for k, s in enumerate(ctx.candidates("taker_ratio")):
        mask = sel.choice == k
        if not mask.any():
            continue
        q = s.column("value")
        c = np.concatenate([[0.0], np.cumsum(np.nan_to_num((q - 1.0) / (q + 1.0)))])
        hi = np.searchsorted(s.avail, times[mask], side="right")
        lo = np.searchsorted(s.avail, times[mask] - DAY_NS, side="right")
        score[mask] = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
    return score, sel.reasons


def _funding(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    sel = ctx.select("funding", times)
    total, count, why = ctx.window_sum(sel, "rate", DAY_NS, times)
    mean = total / np.maximum(count, 1)
    return np.tanh((mean - FUNDING_NEUTRAL) / FUNDING_SCALE), first_reason(sel.reasons, why)


def _bar_flow(ctx: FrameContext, k: int) -> tuple[FloatArray, FloatArray]:
    """Per-row new OI (coins, >= 0) and its sign of the price move for flow candidate ``k``."""
    key = f"dominance:flow:{k}"
    if key not in ctx.memo:
        s = ctx.candidates("open_interest_flow")[k]
        px_now = ctx.pick(ctx.select("price", s.avail), "close")
        base = s.columns.get("oi_base")
        coins = s.column("oi_usd") / px_now
        if base is not None:
            coins = np.where(np.isfinite(base), base, coins)
        new = np.zeros(len(s))
        sign = np.zeros(len(s))
        if len(s) > 1:
            step_ok = np.diff(s.ts) == s.native_ns
            d_oi = np.where(step_ok, np.diff(coins), np.nan)
            new[1:] = np.nan_to_num(np.maximum(d_oi, 0.0))
            sign[1:] = np.nan_to_num(np.sign(np.diff(px_now)))
        ctx.memo[key] = (new, sign)
    result: tuple[FloatArray, FloatArray] = ctx.memo[key]
    return result


def _oi_flow(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    sel = ctx.select("open_interest_flow", times)
    score = np.full(len(times), np.nan)
    for k, s in enumerate(ctx.candidates("open_interest_flow")):
        mask = sel.choice == k
        if not mask.any():
            continue
        new, sign = _bar_flow(ctx, k)
        cum_new = np.concatenate([[0.0], np.cumsum(new)])
        cum_signed = np.concatenate([[0.0], np.cumsum(new * sign)])
        hi = np.searchsorted(s.avail, times[mask], side="right")
        lo = np.searchsorted(s.avail, times[mask] - DAY_NS, side="right")
        opened = cum_new[hi] - cum_new[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            score[mask] = np.where(opened > 0, (cum_signed[hi] - cum_signed[lo]) / opened, np.nan)
    guard = ctx.switch_guard("open_interest_flow", DAY_NS, times)
    none = reason_where(np.isnan(score) & (sel.choice >= 0), "no OI increase in the last 24h")
    return score, first_reason(sel.reasons, guard, none)


_COMPONENTS: Final = {
    "top_trader": _top_trader,
    "taker": _taker,
    "oi_flow": _oi_flow,
    "funding": _funding,
    "account": _account,
}


def _components(ctx: FrameContext) -> dict[str, tuple[FloatArray, ReasonArray]]:
    if "dominance:components" not in ctx.memo:
        ctx.memo["dominance:components"] = {
            name: fn(ctx, ctx.times) for name, fn in _COMPONENTS.items()
        }
    result: dict[str, tuple[FloatArray, ReasonArray]] = ctx.memo["dominance:components"]
    return result


def combine_components(
    components: Mapping[str, FloatArray], weights: Mapping[str, float] = WEIGHTS
) -> tuple[FloatArray, FloatArray]:
    """Weighted mean of the finite components and how many were used, row by row."""
    first = next(iter(components.values()))
    num = np.zeros(len(first))
    den = np.zeros(len(first))
    used = np.zeros(len(first))
    for name, values in components.items():
        ok = np.isfinite(values)
        num += np.where(ok, values * weights[name], 0.0)
        den += np.where(ok, weights[name], 0.0)
        used += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(den > 0, num / den, np.nan)
    return np.clip(score, -1.0, 1.0), used


def _score(ctx: FrameContext) -> FeatureColumn:
    comps = _components(ctx)
    score, _ = combine_components({k: v[0] for k, v in comps.items()})
    reasons = np.full(len(score), None, dtype=object)
    for i in np.flatnonzero(np.isnan(score)):
        parts = "; ".join(str(why[i]) for _, why in comps.values())
        reasons[i] = f"no dominance input: {parts}"
    return FeatureColumn.build(score, reasons)


def _long_share(ctx: FrameContext) -> FeatureColumn:
    score = _score(ctx)
    return FeatureColumn.build(0.5 + 0.5 * DAMPING * score.values, score.reasons)


def _used(ctx: FrameContext) -> FeatureColumn:
    _, used = combine_components({k: v[0] for k, v in _components(ctx).items()})
    return FeatureColumn.build(used, np.full(len(used), None, dtype=object))


def long_share_series(
    view_or_frames: StoreView | Mapping[str, pd.DataFrame], asset: str
) -> pd.Series:
    """Per-bar long share of newly opened notional (dominance estimate) as a pandas Series.

    Parameters
    ----------
    view_or_frames
        A ``features.dataset.store.StoreView`` (rows known at its ``t``) or a mapping table name ->
        DataFrame in the dataset format (``open_interest``, ``candles``, ``funding`` and the
        optional ``ratios``).
    asset
        Asset symbol.

    Returns
    -------
    pandas.Series
        Indexed by the hourly OI bar's ``ts`` (tz-aware UTC bar open; the value is known at the
        bar's ``available_at``), named ``long_share``, values in [0.25, 0.75]. For bar ``i`` the
        OI-flow component is ``sign(price move)`` when the bar opened new OI (NaN otherwise); the
        other components are read at the bar's ``available_at``; combination and damping as in
        the module docstring. Bars whose components are all NaN are 0.5 (neutral).
    """
    ctx = context_for(view_or_frames, asset, inputs=[*_INPUTS.values(), "price"])
    series = ctx.candidates("open_interest_flow")
    if not series:
        return pd.Series([], dtype=float, name="long_share", index=pd.DatetimeIndex([], tz="UTC"))
    avail = np.unique(np.concatenate([s.avail for s in series]))
    sel = ctx.select("open_interest_flow", avail)
    per_bar = np.full(len(avail), np.nan)
    bar_ts = np.zeros(len(avail), dtype=np.int64)
    keep = sel.choice >= 0
    for k, s in enumerate(series):
        mask = sel.choice == k
        if not mask.any():
            continue
        new, sign = _bar_flow(ctx, k)
        rows = sel.idx[mask]
        opened = (new[rows] > 0) & (s.avail[rows] == avail[mask])
        per_bar[mask] = np.where(opened, sign[rows], np.nan)
        bar_ts[mask] = s.ts[rows]
        keep[mask] &= s.avail[rows] == avail[mask]
    comps = {"oi_flow": per_bar}
    for name in ("top_trader", "taker", "funding", "account"):
        comps[name] = _COMPONENTS[name](ctx, avail)[0]
    score, _ = combine_components(comps)
    share = 0.5 + 0.5 * DAMPING * np.nan_to_num(score, nan=0.0)
    index = pd.DatetimeIndex(pd.to_datetime(bar_ts[keep], utc=True), name="ts")
    return pd.Series(share[keep], index=index, name="long_share")


def _component_builder(name: str) -> Callable[[FrameContext], FeatureColumn]:
    def build(ctx: FrameContext) -> FeatureColumn:
        return FeatureColumn.build(*_components(ctx)[name])

    build.__qualname__ = f"dominance_component[{name}]"
    return build


DOMINANCE_FEATURES: Final[tuple[FeatureSpec[FrameContext], ...]] = (
    *(
        FeatureSpec(
            f"dominance_{name}",
            "score[-1,1]",
            f"OI dominance component from {inp} (+1 long-dominated); recipe in "
            "features.builders.dominance",
            (inp,),
            _component_builder(name),
        )
        for name, inp in _INPUTS.items()
    ),
    FeatureSpec(
        "oi_dominance_score",
        "score[-1,1]",
        "weighted mean of the dominance components present (0.4 top-trader, 0.3 taker, "
        "0.15 OI flow, 0.15 funding, 0.1 accounts, renormalised)",
        (),
        _score,
        optional_inputs=tuple(_INPUTS.values()),
    ),
    FeatureSpec(
        "oi_long_share",
        "prob",
        "0.5 + 0.25 * oi_dominance_score: damped long share of newly opened leveraged notional",
        (),
        _long_share,
        optional_inputs=tuple(_INPUTS.values()),
    ),
    FeatureSpec(
        "oi_dominance_inputs",
        "count",
        "number of dominance components available at t (0-5)",
        (),
        _used,
        optional_inputs=tuple(_INPUTS.values()),
    ),
)
