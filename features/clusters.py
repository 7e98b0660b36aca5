"""Liquidation clusters, distances from spot, and the liquidation-map feature set.

Clustering
    scikit-learn ``DBSCAN`` in one dimension over the bin indices of one side of a map
    (``features.liqmap.LiqMap``), weighted by mass (``sample_weight``). A bin is a core point when
    the mass within ``eps_bins`` bins of it is at least ``density_factor`` times the side's average
    mass over such a neighbourhood, so clusters are the regions denser than average (a map spreads
    some mass over nearly every bin, so an absolute threshold would merge everything).

Features (all ``None`` with a reason in ``missing`` when they cannot be computed)
    ``liq_{side}_{nearest|largest}_dist_pct``: signed distance from spot to the cluster centre in
    percent; ``..._dist_vol``: ``ln(centre / spot) / (sigma_1h * sqrt(horizon_hours))`` with
    ``sigma_1h`` the hourly log-return volatility of the last 168 h of bars;
    ``liq_{side}_largest_mass_usd``; ``liq_{side}_mass_usd`` (whole map);
    ``liq_mass_{above|below}_{k}pct_usd`` (both sides, within ``k``% of spot) and
    ``liq_mass_ratio_{k}pct`` = above / below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from features import liqmap_params as P
from features._typing import FloatArray
from features.errors import ConfigError, DataError
from features.liqmap import LiqMap, LiqMapParams, MapInputs, build_inputs, map_snapshot
from features.store import StoreView

if TYPE_CHECKING:
    from features.frame_inputs import FrameContext

__all__ = [
    "FEATURE_NAMES",
    "features_from_inputs",
    "find_clusters",
    "hourly_vol",
    "liqmap_features",
    "load_map_inputs",
    "mass_near_spot",
    "register_features",
]

MASS_BANDS_PCT: Final = (2.0, 5.0)
VOL_WINDOW_HOURS: Final = 168.0
_SIDES: Final = ("long", "short")

FEATURE_NAMES: Final[tuple[str, ...]] = (
    *(
        f"liq_{side}_{which}_{unit}"
        for side in _SIDES
        for which in ("nearest", "largest")
        for unit in ("dist_pct", "dist_vol")
    ),
    *(f"liq_{side}_largest_mass_usd" for side in _SIDES),
    *(f"liq_{side}_mass_usd" for side in _SIDES),
    *(
        name
        for k in MASS_BANDS_PCT
        for name in (
            f"liq_mass_above_{k:g}pct_usd",
            f"liq_mass_below_{k:g}pct_usd",
            f"liq_mass_ratio_{k:g}pct",
        )
    ),
)


def find_clusters(
    liq_map: LiqMap,
    *,
    side: str,
    top_n: int = 3,
    eps_bins: int = 3,
    density_factor: float = 1.5,
) -> list[dict[str, Any]]:
    """Density clusters of one side of ``liq_map``, largest mass first (at most ``top_n``).

    Returns
    -------
    list of dict
        ``{"side", "center_usd", "low_usd", "high_usd", "mass_usd", "distance_pct"}``; the centre
        is the mass-weighted geometric mean of the cluster's bin centres, low/high its outer
        bin edges, ``distance_pct`` = ``(center / spot - 1) * 100``.
    """
    if side not in _SIDES:
        raise ConfigError(f"side must be 'long' or 'short'; found {side!r}")
    if top_n < 1 or eps_bins < 1 or density_factor <= 0:
        raise ConfigError(
            f"top_n and eps_bins must be >= 1 and density_factor > 0; found "
            f"top_n={top_n}, eps_bins={eps_bins}, density_factor={density_factor}"
        )
    mass = liq_map.long_mass_usd if side == "long" else liq_map.short_mass_usd
    nz = np.flatnonzero(mass > 0)
    if len(nz) == 0:
        return []
    from sklearn.cluster import DBSCAN

    weights = mass[nz]
    threshold = (
        density_factor * weights.mean() * (2 * eps_bins + 1) * len(nz) / max(nz[-1] - nz[0] + 1, 1)
    )
    labels = (
        DBSCAN(eps=eps_bins + 0.5, min_samples=1)
        .fit(nz.reshape(-1, 1).astype(np.float64), sample_weight=weights / threshold)
        .labels_
    )
    edges = liq_map.edges_usd
    centers = liq_map.centers_usd
    out: list[dict[str, Any]] = []
    for label in set(labels.tolist()) - {-1}:
        members = nz[labels == label]
        m = mass[members]
        center = float(np.exp(np.average(np.log(centers[members]), weights=m)))
        out.append(
            {
                "side": side,
                "center_usd": center,
                "low_usd": float(edges[members.min()]),
                "high_usd": float(edges[members.max() + 1]),
                "mass_usd": float(m.sum()),
                "distance_pct": (center / liq_map.spot_usd - 1.0) * 100.0,
            }
        )
    out.sort(key=lambda c: -float(c["mass_usd"]))
    return out[:top_n]


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
    """Standard deviation of log close-to-close returns per hour over bars closing in
    ``(t - window_hours, t]``; NaN with fewer than 3 returns."""
    t_ns = pd.Timestamp(t).value
    lo = np.searchsorted(inputs.close_ns, t_ns - int(window_hours * 3.6e12), side="right")
    hi = np.searchsorted(inputs.close_ns, t_ns, side="right")
    close = inputs.close[max(lo - 1, 0) : hi]
    times = inputs.close_ns[max(lo - 1, 0) : hi]
    if len(close) < 4:
        return float("nan")
    rets = np.diff(np.log(close))
    dt_h = np.diff(times) / 3.6e12
    return float(np.sqrt(np.mean(rets**2 / dt_h)))


def load_map_inputs(
    view: StoreView,
    asset: str,
    *,
    interval: str = "1h",
    candle_venue: str = "binance-usdm",
    oi_venue: str = P.OI_VENUE,
    long_share: float | pd.Series = 0.5,
    history_hours: float = 24 * 9,
    start: pd.Timestamp | None = None,
) -> MapInputs:
    """Map inputs from ``as_of`` reads of a store view: candles and OI of ``asset`` known at
    ``view.t`` with ``available_at`` after ``(start or view.t) - history_hours``.

    Raises
    ------
    DataError
        If no candle is available.
    """
    since = (start if start is not None else view.t) - timedelta(hours=history_hours)
    candles = view.table("candles", since=since, venue=candle_venue, asset=asset, interval=interval)
    if candles.empty:
        raise DataError(
            f"candles: no {candle_venue} {asset} {interval} bars between {since} and {view.t}"
        )
    oi = view.table("open_interest", since=since, venue=oi_venue, asset=asset)
    return build_inputs(candles, oi, long_share=long_share)


def _distance_features(
    clusters: list[dict[str, Any]], side: str, spot: float, scale: float
) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    if not clusters:
        return out
    nearest = min(clusters, key=lambda c: abs(c["distance_pct"]))
    largest = max(clusters, key=lambda c: c["mass_usd"])
    for which, c in (("nearest", nearest), ("largest", largest)):
        out[f"liq_{side}_{which}_dist_pct"] = c["distance_pct"]
        vol_units = np.log(c["center_usd"] / spot) / scale if scale > 0 else np.nan
        out[f"liq_{side}_{which}_dist_vol"] = float(vol_units) if np.isfinite(vol_units) else None
    out[f"liq_{side}_largest_mass_usd"] = largest["mass_usd"]
    return out


def liqmap_features(
    view: StoreView,
    asset: str,
    *,
    horizon_hours: float = 24,
    long_share: float | pd.Series = 0.5,
    params: LiqMapParams | None = None,
    top_n: int = 3,
    interval: str = "1h",
) -> tuple[dict[str, float | None], dict[str, str], list[dict[str, Any]]]:
    """Liquidation-map features of ``asset`` as of ``view.t`` (INTERFACE.md §4 ``features``).

    Returns
    -------
    features, missing, clusters
        ``features`` maps every name of ``FEATURE_NAMES`` to a value or ``None``; ``missing``
        gives the reason for each ``None``; ``clusters`` is the top ``top_n`` per side.
    """
    if horizon_hours <= 0:
        raise ConfigError(f"horizon_hours must be > 0; found {horizon_hours}")
    params = params or LiqMapParams.default()
    try:
        inputs = load_map_inputs(
            view,
            asset,
            interval=interval,
            long_share=long_share,
            history_hours=max(params.lookback_hours, VOL_WINDOW_HOURS) + 48,
        )
    except DataError as e:
        return dict.fromkeys(FEATURE_NAMES), _all_missing(e), []
    return features_from_inputs(
        inputs, view.t, params=params, horizon_hours=horizon_hours, top_n=top_n
    )


def _all_missing(error: Exception) -> dict[str, str]:
    return dict.fromkeys(FEATURE_NAMES, f"liquidation map unavailable: {error}")


def features_from_inputs(
    inputs: MapInputs,
    t: pd.Timestamp,
    *,
    params: LiqMapParams,
    horizon_hours: float = 24,
    top_n: int = 3,
) -> tuple[dict[str, float | None], dict[str, str], list[dict[str, Any]]]:
    """``liqmap_features`` from already built map inputs (rows after ``t`` are ignored)."""
    features: dict[str, float | None] = dict.fromkeys(FEATURE_NAMES)
    missing: dict[str, str] = {}
    try:
        liq_map = map_snapshot(inputs, params, t)
    except DataError as e:
        return features, _all_missing(e), []
    sigma = hourly_vol(inputs, t)
    scale = sigma * np.sqrt(horizon_hours) if np.isfinite(sigma) else float("nan")
    clusters: list[dict[str, Any]] = []
    for side in _SIDES:
        found = find_clusters(liq_map, side=side, top_n=top_n)
        clusters += found
        features.update(_distance_features(found, side, liq_map.spot_usd, scale))
        mass: FloatArray = liq_map.long_mass_usd if side == "long" else liq_map.short_mass_usd
        features[f"liq_{side}_mass_usd"] = float(mass.sum())
    for k in MASS_BANDS_PCT:
        above, below = mass_near_spot(liq_map, band_pct=k)
        features[f"liq_mass_above_{k:g}pct_usd"] = above
        features[f"liq_mass_below_{k:g}pct_usd"] = below
        features[f"liq_mass_ratio_{k:g}pct"] = above / below if below > 0 else None
    for name, value in features.items():
        if value is None:
            if "ratio" in name:
                missing[name] = "no liquidation mass below spot within the band"
            elif "_vol" in name and not np.isfinite(scale):
                missing[name] = "fewer than 3 returns to estimate volatility"
            else:
                missing[name] = f"no {name.split('_')[1]} cluster in the map"
    return features, missing, clusters


def _context_features(ctx: FrameContext) -> list[tuple[dict[str, float | None], dict[str, str]]]:
    """Map features at every decision time of a registry ``FrameContext`` (memoised on it)."""
    cached = ctx.memo.get("liqmap")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    params = LiqMapParams.default()
    prices = [s for s in ctx.candidates("price") if len(s) and "high" in s.columns]
    flows = [s for s in ctx.candidates("open_interest_flow") if s.venue == P.OI_VENUE]
    out: list[tuple[dict[str, float | None], dict[str, str]]] = []
    if not prices:
        reason = _all_missing(DataError("price: no candles with high/low known at t"))
        out = [(dict.fromkeys(FEATURE_NAMES), reason) for _ in ctx.times]
    else:
        bars = prices[0]
        candles = pd.DataFrame(
            {"available_at": pd.to_datetime(bars.avail, utc=True)}
            | {c: bars.column(c) for c in ("high", "low", "close", "volume_base")}
        )
        oi = None
        if flows and len(flows[0]):
            oi = pd.DataFrame(
                {
                    "available_at": pd.to_datetime(flows[0].avail, utc=True),
                    "oi_usd": flows[0].column("oi_usd"),
                }
            )
        inputs = build_inputs(candles, oi)
        for t_ns in ctx.times:
            f, m, _ = features_from_inputs(inputs, pd.Timestamp(int(t_ns), tz="UTC"), params=params)
            out.append((f, m))
    ctx.memo["liqmap"] = out
    return out


def register_features() -> None:
    """Register every name of ``FEATURE_NAMES`` in ``features.registry`` (inputs: ``price`` and
    ``open_interest_flow``; the map reads the ``OI_VENUE`` candidate, the long share is 0.5)."""
    from features.registry import FeatureColumn, FeatureSpec, register

    def builder_for(name: str) -> Callable[[FrameContext], FeatureColumn]:
        def build(ctx: FrameContext) -> FeatureColumn:
            rows = _context_features(ctx)
            values = [np.nan if f[name] is None else f[name] for f, _ in rows]
            reasons = [m.get(name) for _, m in rows]
            return FeatureColumn.build(values, reasons, fallback="liquidation map unavailable")

        build.__qualname__ = f"liqmap_builder_{name}"
        return build

    for name in FEATURE_NAMES:
        unit = (
            "usd"
            if name.endswith("_usd")
            else "ratio"
            if "ratio" in name
            else ("percent" if name.endswith("_pct") else "vol units")
        )
        register(
            FeatureSpec(
                name=name,
                unit=unit,
                description=f"liquidation map (features.liqmap, features.clusters): {name}",
                inputs=("price", "open_interest_flow"),
                builder=builder_for(name),
            )
        )


def _register_if_available() -> None:
    import importlib.util

    if importlib.util.find_spec("features.registry") is not None:
        register_features()


_register_if_available()
