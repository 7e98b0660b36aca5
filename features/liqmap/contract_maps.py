"""Point-in-time liquidation maps of many (asset, t) snapshots, for contract-relative features.

The contract-relative leverage features (``models.learned.leverage``) need, at each decision time,
the whole binned map (mass per log-price bin, long and short), its density clusters and the open
interest the map is anchored on. ``snapshot_maps(source, asset, times)`` computes them with the
same inputs, venue choice and kernel as the catalogued map features (``features.liqmap.clusters``:
the ``price`` input's venue chosen at each ``t``, the ``OI_VENUE`` series of
``open_interest_flow``, the dominance long share known at each bar close), and returns them as one
ragged table, ``SnapshotMaps``, that array code can index without a loop over snapshots.

Layout of ``SnapshotMaps``
    Snapshot ``i`` holds bins ``first_bin[i] .. first_bin[i] + width_i - 1`` of the fixed
    logarithmic grid (bin ``b`` spans ``[g**b, g**(b+1))``, ``g = 1 + bin_bps / 1e4``), stored in
    ``long_mass_usd[offsets[i]:offsets[i + 1]]`` (same for short); ``width_i`` runs to the last
    bin with mass (or the spot bin). Clusters (``features.liqmap.snapshots.density_clusters``,
    the ``top_n`` largest per side, as the ``features`` command reports them) are rows
    ``cluster_row`` (snapshot index), ``cluster_side`` (0 long, 1 short), ``cluster_log_usd``
    (``ln`` of the mass-weighted centre) and ``cluster_mass_usd``. ``anchor_oi_usd`` is the last
    ``oi_usd`` of the map's OI series known at ``t`` (NaN when none): the scale the map's mass is
    built from, so ``mass / anchor_oi_usd`` is comparable across time and assets.

Point in time: every array of snapshot ``i`` uses only rows with ``available_at <= t_i`` (the
context reads the source as of the last time, and the kernel cuts each window at its ``t``), so a
snapshot equals the one computed from a store cut at ``t_i`` or from ``store.at(t_i)``
(``tests/features/liqmap/test_contract_maps.py``).

NaN policy: a snapshot without a map (``price`` or ``open_interest_flow`` missing or stale at
``t``, or no bar in the lookback window) has ``has_map`` False, zero width, no clusters and its
reason in ``reasons``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import BoolArray, FloatArray, IntArray
from levercast.features.dataset.store import PointInTime
from levercast.features.errors import ConfigError
from levercast.features.frame.inputs import FrameContext, SourceSeries, context_for
from levercast.features.frame.specs import first_reason, format_ns
from levercast.features.liqmap import params as P
from levercast.features.liqmap.clusters import MAP_INPUTS, SHARE_INPUTS, long_share_known_at
from levercast.features.liqmap.map import LiqMapParams, bin_index, build_inputs
from levercast.features.liqmap.snapshots import (
    DENSITY_FACTOR,
    EPS_BINS,
    TOP_N,
    BinnedMaps,
    binned_maps,
    density_clusters,
)

__all__ = ["SnapshotMaps", "snapshot_maps"]

ObjectArray = npt.NDArray[np.object_]
_CHUNK: Final = 1024


@dataclass(frozen=True, slots=True, eq=False)
class SnapshotMaps:
    """Binned liquidation maps and clusters of many snapshots (module docstring: layout)."""

    asset: ObjectArray
    t_ns: IntArray
    has_map: BoolArray
    reasons: ObjectArray
    bin_bps: float
    spot_usd: FloatArray
    anchor_oi_usd: FloatArray
    first_bin: IntArray
    offsets: IntArray
    long_mass_usd: FloatArray
    short_mass_usd: FloatArray
    cluster_row: IntArray
    cluster_side: IntArray
    cluster_log_usd: FloatArray
    cluster_mass_usd: FloatArray

    def __post_init__(self) -> None:
        n = len(self.t_ns)
        for name in ("asset", "has_map", "reasons", "spot_usd", "anchor_oi_usd", "first_bin"):
            if len(getattr(self, name)) != n:
                raise ConfigError(
                    f"{name} must have one value per snapshot ({n}); found "
                    f"{len(getattr(self, name))}"
                )
        if len(self.offsets) != n + 1 or (n and self.offsets[-1] != len(self.long_mass_usd)):
            raise ConfigError(
                f"offsets must have {n + 1} entries ending at the mass length "
                f"{len(self.long_mass_usd)}; found {len(self.offsets)} ending at "
                f"{self.offsets[-1] if len(self.offsets) else None}"
            )
        if len(self.short_mass_usd) != len(self.long_mass_usd):
            raise ConfigError(
                f"long_mass_usd and short_mass_usd must have the same length; found "
                f"{len(self.long_mass_usd)} and {len(self.short_mass_usd)}"
            )

    def __len__(self) -> int:
        return len(self.t_ns)

    @property
    def widths(self) -> IntArray:
        """Bins stored per snapshot."""
        return np.asarray(np.diff(self.offsets), dtype=np.int64)

    def locate(self, asset: npt.ArrayLike, t_ns: npt.ArrayLike) -> IntArray:
        """Index of the snapshot of each (asset, t) (``-1`` where there is none)."""
        keys = pd.MultiIndex.from_arrays([self.asset.astype(str), self.t_ns])
        if not keys.is_unique:
            raise ConfigError("snapshots must be unique per (asset, t); found duplicates")
        want = pd.MultiIndex.from_arrays(
            [np.asarray(asset).astype(str), np.asarray(t_ns, dtype=np.int64)]
        )
        return np.asarray(keys.get_indexer(want), dtype=np.int64)

    @classmethod
    def empty(cls, bin_bps: float = P.BIN_BPS) -> SnapshotMaps:
        """No snapshot."""
        f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
        obj = np.zeros(0, dtype=object)
        zero = np.zeros(1, dtype=np.int64)
        return cls(obj, i, np.zeros(0, bool), obj, bin_bps, f, f, i, zero, f, f, i, i, f, f)

    @classmethod
    def concat(cls, parts: list[SnapshotMaps]) -> SnapshotMaps:
        """One table of the snapshots of ``parts``, in order (same ``bin_bps``)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        if len({p.bin_bps for p in parts}) != 1:
            raise ConfigError(
                f"parts must share bin_bps; found {sorted({p.bin_bps for p in parts})}"
            )
        shift = np.cumsum([0, *[len(p) for p in parts[:-1]]])
        base = np.cumsum([0, *[p.offsets[-1] for p in parts[:-1]]])
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.name
            if name == "bin_bps":
                values[name] = parts[0].bin_bps
            elif name == "offsets":
                values[name] = np.concatenate(
                    [[0], *[p.offsets[1:] + b for p, b in zip(parts, base, strict=True)]]
                ).astype(np.int64)
            elif name == "cluster_row":
                values[name] = np.concatenate(
                    [p.cluster_row + s for p, s in zip(parts, shift, strict=True)]
                ).astype(np.int64)
            else:
                values[name] = np.concatenate([getattr(p, name) for p in parts])
        return cls(**values)


def _candles(s: SourceSeries) -> pd.DataFrame:
    return pd.DataFrame(
        {"available_at": pd.to_datetime(s.avail, utc=True)}
        | {c: s.column(c) for c in ("high", "low", "close", "volume_base")}
    )


def _anchor(ctx: FrameContext) -> SourceSeries | None:
    """The OI series the map is built on (``features.liqmap.clusters``: ``OI_VENUE``)."""
    for s in ctx.candidates("open_interest_flow"):
        if s.venue == P.OI_VENUE and len(s):
            return s
    return None


def _top_clusters(
    mass: FloatArray, side: int, top_n: int
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """(row, side, centre column, mass) of each row's ``top_n`` largest clusters."""
    cl = density_clusters(mass, eps_bins=EPS_BINS, density_factor=DENSITY_FACTOR)
    order = np.lexsort((np.arange(len(cl.row)), -cl.mass_usd, cl.row))
    rows = cl.row[order]
    rank = np.arange(len(order)) - np.searchsorted(rows, rows, side="left")
    pick = order[rank < top_n]
    return (
        cl.row[pick],
        np.full(len(pick), side, dtype=np.int64),
        cl.center_col[pick],
        cl.mass_usd[pick],
    )


def _batches(
    ctx: FrameContext,
    s: SourceSeries,
    rows: IntArray,
    params: LiqMapParams,
    share: pd.Series,
    anchor: SourceSeries | None,
) -> Iterator[tuple[IntArray, BinnedMaps]]:
    """Binned maps of the snapshots ``rows`` (price series ``s``), in chunks."""
    oi = None
    if anchor is not None:
        oi = pd.DataFrame(
            {
                "available_at": pd.to_datetime(anchor.avail, utc=True),
                "oi_usd": anchor.column("oi_usd"),
            }
        )
    inputs = build_inputs(_candles(s), oi, long_share=share)
    for start in range(0, len(rows), _CHUNK):
        part = rows[start : start + _CHUNK]
        yield part, binned_maps(inputs, params, ctx.times[part])


def _anchor_oi(anchor: SourceSeries | None, times: IntArray) -> FloatArray:
    out = np.full(len(times), np.nan)
    if anchor is None:
        return out
    idx = anchor.last_index(times)
    ok = idx >= 0
    out[ok] = anchor.column("oi_usd")[idx[ok]]
    return out


def snapshot_maps(
    source: PointInTime,
    asset: str,
    times: pd.DatetimeIndex,
    *,
    params: LiqMapParams | None = None,
    top_n: int = TOP_N,
) -> SnapshotMaps:
    """The binned maps, clusters and anchor OI of ``asset`` at each decision time.

    Parameters
    ----------
    source
        A ``Store`` or ``StoreView`` (every time at or before a view's ``t``).
    asset
        Asset symbol.
    times
        Tz-aware, unique decision times (any order; the snapshots keep it).
    params
        Map parameters (default: the committed ``LiqMapParams.default()``).
    top_n
        Clusters kept per side (the ``features`` command's ``TOP_N``).

    Raises
    ------
    ConfigError
        Naive or repeated times, ``top_n < 1``, or a time after a view's ``t``.
    """
    if top_n < 1:
        raise ConfigError(f"top_n must be >= 1; found {top_n}")
    index = pd.DatetimeIndex(times)
    if len(index) and index.tz is None:
        raise ConfigError(f"times must be tz-aware UTC; found naive times (first {index[0]})")
    if not index.is_unique:
        raise ConfigError(f"times must be unique; found {int(index.duplicated().sum())} repeated")
    params = params or LiqMapParams.default()
    n = len(index)
    if n == 0:
        return SnapshotMaps.empty(params.bin_bps)
    t_ns = np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)
    ctx = context_for(source, asset, inputs=[*MAP_INPUTS, *SHARE_INPUTS], times=t_ns)
    price = ctx.selection("price")
    flow = ctx.selection("open_interest_flow")
    ok = price.ok & flow.ok
    reasons = first_reason(price.reasons, flow.reasons).astype(object)
    anchor = _anchor(ctx)
    widths = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    spot = np.full(n, np.nan)
    has = np.zeros(n, dtype=bool)
    dense: dict[int, tuple[FloatArray, FloatArray]] = {}
    cluster_parts: list[tuple[Any, ...]] = []
    if ok.any():
        share = long_share_known_at(ctx.tables, ctx.asset)
        for k, s in enumerate(ctx.candidates("price")):
            rows = np.flatnonzero(ok & (price.choice == k))
            if not len(rows):
                continue
            for part, maps in _batches(ctx, s, rows, params, share, anchor):
                live = maps.has_map & np.isfinite(maps.spot_usd)
                long_m, short_m = maps.long_mass_usd, maps.short_mass_usd
                cols = np.arange(long_m.shape[1])
                last = np.where((long_m > 0) | (short_m > 0), cols, -1).max(axis=1)
                spot_col = bin_index(np.where(live, maps.spot_usd, 1.0), params.bin_bps)
                spot_col = spot_col - maps.first_bin
                width = np.where(live, np.maximum(last, spot_col) + 1, 0)
                for j, row in enumerate(part):
                    dense[int(row)] = (long_m[j, : width[j]], short_m[j, : width[j]])
                widths[part] = width
                first[part] = maps.first_bin
                spot[part] = np.where(live, maps.spot_usd, np.nan)
                has[part] = live
                for side_code, mass in enumerate((long_m, short_m)):
                    c_row, c_side, c_col, c_mass = _top_clusters(mass, side_code, top_n)
                    keep = live[c_row]
                    log_usd = (maps.first_bin[c_row] + c_col) * np.log1p(params.bin_bps / 1e4)
                    cluster_parts.append(
                        (part[c_row][keep], c_side[keep], log_usd[keep], c_mass[keep])
                    )
                for row in part[~live]:
                    reasons[row] = (
                        f"liquidation map unavailable: no bar closes within "
                        f"{params.lookback_hours:g} h before {format_ns(int(ctx.times[row]))}"
                    )
    empty = np.zeros(0)
    long_flat = np.concatenate([dense[i][0] if i in dense else empty for i in range(n)])
    short_flat = np.concatenate([dense[i][1] if i in dense else empty for i in range(n)])
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    if cluster_parts:
        c_row = np.concatenate([c[0] for c in cluster_parts]).astype(np.int64)
        c_side = np.concatenate([c[1] for c in cluster_parts]).astype(np.int64)
        c_log = np.concatenate([c[2] for c in cluster_parts]).astype(np.float64)
        c_mass = np.concatenate([c[3] for c in cluster_parts]).astype(np.float64)
        order = np.lexsort((c_side, c_row))
        c_row, c_side, c_log, c_mass = c_row[order], c_side[order], c_log[order], c_mass[order]
    else:
        c_row = c_side = np.zeros(0, dtype=np.int64)
        c_log = c_mass = np.zeros(0)
    reasons[has] = None
    return SnapshotMaps(
        asset=np.full(n, asset, dtype=object),
        t_ns=t_ns,
        has_map=has,
        reasons=reasons,
        bin_bps=params.bin_bps,
        spot_usd=spot,
        anchor_oi_usd=_anchor_oi(anchor, t_ns),
        first_bin=first,
        offsets=offsets,
        long_mass_usd=long_flat.astype(np.float64),
        short_mass_usd=short_flat.astype(np.float64),
        cluster_row=c_row,
        cluster_side=c_side,
        cluster_log_usd=c_log,
        cluster_mass_usd=c_mass,
    )
