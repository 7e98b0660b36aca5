"""Liquidation-map features of many snapshots at once: binned maps, density clusters, distances.

One code path serves the feature frame, ``features_at``, ``liqmap_features`` and ``find_clusters``:
``map_features(inputs, params, t_ns)`` evaluates every decision time of ``t_ns`` on arrays of
shape (snapshot x bin), in chunks of snapshots.

Binning
    A snapshot's levels (``features.liqmap.map.map_entries``) are summed into bins of the fixed
    logarithmic grid (``features.liqmap.map.bin_index``) by ``np.bincount`` in (bar, tier) order;
    row
    ``i`` holds bins ``first_bin[i] ..`` with ``first_bin[i]`` the lowest of the snapshot's live
    bins and its spot bin (as ``map_snapshot``), padded with zeros on the right.

Clusters: a vectorised one-dimensional DBSCAN
    For one side of one snapshot, with ``m_j`` the mass of bin ``j``, ``M`` the side's total mass
    and ``S`` its occupied span (first to last bin with mass), bin ``j`` is *core* when
    ``m_j > 0`` and ``sum_{|i - j| <= e} m_i >= f * M * (2e + 1) / S`` (``e = EPS_BINS``,
    ``f = DENSITY_FACTOR``: a neighbourhood ``f`` times denser than the side's average; a map
    spreads some mass over nearly every bin, so an absolute threshold would merge everything).
    Core bins at most ``e`` bins apart chain into one cluster; a non-core bin with mass joins the
    cluster of a core bin within ``e`` bins (the left one when both neighbours qualify); other
    bins are noise. This is scikit-learn ``DBSCAN(eps=e + 0.5, min_samples=1)`` on the occupied
    bin indices with ``sample_weight = m / threshold``: scikit-learn labels clusters left to right
    and a border point keeps the first label it receives (the tests compare the two). Here it is
    computed with cumulative sums and running maxima along the bin axis.

Features (per side, from the ``TOP_N`` clusters of largest mass)
    ``liq_{side}_{nearest|largest}_dist_pct``: ``(centre / spot - 1) * 100`` of the cluster
    nearest to spot among them and of the largest; ``..._dist_vol``:
    ``ln(centre / spot) / (sigma_1h * sqrt(horizon_hours))`` with ``sigma_1h`` the hourly
    log-return volatility of the bars closing in the last ``VOL_WINDOW_HOURS``;
    ``liq_{side}_largest_mass_usd``; ``liq_{side}_mass_usd`` (whole map);
    ``liq_mass_{above|below}_{k}pct_usd`` (both sides, bins whose centre lies within ``k`` % of
    spot) and ``liq_mass_ratio_{k}pct`` = above / below. A cluster's centre is the mass-weighted
    geometric mean of its bin centres ``exp((b + 0.5) * ln(1 + bin_bps / 1e4))``; low/high are its
    outer bin edges.

Exactness: every sum over bins is a cumulative (sequential) sum and padding adds zeros only, so a
snapshot's values do not depend on the other snapshots of the batch: the frame row of ``t`` equals
``features_at(t)`` bit for bit.

NaN policy: a value that cannot be computed is NaN with a reason (no bar in the window, no cluster
on a side, fewer than 3 returns for the volatility, no mass below spot for the ratio).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from levercast.features._typing import BoolArray, FloatArray, IntArray
from levercast.features.errors import ConfigError
from levercast.features.frame.specs import format_ns
from levercast.features.liqmap.map import (
    LiqMapParams,
    MapInputs,
    bin_index,
    map_entries,
    window_bounds,
)

__all__ = [
    "DENSITY_FACTOR",
    "EPS_BINS",
    "FEATURE_NAMES",
    "MASS_BANDS_PCT",
    "TOP_N",
    "VOL_WINDOW_HOURS",
    "BinnedMaps",
    "ClusterRows",
    "Clusters",
    "MapFeatures",
    "binned_maps",
    "density_clusters",
    "hourly_vols",
    "map_features",
]

ObjectArray = npt.NDArray[np.object_]

MASS_BANDS_PCT: Final = (2.0, 5.0)
VOL_WINDOW_HOURS: Final = 168.0
TOP_N: Final = 3
EPS_BINS: Final = 3
DENSITY_FACTOR: Final = 1.5
SIDES: Final = ("long", "short")
_CHUNK: Final = 1024
_FAR: Final = np.iinfo(np.int64).max // 4
_NS_PER_HOUR: Final = 3_600_000_000_000

FEATURE_NAMES: Final[tuple[str, ...]] = (
    *(
        f"liq_{side}_{which}_{unit}"
        for side in SIDES
        for which in ("nearest", "largest")
        for unit in ("dist_pct", "dist_vol")
    ),
    *(f"liq_{side}_largest_mass_usd" for side in SIDES),
    *(f"liq_{side}_mass_usd" for side in SIDES),
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


@dataclass(frozen=True, slots=True)
class BinnedMaps:
    """Maps of a batch of snapshots: mass (USD) per bin, row ``i`` from bin ``first_bin[i]`` on."""

    has_map: BoolArray
    spot_usd: FloatArray
    first_bin: IntArray
    long_mass_usd: FloatArray
    short_mass_usd: FloatArray
    bin_bps: float


def binned_maps(inputs: MapInputs, params: LiqMapParams, t_ns: IntArray) -> BinnedMaps:
    """Binned maps at ``t_ns`` (one batch; ``has_map`` is False where no bar is in the window)."""
    n = len(t_ns)
    first, last = window_bounds(inputs, params, t_ns)
    has = (last >= first) & (len(inputs) > 0)
    if not has.any():
        empty = np.zeros((n, 1))
        return BinnedMaps(
            has, np.full(n, np.nan), np.zeros(n, np.int64), empty, empty.copy(), params.bin_bps
        )
    spot = np.where(has, inputs.close[np.clip(last, 0, None)], np.nan)
    spot_bin = bin_index(np.where(has, spot, 1.0), params.bin_bps)
    e = map_entries(inputs, params, t_ns)
    sides = []
    lo, hi = spot_bin.copy(), spot_bin.copy()
    for price, mass in ((e.long_price, e.long_mass), (e.short_price, e.short_mass)):
        bins = bin_index(price, params.bin_bps).reshape(n, -1)
        flat_mass = mass.reshape(n, -1)
        live = flat_mass > 0
        lo = np.minimum(lo, np.where(live, bins, _FAR).min(axis=1))
        hi = np.maximum(hi, np.where(live, bins, -_FAR).max(axis=1))
        sides.append((bins, flat_mass, live))
    width = int(np.max(np.where(has, hi - lo, 0))) + 1
    dense: list[FloatArray] = []
    for bins, flat_mass, live in sides:
        cell = np.arange(n)[:, None] * width + (bins - lo[:, None])
        counts = np.bincount(cell[live], weights=flat_mass[live], minlength=n * width)
        dense.append(np.asarray(counts, dtype=np.float64).reshape(n, width))
    return BinnedMaps(has, spot, np.where(has, lo, 0), dense[0], dense[1], params.bin_bps)


@dataclass(frozen=True, slots=True)
class Clusters:
    """Density clusters of a batch of one-sided maps, ordered by row, then left to right.

    ``center_col`` is the mass-weighted mean of ``col + 0.5`` over the cluster's bins (a
    fractional column: add the row's ``first_bin`` and scale by the bin step for the log-price);
    ``low_col``/``high_col`` are its first and last bins (inclusive).
    """

    row: IntArray
    mass_usd: FloatArray
    center_col: FloatArray
    low_col: IntArray
    high_col: IntArray


def density_clusters(
    mass_usd: FloatArray, *, eps_bins: int = EPS_BINS, density_factor: float = DENSITY_FACTOR
) -> Clusters:
    """Clusters of each row of ``mass_usd`` (snapshots x bins, >= 0); see the module docstring.

    Raises
    ------
    ConfigError
        If ``eps_bins < 1`` or ``density_factor <= 0``.
    """
    if eps_bins < 1 or density_factor <= 0:
        raise ConfigError(
            f"eps_bins must be >= 1 and density_factor > 0; found eps_bins={eps_bins}, "
            f"density_factor={density_factor}"
        )
    mass = np.asarray(mass_usd, dtype=np.float64)
    n, w = mass.shape
    cols = np.arange(w)
    occupied = mass > 0
    cum = np.zeros((n, w + 1))
    np.cumsum(mass, axis=1, out=cum[:, 1:])
    first = np.argmax(occupied, axis=1)
    last = w - 1 - np.argmax(occupied[:, ::-1], axis=1)
    span = np.where(occupied.any(axis=1), last - first + 1, 1)
    threshold = density_factor * cum[:, -1] * (2 * eps_bins + 1) / span
    near = cum[:, np.minimum(cols + eps_bins + 1, w)] - cum[:, np.maximum(cols - eps_bins, 0)]
    core = occupied & (near >= threshold[:, None])
    prev_core = np.maximum.accumulate(np.where(core, cols, -_FAR), axis=1)
    before = np.concatenate([np.full((n, 1), -_FAR), prev_core[:, :-1]], axis=1)
    label = np.cumsum(core & (cols - before > eps_bins), axis=1)
    next_core = np.minimum.accumulate(np.where(core, cols, _FAR)[:, ::-1], axis=1)[:, ::-1]
    left = occupied & (cols - prev_core <= eps_bins)
    right = occupied & ~left & (next_core - cols <= eps_bins)
    rows, at = np.nonzero(left | right)  # row-major: clusters come out in order
    key = rows * (w + 2) + (label + right)[rows, at]
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(key))[: len(starts)] - 1
    m = mass[rows, at]
    total = np.asarray(np.bincount(group, weights=m, minlength=len(starts)), dtype=np.float64)
    centre = np.bincount(group, weights=m * (at + 0.5), minlength=len(starts)) / total
    return Clusters(rows[starts], total, centre, at[starts], at[ends])


def hourly_vols(
    inputs: MapInputs, t_ns: IntArray, *, window_hours: float = VOL_WINDOW_HOURS
) -> FloatArray:
    """Root mean of ``r**2 / dt_hours`` over log close-to-close returns of bars closing in
    ``(t - window_hours, t]`` (and the return into the first of them); NaN with fewer than 3."""
    t = np.asarray(t_ns, dtype=np.int64)
    out = np.full(len(t), np.nan)
    if len(inputs) < 2:
        return out
    lo = np.searchsorted(inputs.close_ns, t - int(window_hours * _NS_PER_HOUR), side="right")
    hi = np.searchsorted(inputs.close_ns, t, side="right")
    start = np.maximum(lo - 1, 0)
    count = hi - 1 - start
    ret = np.diff(np.log(inputs.close))
    per_hour = ret * ret / (np.diff(inputs.close_ns) / _NS_PER_HOUR)
    cum = np.concatenate([[0.0], np.cumsum(per_hour)])
    ok = count >= 3
    total = cum[np.where(ok, hi - 1, 0)] - cum[np.where(ok, start, 0)]
    out[ok] = np.sqrt(total[ok] / count[ok])
    return out


@dataclass(frozen=True, slots=True)
class ClusterRows:
    """The top clusters of each snapshot and side (INTERFACE.md §4 ``clusters`` fields)."""

    row: IntArray
    side: IntArray
    center_usd: FloatArray
    low_usd: FloatArray
    high_usd: FloatArray
    mass_usd: FloatArray
    distance_pct: FloatArray

    def at(self, row: int) -> list[dict[str, Any]]:
        """Clusters of one snapshot: long then short, largest mass first."""
        picks = np.flatnonzero(self.row == row)
        return [
            {
                "side": SIDES[int(self.side[i])],
                "center_usd": float(self.center_usd[i]),
                "low_usd": float(self.low_usd[i]),
                "high_usd": float(self.high_usd[i]),
                "mass_usd": float(self.mass_usd[i]),
                "distance_pct": float(self.distance_pct[i]),
            }
            for i in picks
        ]

    @classmethod
    def concat(cls, parts: list[ClusterRows]) -> ClusterRows:
        """One table from several, in the given order (callers renumber ``row`` first)."""
        if not parts:
            z = np.zeros(0)
            zi = np.zeros(0, dtype=np.int64)
            return cls(zi, zi, z, z, z, z, z)
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS))

    def renumbered(self, rows: IntArray) -> ClusterRows:
        """A copy with ``row`` mapped through ``rows`` (batch row -> caller's row)."""
        values = [getattr(self, name) for name in _FIELDS]
        values[0] = np.asarray(rows, dtype=np.int64)[self.row]
        return ClusterRows(*values)


_FIELDS: Final = tuple(f.name for f in fields(ClusterRows))


@dataclass(frozen=True, slots=True)
class MapFeatures:
    """Feature values (NaN where not computable) with a reason wherever NaN, and the clusters."""

    values: dict[str, FloatArray]
    reasons: dict[str, ObjectArray]
    clusters: ClusterRows

    @classmethod
    def unavailable(cls, reasons: ObjectArray) -> MapFeatures:
        """Every feature NaN, each with the row's reason, and no clusters."""
        n = len(reasons)
        values = {name: np.full(n, np.nan) for name in FEATURE_NAMES}
        why = {name: np.asarray(reasons, dtype=object).copy() for name in FEATURE_NAMES}
        return cls(values, why, ClusterRows.concat([]))

    def scatter(self, rows: IntArray, part: MapFeatures) -> MapFeatures:
        """A copy with ``part`` (one snapshot per element of ``rows``) written at ``rows``."""
        values = {k: v.copy() for k, v in self.values.items()}
        reasons = {k: v.copy() for k, v in self.reasons.items()}
        for name in FEATURE_NAMES:
            values[name][rows] = part.values[name]
            reasons[name][rows] = part.reasons[name]
        clusters = ClusterRows.concat([self.clusters, part.clusters.renumbered(rows)])
        return MapFeatures(values, reasons, clusters)


def _top(cl: Clusters, top_n: int) -> tuple[IntArray, IntArray]:
    """Indices of each row's ``top_n`` largest clusters (row, then mass descending) and ranks."""
    order = np.lexsort((np.arange(len(cl.row)), -cl.mass_usd, cl.row))
    sorted_rows = cl.row[order]
    rank = np.arange(len(order)) - np.searchsorted(sorted_rows, sorted_rows, side="left")
    keep = rank < top_n
    return order[keep], rank[keep]


def _row_sum(values: FloatArray) -> FloatArray:
    """Sequential sum of each row (independent of zero padding on the right)."""
    if values.shape[1] == 0:
        return np.zeros(values.shape[0])
    return np.asarray(np.cumsum(values, axis=1)[:, -1], dtype=np.float64)


def _side_features(
    maps: BinnedMaps,
    side: int,
    scale: FloatArray,
    *,
    top_n: int,
    eps_bins: int,
    density_factor: float,
) -> tuple[dict[str, FloatArray], ClusterRows]:
    name = SIDES[side]
    mass = maps.long_mass_usd if side == 0 else maps.short_mass_usd
    n = len(maps.spot_usd)
    cl = density_clusters(mass, eps_bins=eps_bins, density_factor=density_factor)
    pick, rank = _top(cl, top_n)
    step = np.log1p(maps.bin_bps / 1e4)
    base = maps.first_bin[cl.row[pick]]
    spot = maps.spot_usd[cl.row[pick]]
    centre = np.exp((base + cl.center_col[pick]) * step)
    dist = (centre / spot - 1.0) * 100.0
    table = ClusterRows(
        cl.row[pick],
        np.full(len(pick), side, dtype=np.int64),
        centre,
        np.exp((base + cl.low_col[pick]) * step),
        np.exp((base + cl.high_col[pick] + 1) * step),
        cl.mass_usd[pick],
        dist,
    )
    nearest = np.lexsort((rank, np.abs(dist), table.row))
    first_of_row = np.ones(len(nearest), dtype=bool)
    first_of_row[1:] = table.row[nearest][1:] != table.row[nearest][:-1]
    nearest = nearest[first_of_row]
    largest = np.flatnonzero(rank == 0)
    out: dict[str, FloatArray] = {}
    for which, idx in (("nearest", nearest), ("largest", largest)):
        rows = table.row[idx]
        pct = np.full(n, np.nan)
        pct[rows] = dist[idx]
        vol = np.full(n, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            vol[rows] = np.log(centre[idx] / spot[idx]) / scale[rows]
        out[f"liq_{name}_{which}_dist_pct"] = pct
        out[f"liq_{name}_{which}_dist_vol"] = vol
        if which == "largest":
            big = np.full(n, np.nan)
            big[rows] = cl.mass_usd[pick][idx]
            out[f"liq_{name}_largest_mass_usd"] = big
    out[f"liq_{name}_mass_usd"] = _row_sum(mass)
    return out, table


def _band_features(maps: BinnedMaps) -> dict[str, FloatArray]:
    step = np.log1p(maps.bin_bps / 1e4)
    width = maps.long_mass_usd.shape[1]
    centres = np.exp((maps.first_bin[:, None] + np.arange(width) + 0.5) * step)
    total = maps.long_mass_usd + maps.short_mass_usd
    spot = maps.spot_usd[:, None]
    out: dict[str, FloatArray] = {}
    for k in MASS_BANDS_PCT:
        above = (centres > spot) & (centres <= spot * (1 + k / 100))
        below = (centres < spot) & (centres >= spot * (1 - k / 100))
        up = _row_sum(np.where(above, total, 0.0))
        down = _row_sum(np.where(below, total, 0.0))
        out[f"liq_mass_above_{k:g}pct_usd"] = up
        out[f"liq_mass_below_{k:g}pct_usd"] = down
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"liq_mass_ratio_{k:g}pct"] = np.where(down > 0, up / down, np.nan)
    return out


def _reasons(values: dict[str, FloatArray], scale: FloatArray) -> dict[str, ObjectArray]:
    out: dict[str, ObjectArray] = {}
    no_vol = ~np.isfinite(scale)
    for name, vals in values.items():
        why = np.full(len(vals), None, dtype=object)
        bad = np.isnan(vals)
        if "ratio" in name:
            why[bad] = "no liquidation mass below spot within the band"
        else:
            why[bad] = f"no {name.split('_')[1]} cluster in the map"
            if "_vol" in name:
                why[bad & no_vol] = "fewer than 3 returns to estimate volatility"
        out[name] = why
    return out


def _chunk_features(
    inputs: MapInputs,
    params: LiqMapParams,
    t_ns: IntArray,
    *,
    horizon_hours: float,
    top_n: int,
    eps_bins: int,
    density_factor: float,
) -> MapFeatures:
    maps = binned_maps(inputs, params, t_ns)
    sigma = hourly_vols(inputs, t_ns)
    scale = np.where(np.isfinite(sigma), sigma * np.sqrt(horizon_hours), np.nan)
    values: dict[str, FloatArray] = {}
    tables = []
    for side in (0, 1):
        part, table = _side_features(
            maps, side, scale, top_n=top_n, eps_bins=eps_bins, density_factor=density_factor
        )
        values.update(part)
        tables.append(table)
    values.update(_band_features(maps))
    values = {name: values[name] for name in FEATURE_NAMES}
    reasons = _reasons(values, scale)
    if not maps.has_map.all():
        for i in np.flatnonzero(~maps.has_map):
            why = (
                f"liquidation map unavailable: no bar closes within {params.lookback_hours:g} h "
                f"before {format_ns(int(t_ns[i]))}"
            )
            for name in FEATURE_NAMES:
                values[name][i] = np.nan
                reasons[name][i] = why
    return MapFeatures(values, reasons, _by_row_then_side(ClusterRows.concat(tables)))


def _by_row_then_side(table: ClusterRows) -> ClusterRows:
    """Clusters ordered by row, then long before short (stable: mass order kept)."""
    order = np.lexsort((table.side, table.row))
    return ClusterRows(*(getattr(table, name)[order] for name in _FIELDS))


def map_features(
    inputs: MapInputs,
    params: LiqMapParams,
    t_ns: IntArray,
    *,
    horizon_hours: float = 24.0,
    top_n: int = TOP_N,
    eps_bins: int = EPS_BINS,
    density_factor: float = DENSITY_FACTOR,
) -> MapFeatures:
    """Every ``FEATURE_NAMES`` value and the top clusters of the maps at ``t_ns``.

    Parameters
    ----------
    inputs, params
        Map inputs (``features.liqmap.map.build_inputs``) and parameters.
    t_ns
        Decision times, integer UTC nanoseconds, any order; bars closing after each are ignored.
    horizon_hours
        Horizon of the volatility unit ``sigma_1h * sqrt(horizon_hours)``.
    top_n, eps_bins, density_factor
        Clusters kept per side and the clustering parameters (module docstring).

    Returns
    -------
    MapFeatures
        Arrays of ``len(t_ns)`` per feature (NaN with a reason where not computable) and the
        clusters, ``row`` indexing ``t_ns``.

    Raises
    ------
    ConfigError
        If ``horizon_hours <= 0``, ``top_n < 1`` or a clustering parameter is out of range.
    """
    if horizon_hours <= 0 or top_n < 1:
        raise ConfigError(
            f"horizon_hours must be > 0 and top_n >= 1; found horizon_hours={horizon_hours}, "
            f"top_n={top_n}"
        )
    t = np.asarray(t_ns, dtype=np.int64)
    parts = []
    for start in range(0, max(len(t), 1), _CHUNK):
        rows = np.arange(start, min(start + _CHUNK, len(t)))
        chunk = _chunk_features(
            inputs,
            params,
            t[rows],
            horizon_hours=horizon_hours,
            top_n=top_n,
            eps_bins=eps_bins,
            density_factor=density_factor,
        )
        parts.append((rows, chunk))
    if len(parts) == 1:
        return parts[0][1]
    values = {n: np.concatenate([p.values[n] for _, p in parts]) for n in FEATURE_NAMES}
    reasons = {n: np.concatenate([p.reasons[n] for _, p in parts]) for n in FEATURE_NAMES}
    clusters = ClusterRows.concat([p.clusters.renumbered(rows) for rows, p in parts])
    return MapFeatures(values, reasons, clusters)
