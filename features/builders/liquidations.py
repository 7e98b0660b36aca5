"""Liquidation features per exchange and the cascade flag.

Per exchange
    ``levercast record liquidations`` writes each exchange's stream as buckets of its own
    (``binance``, ``bybit``, ``okx``; bucket width = ``--every``; values are lower bounds: a stream
    misses what it does not push). Each exchange is its own input (``liquidations_<venue>``, one
    candidate per bucket width), so its features are NaN with the input's reason when its recorder
    was not running, whatever the other exchanges did:

    ``liq_total_usd_{1h,24h,7d}_<venue>``  long + short liquidations of buckets that closed in the
                                          window (90 % of the buckets needed);
    ``liq_skew_{1h,24h,7d}_<venue>``       ``(long - short) / (long + short)`` over the window.

Cascade (``liquidations`` input: the CoinGlass aggregate, else the three recorded exchanges summed,
else one exchange, named in ``sources``)
    ``liq_total_usd_1h_q95_30d``  the ``CASCADE_QUANTILE`` quantile of the last-hour totals at the
                                  720 hour marks of the trailing 30 days (the hour marks ``h`` with
                                  ``floor_hour(t) - 30d < h <= floor_hour(t)``; 90 % of them
                                  needed; NaN when the chosen series switched in the 30 days);
    ``liq_cascade_1h``            1 when the last hour's total (``liq_total_usd_1h``) is above that
                                  quantile **and** the price moved through a cluster in that hour:
                                  the low of the bars that closed in ``(t - 1h, t]`` reached the
                                  upper edge of a long cluster of the liquidation map as of
                                  ``t - 1h``, or their high reached the lower edge of a short one
                                  (the map's top clusters per side, ``features.liqmap.clusters``,
                                  with the lookback in effect); 0 when the total is not above the
                                  quantile or no cluster was reached; NaN (with a reason) when the
                                  total, the quantile, the map at ``t - 1h`` or the hour's bars
                                  are missing.

Every value at ``t`` reads rows with ``available_at <= t`` only. The specs are
``LIQUIDATION_FEATURES`` (part of ``features.frame.registry.FEATURES``). NaN policy: NaN with a
reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from levercast.features._typing import FloatArray, IntArray
from levercast.features.frame.inputs import FrameContext
from levercast.features.frame.specs import (
    EXCHANGES,
    FeatureColumn,
    FeatureSpec,
    ReasonArray,
    first_reason,
    format_span,
    has_no_reason,
    reason_where,
)
from levercast.features.liqmap.clusters import MAP_INPUTS, SHARE_INPUTS, map_features_at

__all__ = [
    "CASCADE_QUANTILE",
    "CASCADE_WINDOW_HOURS",
    "LIQUIDATION_FEATURES",
    "liquidation_sums",
]

HOUR_NS: Final = 3_600 * 10**9
CASCADE_QUANTILE: Final = 0.95
CASCADE_WINDOW_HOURS: Final = 24 * 30
_MIN_SHARE: Final = 0.9  # of the trailing hour marks with a known total
_CHUNK: Final = 1024
_WINDOWS: Final = (("1h", 1), ("24h", 24), ("7d", 24 * 7))


def liquidation_sums(
    ctx: FrameContext, name: str, window_ns: int, times: IntArray | None = None
) -> tuple[FloatArray, FloatArray, ReasonArray]:
    """Long and short USD of input ``name``'s chosen series over ``(t - window, t]`` at ``times``
    (default: the context's decision times, memoised) and a reason where NaN."""
    key = f"liq:{name}:{window_ns}"
    if times is None and key in ctx.memo:
        cached: tuple[FloatArray, FloatArray, ReasonArray] = ctx.memo[key]
        return cached
    at = ctx.times if times is None else times
    sel = ctx.selection(name) if times is None else ctx.select(name, at)
    longs, _, why = ctx.window_sum(sel, "long_usd", window_ns, at)
    shorts, _, _ = ctx.window_sum(sel, "short_usd", window_ns, at)
    result = (longs, shorts, first_reason(sel.reasons, why))
    if times is None:
        ctx.memo[key] = result
    return result


def _total(ctx: FrameContext, name: str, window_ns: int) -> FeatureColumn:
    longs, shorts, why = liquidation_sums(ctx, name, window_ns)
    return FeatureColumn.build(longs + shorts, why)


def _skew(ctx: FrameContext, name: str, window_ns: int) -> FeatureColumn:
    longs, shorts, why = liquidation_sums(ctx, name, window_ns)
    total = longs + shorts
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = (longs - shorts) / total
    none = reason_where((total == 0) & has_no_reason(why), "no liquidations in the window")
    return FeatureColumn.build(skew, first_reason(why, none))


def _per_venue(
    fn: Callable[[FrameContext, str, int], FeatureColumn], name: str, window_ns: int
) -> Callable[[FrameContext], FeatureColumn]:
    def build(ctx: FrameContext) -> FeatureColumn:
        return fn(ctx, name, window_ns)

    build.__qualname__ = f"{fn.__qualname__}[{name},{window_ns}]"
    return build


# -- cascade ---------------------------------------------------------------------------------
def _threshold(ctx: FrameContext) -> FeatureColumn:
    """The trailing-30-day quantile of last-hour totals (module docstring), memoised."""
    key = "liq:cascade:threshold"
    if key in ctx.memo:
        cached: FeatureColumn = ctx.memo[key]
        return cached
    n = len(ctx.times)
    marks = ctx.times - np.mod(ctx.times, HOUR_NS)
    uniq, inverse = np.unique(marks, return_inverse=True)
    values = np.full(len(uniq), np.nan)
    reasons = np.full(len(uniq), None, dtype=object)
    if len(uniq):
        span = CASCADE_WINDOW_HOURS
        first = uniq[0] - (span - 1) * HOUR_NS
        grid = first + np.arange((uniq[-1] - first) // HOUR_NS + 1, dtype=np.int64) * HOUR_NS
        longs, shorts, _ = liquidation_sums(ctx, "liquidations", HOUR_NS, grid)
        windows = sliding_window_view(longs + shorts, span)
        rows = np.searchsorted(grid, uniq) - (span - 1)
        need = int(np.ceil(_MIN_SHARE * span))
        for start in range(0, len(uniq), _CHUNK):
            part = slice(start, start + _CHUNK)
            sample = windows[rows[part]]
            count = np.isfinite(sample).sum(axis=1)
            enough = count >= need
            if enough.any():
                q = np.nanquantile(sample[enough], CASCADE_QUANTILE, axis=1)
                values[np.flatnonzero(enough) + start] = q
            for i in np.flatnonzero(~enough) + start:
                reasons[i] = (
                    f"liquidations have {int(count[i - start])} of {span} hourly totals in the "
                    f"trailing {format_span(span * HOUR_NS)} (need {need})"
                )
    guard = ctx.switch_guard("liquidations", CASCADE_WINDOW_HOURS * HOUR_NS)
    sel = ctx.selection("liquidations")
    result = FeatureColumn.build(
        values[inverse].reshape(n), first_reason(sel.reasons, guard, reasons[inverse].reshape(n))
    )
    ctx.memo[key] = result
    return result


def _hour_range(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, FloatArray]:
    """Low and high of the bars (chosen price venue at each time) closing in ``(t - 1h, t]``."""
    low = np.full(len(times), np.nan)
    high = np.full(len(times), np.nan)
    price = ctx.select("price", times)
    for k, s in enumerate(ctx.candidates("price")):
        rows = np.flatnonzero(price.choice == k)
        if not len(rows):
            continue
        lo = np.searchsorted(s.avail, times[rows] - HOUR_NS, side="right")
        hi = np.searchsorted(s.avail, times[rows], side="right")
        for r, a, b in zip(rows, lo, hi, strict=True):
            if b > a:
                low[r] = float(np.min(s.column("low")[a:b]))
                high[r] = float(np.max(s.column("high")[a:b]))
    return low, high


def _crossed(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray]:
    """1.0 where the last hour's range reached a cluster of the map at ``t - 1h``, else 0.0."""
    maps = map_features_at(ctx, times - HOUR_NS)
    mass = maps.values["liq_long_mass_usd"]
    map_why = np.array(
        [None if r is None else f"map at t-1h: {r}" for r in maps.reasons["liq_long_mass_usd"]],
        dtype=object,
    )
    cl = maps.clusters
    long_top = np.full(len(times), -np.inf)
    short_bottom = np.full(len(times), np.inf)
    is_long = cl.side == 0
    np.maximum.at(long_top, cl.row[is_long], cl.high_usd[is_long])
    np.minimum.at(short_bottom, cl.row[~is_long], cl.low_usd[~is_long])
    low, high = _hour_range(ctx, times)
    crossed = ((low <= long_top) | (high >= short_bottom)).astype(np.float64)
    no_bars = reason_where(np.isnan(low), "no price bar closed in the last hour")
    values = np.where(np.isfinite(mass) & np.isfinite(low), crossed, np.nan)
    return values, first_reason(map_why, no_bars)


def _cascade(ctx: FrameContext) -> FeatureColumn:
    longs, shorts, why = liquidation_sums(ctx, "liquidations", HOUR_NS)
    last_hour = longs + shorts
    threshold = _threshold(ctx)
    reasons = first_reason(why, threshold.reasons)
    known = has_no_reason(reasons)
    values = np.where(known, 0.0, np.nan)
    rows = np.flatnonzero(known & (last_hour > threshold.values))
    if len(rows):
        crossed, crossed_why = _crossed(ctx, ctx.times[rows])
        values[rows] = crossed
        reasons[rows] = crossed_why
    return FeatureColumn.build(values, reasons)


def _liquidation_features() -> tuple[FeatureSpec[FrameContext], ...]:
    specs: list[FeatureSpec[FrameContext]] = []
    for venue in EXCHANGES:
        name = f"liquidations_{venue}"
        for label, hours in _WINDOWS:
            specs.append(
                FeatureSpec(
                    f"liq_total_usd_{label}_{venue}",
                    "usd",
                    f"{venue} long + short liquidations recorded in buckets that closed in the "
                    f"last {label} (lower bound: a stream misses what it does not push)",
                    (name,),
                    _per_venue(_total, name, hours * HOUR_NS),
                )
            )
            specs.append(
                FeatureSpec(
                    f"liq_skew_{label}_{venue}",
                    "score[-1,1]",
                    f"{venue} (long - short) / (long + short) liquidations over {label}; "
                    "+1 = only longs",
                    (name,),
                    _per_venue(_skew, name, hours * HOUR_NS),
                )
            )
    specs += [
        FeatureSpec(
            "liq_total_usd_1h_q95_30d",
            "usd",
            f"{CASCADE_QUANTILE:g} quantile of the last-hour liquidation totals at the hour marks "
            "of the trailing 30 days (one series; 90% of the marks needed)",
            ("liquidations",),
            _threshold,
        ),
        FeatureSpec(
            "liq_cascade_1h",
            "flag",
            "1 when liq_total_usd_1h > liq_total_usd_1h_q95_30d and the last hour's bars "
            "reached a cluster of the liquidation map as of t-1h, else 0",
            ("liquidations", "price"),
            _cascade,
            optional_inputs=(*MAP_INPUTS[1:], *SHARE_INPUTS),
        ),
    ]
    return tuple(specs)


LIQUIDATION_FEATURES: Final[tuple[FeatureSpec[FrameContext], ...]] = _liquidation_features()
