"""Deleveraging signals (the seeds): OI vs price, leverage reset, liquidations, funding, vol.

Every feature is a point-in-time value at decision time ``t`` (see ``features.frame.frame``):

- ``x(t)`` is the last value known at ``t`` of the input's chosen series; a change over ``W`` is
  ``x(t) / x(t - W) - 1`` with both ends read point-in-time from the same series;
- open-interest windows are NaN when the chosen OI series switched inside the window (levels of
  series with different scopes are never spliced);
- price windows use the most preferred venue that has the whole window (venues quote the same
  asset to about 0.01 %, so choosing among them by history is harmless, and each window still
  reads one venue only);
- rolling sums read rows with ``t - W < available_at <= t`` and need 90 % of the expected rows.

The specs are ``SIGNAL_FEATURES`` (part of the catalogue ``features.frame.registry.FEATURES``).

NaN policy: NaN with a reason (see ``features.frame.specs.FeatureColumn``); never an exception.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.builders.liquidations import liquidation_sums
from levercast.features.frame.inputs import FrameContext
from levercast.features.frame.specs import (
    FeatureColumn,
    FeatureSpec,
    ReasonArray,
    first_reason,
    format_span,
    has_no_reason,
    reason_where,
    windowed,
)
from levercast.features.timeutil import HOURS_PER_YEAR

__all__ = ["LEVERAGE_RESET_DRAWDOWN", "SIGNAL_FEATURES", "oi_change", "price_change"]

DAY_NS: Final = 86_400 * 10**9
HOUR_NS: Final = 3_600 * 10**9
LEVERAGE_RESET_DRAWDOWN: Final = 0.10  # OI 10% below its 30-day peak counts as a reset


def _level(ctx: FrameContext, name: str, column: str) -> FeatureColumn:
    sel = ctx.selection(name)
    return FeatureColumn.build(ctx.pick(sel, column), sel.reasons)


def _price_level(ctx: FrameContext) -> FeatureColumn:
    return _level(ctx, "price", "close")


def _oi_level(ctx: FrameContext) -> FeatureColumn:
    return _level(ctx, "open_interest", "oi_usd")


def _funding_level(ctx: FrameContext) -> FeatureColumn:
    return _level(ctx, "funding", "rate")


def _change_on(
    ctx: FrameContext, name: str, column: str, window_ns: int, only: int | None
) -> tuple[FloatArray, ReasonArray]:
    now = ctx.select(name, ctx.times, only=only)
    past = ctx.select(name, ctx.times - window_ns, only=only)
    same = past.choice == now.choice
    ratio = ctx.pick(now, column) / np.where(same, ctx.pick(past, column), np.nan) - 1.0
    past_why = np.array(
        [None if r is None else f"at t-{format_span(window_ns)}: {r}" for r in past.reasons],
        dtype=object,
    )
    return ratio, first_reason(now.reasons, past_why)


def oi_change(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    """Fractional change of open interest (USD) over ``window_ns``, NaN across a series switch."""
    key = f"oi_change:{window_ns}"
    if key not in ctx.memo:
        ratio, why = _change_on(ctx, "open_interest", "oi_usd", window_ns, None)
        guard = ctx.switch_guard("open_interest", window_ns)
        ctx.memo[key] = FeatureColumn.build(ratio, first_reason(guard, why))
    result: FeatureColumn = ctx.memo[key]
    return result


def price_change(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    """Fractional change of the price over ``window_ns`` on the first venue covering it."""
    key = f"price_change:{window_ns}"
    if key not in ctx.memo:
        level = ctx.selection("price")
        values = np.full(len(ctx.times), np.nan)
        reasons = np.full(len(ctx.times), None, dtype=object)
        for k in range(len(ctx.candidates("price"))):
            ratio, why = _change_on(ctx, "price", "close", window_ns, k)
            fill = np.isnan(values) & np.isfinite(ratio)
            values[fill] = ratio[fill]
            explain = (level.choice == k) & np.isnan(values)
            reasons[explain] = why[explain]
        reasons[np.isfinite(values)] = None  # a later venue covered the window
        ctx.memo[key] = FeatureColumn.build(values, first_reason(level.reasons, reasons))
    result: FeatureColumn = ctx.memo[key]
    return result


def _realised_vol(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    level = ctx.selection("price")
    values = np.full(len(ctx.times), np.nan)
    reasons = np.full(len(ctx.times), None, dtype=object)
    for k, s in enumerate(ctx.candidates("price")):
        if len(s) < 2:
            continue
        sel = ctx.select("price", ctx.times, only=k)
        close = s.column("close")
        ret = np.full(len(s), np.nan)
        step_ok = np.diff(s.ts) == s.native_ns
        ret[1:] = np.where(step_ok, np.log(close[1:] / close[:-1]), np.nan)
        valid = np.isfinite(ret)
        cum_sq = np.concatenate([[0.0], np.cumsum(np.where(valid, ret * ret, 0.0))])
        cum_n = np.concatenate([[0], np.cumsum(valid)])
        ok = sel.choice == k
        i = sel.idx[ok]
        lo = np.searchsorted(s.ts, s.ts[i] - window_ns, side="right")
        n = cum_n[i + 1] - cum_n[lo]
        sq = cum_sq[i + 1] - cum_sq[lo]
        expected = window_ns / s.native_ns
        periods = HOURS_PER_YEAR * HOUR_NS / s.native_ns
        rv = np.where(
            n >= np.ceil(0.9 * expected), np.sqrt(sq / np.maximum(n, 1) * periods), np.nan
        )
        slot = np.flatnonzero(ok)
        fill = np.isnan(values[slot]) & np.isfinite(rv)
        values[slot[fill]] = rv[fill]
        explain = slot[(level.choice[slot] == k) & ~np.isfinite(rv)]
        for w in explain:
            reasons[w] = (
                f"price ({s.venue}) has {int(n[np.searchsorted(slot, w)])} of {expected:g} "
                f"hourly returns in the {format_span(window_ns)} window (gap or short history)"
            )
    reasons[np.isfinite(values)] = None  # a later venue covered the window
    return FeatureColumn.build(values, first_reason(level.reasons, reasons))


def _spread(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    oi = oi_change(ctx, window_ns)
    px = price_change(ctx, window_ns)
    return FeatureColumn.build(oi.values - px.values, first_reason(oi.reasons, px.reasons))


def _drawdown(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    key = f"oi_drawdown:{window_ns}"
    if key in ctx.memo:
        cached: FeatureColumn = ctx.memo[key]
        return cached
    sel = ctx.selection("open_interest")
    peak = np.full(len(ctx.times), np.nan)
    for k, s in enumerate(ctx.candidates("open_interest")):
        mask = sel.choice == k
        if not mask.any():
            continue
        index = pd.DatetimeIndex(pd.to_datetime(s.ts, utc=True))
        rolling = pd.Series(s.column("oi_usd"), index=index).rolling(pd.Timedelta(window_ns))
        peak[mask] = rolling.max().to_numpy()[sel.idx[mask]]
    _, coverage = ctx.window_start(sel, window_ns)
    guard = ctx.switch_guard("open_interest", window_ns)
    values = ctx.pick(sel, "oi_usd") / peak - 1.0
    result = FeatureColumn.build(values, first_reason(sel.reasons, guard, coverage))
    ctx.memo[key] = result
    return result


def _reset(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    dd = _drawdown(ctx, window_ns)
    flag = np.where(np.isnan(dd.values), np.nan, (dd.values <= -LEVERAGE_RESET_DRAWDOWN) * 1.0)
    return FeatureColumn.build(flag, dd.reasons)


def _liq_sums(ctx: FrameContext, window_ns: int) -> tuple[FloatArray, FloatArray, ReasonArray]:
    return liquidation_sums(ctx, "liquidations", window_ns)


def _liq_total(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    longs, shorts, why = _liq_sums(ctx, window_ns)
    return FeatureColumn.build(longs + shorts, why)


def _liq_skew(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    longs, shorts, why = _liq_sums(ctx, window_ns)
    total = longs + shorts
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = (longs - shorts) / total
    none = reason_where((total == 0) & has_no_reason(why), "no liquidations in the window")
    return FeatureColumn.build(skew, first_reason(why, none))


def _funding_change(ctx: FrameContext) -> FeatureColumn:
    now = ctx.selection("funding")
    past = ctx.select("funding", ctx.times - DAY_NS)
    diff = ctx.pick(now, "rate") - ctx.pick(past, "rate")
    past_why = np.array([None if r is None else f"at t-24h: {r}" for r in past.reasons], object)
    return FeatureColumn.build(diff, first_reason(now.reasons, past_why))


def _funding_mean(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    sel = ctx.selection("funding")
    total, count, why = ctx.window_sum(sel, "rate", window_ns)
    return FeatureColumn.build(total / np.maximum(count, 1), first_reason(sel.reasons, why))


def _days(n: int) -> int:
    return n * DAY_NS


def _signal_features() -> tuple[FeatureSpec[FrameContext], ...]:
    specs: list[FeatureSpec[FrameContext]] = [
        FeatureSpec(
            "price_usd",
            "usd",
            "last 1h close known at t (Binance USD-M, else Bitget, else Binance spot)",
            ("price",),
            _price_level,
        ),
        FeatureSpec(
            "oi_usd",
            "usd",
            "open interest of the widest-scope series fresh at t (named in sources)",
            ("open_interest",),
            _oi_level,
        ),
    ]
    for label, hours in (("24h", 24), ("7d", 24 * 7), ("30d", 24 * 30)):
        specs.append(
            FeatureSpec(
                f"rvol_{label}",
                "annualised",
                f"realised vol of hourly log returns over {label}, zero mean, sqrt(8760) scaling",
                ("price",),
                windowed(_realised_vol, hours * HOUR_NS),
            )
        )
    for days in (1, 30, 90, 270):
        specs.append(
            FeatureSpec(
                f"oi_change_{days}d",
                "fraction",
                f"OI(t) / OI(t-{days}d) - 1 on one series; NaN if the series switched",
                ("open_interest",),
                windowed(oi_change, _days(days)),
            )
        )
    for days in (30, 90, 270):
        specs.append(
            FeatureSpec(
                f"price_change_{days}d",
                "fraction",
                f"price(t) / price(t-{days}d) - 1",
                ("price",),
                windowed(price_change, _days(days)),
            )
        )
        specs.append(
            FeatureSpec(
                f"oi_price_spread_{days}d",
                "fraction",
                f"oi_change_{days}d - price_change_{days}d; > 0 means OI grew faster than price "
                "(leverage-fuelled, e.g. OI +40% with price +15% gives 0.25)",
                ("open_interest", "price"),
                windowed(_spread, _days(days)),
            )
        )
    specs += [
        FeatureSpec(
            "oi_drawdown_30d",
            "fraction",
            "OI(t) / max OI over the last 30d of the same series - 1 (<= 0)",
            ("open_interest",),
            windowed(_drawdown, _days(30)),
        ),
        FeatureSpec(
            "leverage_reset_30d",
            "flag",
            f"1 when oi_drawdown_30d <= -{LEVERAGE_RESET_DRAWDOWN:g} (a leverage flush), else 0",
            ("open_interest",),
            windowed(_reset, _days(30)),
        ),
        FeatureSpec(
            "funding_rate_8h",
            "fraction",
            "last funding rate known at t, per 8h interval (0.0001 = 0.01%)",
            ("funding",),
            _funding_level,
        ),
        FeatureSpec(
            "funding_rate_change_24h",
            "fraction",
            "funding_rate_8h(t) - funding_rate_8h(t-24h)",
            ("funding",),
            _funding_change,
        ),
        FeatureSpec(
            "funding_rate_mean_7d",
            "fraction",
            "mean funding rate per 8h over fundings known in the last 7d",
            ("funding",),
            windowed(_funding_mean, _days(7)),
        ),
    ]
    for label, hours in (("1h", 1), ("24h", 24), ("7d", 24 * 7), ("30d", 24 * 30)):
        specs.append(
            FeatureSpec(
                f"liq_total_usd_{label}",
                "usd",
                f"long + short liquidations in buckets that closed in the last {label} (widest "
                "scope fresh at t: CoinGlass aggregate, else the recorded exchanges)",
                ("liquidations",),
                windowed(_liq_total, hours * HOUR_NS),
            )
        )
        specs.append(
            FeatureSpec(
                f"liq_skew_{label}",
                "score[-1,1]",
                f"(long - short) / (long + short) liquidations over {label}; +1 = only longs",
                ("liquidations",),
                windowed(_liq_skew, hours * HOUR_NS),
            )
        )
    return tuple(specs)


SIGNAL_FEATURES: Final[tuple[FeatureSpec[FrameContext], ...]] = _signal_features()
