"""Liquidation clusters, distances from spot, and the liquidation-map feature set.

The maths (binned maps, a vectorised one-dimensional DBSCAN, distances, mass near spot) lives in
``features.liqmap.snapshots`` and is the same for one map and for thousands; this module wires it to
the point-in-time inputs and declares the specs ``MAP_FEATURES`` (part of the catalogue
``features.frame.registry.FEATURES``).

Inputs at a decision time ``t`` (point in time: only rows with ``available_at <= t``)
    * Bars: the 1h candles of the ``price`` input's venue chosen at ``t`` by the frame
      (``FrameContext.selection("price")``: the first venue whose last bar is fresh at ``t``),
      so the venue never depends on how far a series runs past ``t``.
    * Open interest: the ``OI_VENUE`` (Bybit) series of the ``open_interest_flow`` input, the
      venue the committed constants were fitted on (``features.liqmap.params``); bars its
      observations do not resolve at ``t`` use the volume fallback.
    * Long share of new notional: ``features.builders.dominance.long_share_series`` (indexed by
      the OI bar's open ``ts``; a value is known at the bar's close, so the index is shifted by
      +1 h before ``build_inputs`` forward-fills it onto bar closes).

Lookback: the context's ``map_lookback_hours`` (None: the committed 168 h) unless ``params`` are
given.

Features are NaN with a reason when the ``price`` or ``open_interest_flow`` input is missing or
stale at ``t`` (the input's reason), when no bar closes in the lookback window, and as listed in
``features.liqmap.snapshots``. The clusters of the map at ``t`` are left in the context
(``CLUSTERS_MEMO``) for ``features_at``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features._typing import IntArray
from levercast.features.builders.dominance import long_share_series
from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError
from levercast.features.frame.inputs import CLUSTERS_MEMO, FrameContext, SourceSeries, context_for
from levercast.features.frame.specs import FeatureColumn, FeatureSpec, first_reason
from levercast.features.liqmap import params as P
from levercast.features.liqmap.map import LiqMap, LiqMapParams, MapInputs, build_inputs
from levercast.features.liqmap.snapshots import (
    DENSITY_FACTOR,
    EPS_BINS,
    FEATURE_NAMES,
    MASS_BANDS_PCT,
    SIDES,
    TOP_N,
    VOL_WINDOW_HOURS,
    MapFeatures,
    density_clusters,
    hourly_vols,
    map_features,
)

__all__ = [
    "FEATURE_NAMES",
    "MAP_FEATURES",
    "MAP_INPUTS",
    "MASS_BANDS_PCT",
    "SHARE_INPUTS",
    "VOL_WINDOW_HOURS",
    "context_map_features",
    "features_from_inputs",
    "find_clusters",
    "hourly_vol",
    "liqmap_features",
    "long_share_known_at",
    "map_features_at",
    "map_params",
    "mass_near_spot",
]

MAP_INPUTS: Final = ("price", "open_interest_flow")
SHARE_INPUTS: Final = ("funding", "top_trader_ratio", "taker_ratio", "account_ratio")
_MEMO: Final = "liqmap:features"
_SHARE_DELAY: Final = pd.Timedelta(hours=1)  # an hourly OI bar's value is known at its close


def find_clusters(
    liq_map: LiqMap,
    *,
    side: str,
    top_n: int = TOP_N,
    eps_bins: int = EPS_BINS,
    density_factor: float = DENSITY_FACTOR,
) -> list[dict[str, Any]]:
    """Density clusters of one side of ``liq_map``, largest mass first (at most ``top_n``).

    Returns
    -------
    list of dict
        ``{"side", "center_usd", "low_usd", "high_usd", "mass_usd", "distance_pct"}``; the centre
        is the mass-weighted geometric mean of the cluster's bin centres, low/high its outer
        bin edges, ``distance_pct`` = ``(center / spot - 1) * 100``.

    Raises
    ------
    ConfigError
        For an unknown side or out-of-range clustering parameters.
    """
    if side not in SIDES:
        raise ConfigError(f"side must be 'long' or 'short'; found {side!r}")
    if top_n < 1:
        raise ConfigError(f"top_n must be >= 1; found top_n={top_n}")
    mass = liq_map.long_mass_usd if side == "long" else liq_map.short_mass_usd
    cl = density_clusters(mass[None, :], eps_bins=eps_bins, density_factor=density_factor)
    order = np.lexsort((np.arange(len(cl.row)), -cl.mass_usd))[:top_n]
    step = np.log1p(liq_map.bin_bps / 1e4)
    out = []
    for i in order:
        center = float(np.exp((liq_map.first_bin + cl.center_col[i]) * step))
        out.append(
            {
                "side": side,
                "center_usd": center,
                "low_usd": float(np.exp((liq_map.first_bin + cl.low_col[i]) * step)),
                "high_usd": float(np.exp((liq_map.first_bin + cl.high_col[i] + 1) * step)),
                "mass_usd": float(cl.mass_usd[i]),
                "distance_pct": (center / liq_map.spot_usd - 1.0) * 100.0,
            }
        )
    return out


def mass_near_spot(liq_map: LiqMap, *, band_pct: float) -> tuple[float, float]:
    """Mass (both sides, USD) in bins whose centre lies within ``band_pct`` % above / below spot."""
    if band_pct <= 0:
        raise ConfigError(f"band_pct must be > 0; found {band_pct}")
    centers = liq_map.centers_usd
    total = liq_map.long_mass_usd + liq_map.short_mass_usd
    spot = liq_map.spot_usd
    above = (centers > spot) & (centers <= spot * (1 + band_pct / 100))
    below = (centers < spot) & (centers >= spot * (1 - band_pct / 100))
    return float(total[above].sum()), float(total[below].sum())


def hourly_vol(
    inputs: MapInputs, t: pd.Timestamp, *, window_hours: float = VOL_WINDOW_HOURS
) -> float:
    """Hourly log-return volatility of bars closing in ``(t - window_hours, t]``
    (``features.liqmap.snapshots.hourly_vols``); NaN with fewer than 3 returns."""
    t_ns = np.array([pd.Timestamp(t).value], dtype=np.int64)
    return float(hourly_vols(inputs, t_ns, window_hours=window_hours)[0])


def features_from_inputs(
    inputs: MapInputs,
    t: pd.Timestamp,
    *,
    params: LiqMapParams,
    horizon_hours: float = 24,
    top_n: int = TOP_N,
) -> tuple[dict[str, float | None], dict[str, str], list[dict[str, Any]]]:
    """The features, reasons and clusters of the map at ``t`` from already built inputs."""
    t_ns = np.array([pd.Timestamp(t).value], dtype=np.int64)
    result = map_features(inputs, params, t_ns, horizon_hours=horizon_hours, top_n=top_n)
    return _row(result, 0)


def _row(
    result: MapFeatures, i: int
) -> tuple[dict[str, float | None], dict[str, str], list[dict[str, Any]]]:
    features: dict[str, float | None] = {}
    missing: dict[str, str] = {}
    for name in FEATURE_NAMES:
        value = float(result.values[name][i])
        features[name] = value if np.isfinite(value) else None
        if features[name] is None:
            missing[name] = str(result.reasons[name][i])
    return features, missing, result.clusters.at(i)


def long_share_known_at(
    view_or_frames: StoreView | Mapping[str, pd.DataFrame], asset: str
) -> pd.Series:
    """``features.builders.dominance.long_share_series`` re-indexed by the time each value becomes
    known
    (the OI bar's close: ``ts + 1h``), as ``build_inputs(..., long_share=...)`` expects.

    Each value uses only rows known at its bar's close, so the series of a later view agrees
    with that of an earlier one on the earlier one's times.
    """
    series = long_share_series(view_or_frames, asset)
    series.index = series.index + _SHARE_DELAY
    return series


def _candles(s: SourceSeries) -> pd.DataFrame:
    return pd.DataFrame(
        {"available_at": pd.to_datetime(s.avail, utc=True)}
        | {c: s.column(c) for c in ("high", "low", "close", "volume_base")}
    )


def _oi(ctx: FrameContext) -> pd.DataFrame | None:
    for s in ctx.candidates("open_interest_flow"):
        if s.venue == P.OI_VENUE and len(s):
            return pd.DataFrame(
                {"available_at": pd.to_datetime(s.avail, utc=True), "oi_usd": s.column("oi_usd")}
            )
    return None


def map_params(lookback_hours: float | None = None) -> LiqMapParams:
    """The committed map parameters, with another lookback window when one is given."""
    base = LiqMapParams.default()
    if lookback_hours is None or lookback_hours == base.lookback_hours:
        return base
    return base.replace(lookback_hours=P.check_lookback(lookback_hours))


def map_features_at(
    ctx: FrameContext,
    times: IntArray,
    *,
    params: LiqMapParams | None = None,
    horizon_hours: float = 24,
    top_n: int = TOP_N,
    long_share: float | pd.Series | None = None,
) -> MapFeatures:
    """Map features at ``times`` (any times known to ``ctx``, e.g. an hour before its decision
    times) from the inputs selected at each of them (module docstring: inputs and reasons).

    ``params`` default to ``map_params()``; ``long_share`` overrides the dominance estimate (a
    scalar, or a Series indexed by the time each value is known).
    """
    params = params or map_params(ctx.map_lookback_hours)
    times = np.asarray(times, dtype=np.int64)
    price = ctx.select("price", times)
    flow = ctx.select("open_interest_flow", times)
    ok = price.ok & flow.ok
    result = MapFeatures.unavailable(first_reason(price.reasons, flow.reasons))
    if ok.any():
        share = long_share
        if share is None:
            key = "liqmap:long_share"
            if key not in ctx.memo:
                ctx.memo[key] = long_share_known_at(ctx.tables, ctx.asset)
            share = ctx.memo[key]
        oi = _oi(ctx)
        for k, s in enumerate(ctx.candidates("price")):
            rows = np.flatnonzero(ok & (price.choice == k))
            if len(rows):
                inputs = build_inputs(_candles(s), oi, long_share=share)
                part = map_features(
                    inputs, params, times[rows], horizon_hours=horizon_hours, top_n=top_n
                )
                result = result.scatter(rows, part)
    return result


def context_map_features(
    ctx: FrameContext,
    *,
    params: LiqMapParams | None = None,
    horizon_hours: float = 24,
    top_n: int = TOP_N,
    long_share: float | pd.Series | None = None,
) -> MapFeatures:
    """Map features at every decision time of ``ctx`` (module docstring: inputs and reasons).

    ``long_share`` overrides the dominance estimate (a scalar, or a Series indexed by the time
    each value is known). With every argument at its default the result is memoised on ``ctx``
    (per lookback in effect).
    """
    default = params is None and horizon_hours == 24 and top_n == TOP_N and long_share is None
    key = f"{_MEMO}:{map_params(ctx.map_lookback_hours).lookback_hours:g}"
    if default and key in ctx.memo:
        cached: MapFeatures = ctx.memo[key]
        return cached
    result = map_features_at(
        ctx,
        ctx.times,
        params=params,
        horizon_hours=horizon_hours,
        top_n=top_n,
        long_share=long_share,
    )
    if default:
        ctx.memo[key] = result
    return result


def liqmap_features(
    view: StoreView,
    asset: str,
    *,
    horizon_hours: float = 24,
    long_share: float | pd.Series | None = None,
    params: LiqMapParams | None = None,
    top_n: int = TOP_N,
    lookback_hours: float | None = None,
) -> tuple[dict[str, float | None], dict[str, str], list[dict[str, Any]]]:
    """Liquidation-map features of ``asset`` as of ``view.t`` (INTERFACE.md §4 ``features``).

    The same computation as the catalogued features (and ``features_at``) at ``view.t``.

    Returns
    -------
    features, missing, clusters
        ``features`` maps every name of ``FEATURE_NAMES`` to a value or ``None``; ``missing``
        gives the reason for each ``None``; ``clusters`` is the top ``top_n`` per side.

    Raises
    ------
    ConfigError
        If ``horizon_hours <= 0`` or ``top_n < 1``.
    """
    if horizon_hours <= 0 or top_n < 1:
        raise ConfigError(
            f"horizon_hours must be > 0 and top_n >= 1; found horizon_hours={horizon_hours}, "
            f"top_n={top_n}"
        )
    ctx = context_for(
        view, asset, inputs=[*MAP_INPUTS, *SHARE_INPUTS], map_lookback_hours=lookback_hours
    )
    result = context_map_features(
        ctx, params=params, horizon_hours=horizon_hours, top_n=top_n, long_share=long_share
    )
    return _row(result, 0)


def _unit(name: str) -> str:
    if name.endswith("_usd"):
        return "usd"
    if "ratio" in name:
        return "ratio"
    return "percent" if name.endswith("_pct") else "vol units"


def _map_builder(name: str) -> Callable[[FrameContext], FeatureColumn]:
    def build(ctx: FrameContext) -> FeatureColumn:
        result = context_map_features(ctx)
        ctx.memo[CLUSTERS_MEMO] = result.clusters.at
        return FeatureColumn.build(
            result.values[name], result.reasons[name], fallback="liquidation map unavailable"
        )

    build.__qualname__ = f"liqmap_builder_{name}"
    return build


# Every name of FEATURE_NAMES: required inputs price and open_interest_flow, the dominance
# inputs optional.
MAP_FEATURES: Final[tuple[FeatureSpec[FrameContext], ...]] = tuple(
    FeatureSpec(
        name=name,
        unit=_unit(name),
        description=f"liquidation map (features.liqmap.map, features.liqmap.snapshots): {name}",
        inputs=MAP_INPUTS,
        builder=_map_builder(name),
        optional_inputs=SHARE_INPUTS,
    )
    for name in FEATURE_NAMES
)
