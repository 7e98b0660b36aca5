"""Estimated Leverage Ratio (ELR) and its supply-based proxy.

``ELR(t) = OI_usd(t) / (reserve_base(d) * price(d))`` where

- ``OI_usd(t)`` is the open interest of the **widest-scope series fresh at t** (all-exchanges,
  else the Binance+Bybit+OKX aggregate, else Bybit alone; never a sum of overlapping scopes), named
  in ``sources["open_interest"]``;
- ``d`` is the last exchange-reserve day known at ``t`` of the provider **freshest at t** (the
  candidate of ``exchange_reserves`` whose last known row has the latest day: the dataset's
  CryptoQuant-style series, CryptoQuant, Glassnode, a CSV, or DefiLlama's Binance+OKX+Bybit
  wallets), named in ``sources["exchange_reserves"]``, and ``price(d)`` the price known when that
  reserve became available (the close of day ``d`` for a next-day series; the fetch time for
  DefiLlama, whose rows are available only from when they were fetched), so the denominator is
  the reserve's USD value when it became known.

Missing or stale reserves (older than two days) make ELR NaN with a reason that names the last
real reserve date; ``elr_proxy_oi_supply`` is then the offered substitute:
``OI_usd(t) / (price(t) * circulating_supply(t))``, the share of all coins held as open interest.
It is the OI/market-cap proxy of METHODS.md §1.2: exchange reserves move slowly (BTC 2.3-2.6 M
over 2023-2024), so ELR is close to a constant multiple of it; BTC supply follows the issuance
schedule exactly (no look-ahead), ETH supply is taken constant (120.5 M, within 1% since 2022).

Windowed ELR features (1-year z-score, 7/30-day change) are NaN when the chosen OI series or the
chosen reserve provider switched inside the window (providers differ in scope: all exchanges
versus three). The specs are ``ELR_FEATURES`` (part of ``features.frame.registry.FEATURES``).
NaN policy: NaN with a reason, never an exception.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray, IntArray
from levercast.features.frame.inputs import FrameContext
from levercast.features.frame.specs import (
    FeatureColumn,
    FeatureSpec,
    ReasonArray,
    first_reason,
    format_span,
    reason_where,
    windowed,
)

__all__ = ["ELR_FEATURES", "ELR_ZSCORE_MIN_DAYS", "circulating_supply", "elr_at"]

DAY_NS: Final = 86_400 * 10**9
YEAR_NS: Final = 365 * DAY_NS
ELR_ZSCORE_MIN_DAYS: Final = 300  # of the 365 daily samples in the z-score window

# (halving time, supply at the halving block, BTC issued per block after it)
_BTC_HALVINGS: Final = (
    (pd.Timestamp("2016-07-09T16:46Z"), 15_750_000.0, 12.5),
    (pd.Timestamp("2020-05-11T19:23Z"), 18_375_000.0, 6.25),
    (pd.Timestamp("2024-04-20T00:09Z"), 19_687_500.0, 3.125),
)
_BLOCKS_PER_NS: Final = 1.0 / (600 * 10**9)
_ETH_SUPPLY: Final = 120_500_000.0


def circulating_supply(asset: str, times: IntArray) -> FloatArray:
    """Approximate circulating supply (coins) at integer-nanosecond times; NaN if unknown.

    BTC follows the issuance schedule from the halving anchors (10-minute blocks), valid from
    2016-07-09; ETH is the constant 120.5 M. Other assets: NaN.
    """
    out = np.full(len(times), np.nan)
    if asset == "ETH":
        out[:] = _ETH_SUPPLY
    elif asset == "BTC":
        for when, supply, reward in _BTC_HALVINGS:
            start = when.value
            after = times >= start
            out[after] = supply + (times[after] - start) * _BLOCKS_PER_NS * reward
    return out


def elr_at(ctx: FrameContext, times: IntArray) -> tuple[FloatArray, ReasonArray, IntArray]:
    """ELR evaluated point-in-time at ``times``: values, reasons, and the OI candidate chosen."""
    oi = ctx.select("open_interest", times)
    res = ctx.select("exchange_reserves", times)
    reserve = ctx.pick(res, "reserve_base")
    res_avail = np.full(len(times), np.iinfo(np.int64).min)
    for k, s in enumerate(ctx.candidates("exchange_reserves")):
        mask = res.choice == k
        res_avail[mask] = s.avail[res.idx[mask]]
    known = res.choice >= 0
    price = np.full(len(times), np.nan)
    if known.any():
        px = ctx.select("price", res_avail[known])
        price[known] = ctx.pick(px, "close")
        px_why = np.full(len(times), None, dtype=object)
        px_why[known] = np.array(
            [None if r is None else f"reserve-day price: {r}" for r in px.reasons], dtype=object
        )
    else:
        px_why = np.full(len(times), None, dtype=object)
    values = ctx.pick(oi, "oi_usd") / (reserve * price)
    reasons = first_reason(res.reasons, oi.reasons, px_why)
    return values, reasons, oi.choice


def _elr_level(ctx: FrameContext) -> FeatureColumn:
    key = "elr:level"
    if key not in ctx.memo:
        values, reasons, _ = elr_at(ctx, ctx.times)
        ctx.memo[key] = FeatureColumn.build(values, reasons)
    result: FeatureColumn = ctx.memo[key]
    return result


def _elr_change(ctx: FrameContext, window_ns: int) -> FeatureColumn:
    now = _elr_level(ctx)
    past, past_why, _ = elr_at(ctx, ctx.times - window_ns)
    tagged = np.array(
        [None if r is None else f"at t-{format_span(window_ns)}: {r}" for r in past_why], object
    )
    guard = ctx.switch_guard("open_interest", window_ns)
    reserves = ctx.switch_guard("exchange_reserves", window_ns)
    return FeatureColumn.build(
        now.values / past - 1.0, first_reason(now.reasons, guard, reserves, tagged)
    )


def _elr_zscore(ctx: FrameContext) -> FeatureColumn:
    now = _elr_level(ctx)
    cands = ctx.candidates("exchange_reserves")
    samples_t = np.unique(np.concatenate([s.avail for s in cands])) if cands else np.zeros(0, int)
    samples_t = samples_t[samples_t <= (ctx.times.max() if len(ctx.times) else 0)]
    daily, _, _ = elr_at(ctx, samples_t)
    valid = np.isfinite(daily)
    x = np.where(valid, daily, 0.0)
    cum = np.concatenate([[0.0], np.cumsum(x)])
    cum2 = np.concatenate([[0.0], np.cumsum(x * x)])
    cum_n = np.concatenate([[0], np.cumsum(valid)])
    hi = np.searchsorted(samples_t, ctx.times, side="right")
    lo = np.searchsorted(samples_t, ctx.times - YEAR_NS, side="right")
    n = cum_n[hi] - cum_n[lo]
    mean = (cum[hi] - cum[lo]) / np.maximum(n, 1)
    var = ((cum2[hi] - cum2[lo]) - n * mean * mean) / np.maximum(n - 1, 1)
    std = np.sqrt(np.maximum(var, 0.0))
    enough = n >= ELR_ZSCORE_MIN_DAYS
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(enough & (std > 0), (now.values - mean) / std, np.nan)
    short = np.array(
        [
            None
            if ok
            else f"elr has {int(c)} daily values in the last 365d (needs {ELR_ZSCORE_MIN_DAYS})"
            for ok, c in zip(enough, n, strict=True)
        ],
        dtype=object,
    )
    guard = ctx.switch_guard("open_interest", YEAR_NS)
    reserves = ctx.switch_guard("exchange_reserves", YEAR_NS)
    return FeatureColumn.build(z, first_reason(now.reasons, guard, reserves, short))


def _proxy(ctx: FrameContext) -> FeatureColumn:
    oi = ctx.selection("open_interest")
    px = ctx.selection("price")
    supply = circulating_supply(ctx.asset, ctx.times)
    values = ctx.pick(oi, "oi_usd") / (ctx.pick(px, "close") * supply)
    no_supply = reason_where(np.isnan(supply), f"no circulating-supply model for {ctx.asset}")
    return FeatureColumn.build(values, first_reason(oi.reasons, px.reasons, no_supply))


ELR_FEATURES: Final[tuple[FeatureSpec[FrameContext], ...]] = (
    FeatureSpec(
        "elr",
        "ratio",
        "OI USD (widest scope at t) / (exchange reserve coins of the freshest provider x price "
        "when the reserve became known)",
        ("open_interest", "exchange_reserves", "price"),
        _elr_level,
    ),
    FeatureSpec(
        "elr_zscore_1y",
        "zscore",
        "(elr - mean) / std of the daily elr samples of the last 365d (>= 300 needed)",
        ("open_interest", "exchange_reserves", "price"),
        _elr_zscore,
    ),
    FeatureSpec(
        "elr_change_7d",
        "fraction",
        "elr(t) / elr(t-7d) - 1, one OI series",
        ("open_interest", "exchange_reserves", "price"),
        windowed(_elr_change, 7 * DAY_NS),
    ),
    FeatureSpec(
        "elr_change_30d",
        "fraction",
        "elr(t) / elr(t-30d) - 1, one OI series",
        ("open_interest", "exchange_reserves", "price"),
        windowed(_elr_change, 30 * DAY_NS),
    ),
    FeatureSpec(
        "elr_proxy_oi_supply",
        "ratio",
        "PROXY for elr when reserves are missing: OI USD / (price x circulating supply)",
        ("open_interest", "price"),
        _proxy,
    ),
)
