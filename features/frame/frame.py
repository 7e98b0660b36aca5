"""The point-in-time feature frame: one row per (asset, decision time t).

Every registered feature (``features.frame.registry``) at ``t`` is computed only from rows with
``available_at <= t``: the builders evaluate inputs by ``searchsorted`` on ``available_at`` and
``features_at`` reads the store through ``Store.at(t)`` (nothing after ``t`` is even loaded), and
must agree exactly with the frame row of ``t``; the truncation tests check both.

Frame contract (STYLE G3, features): columns ``asset``, ``ts`` (the decision time ``t``, UTC) and
one float column per registered feature. Reasons for NaN and the sources used live in the
``FeatureFrame`` result of ``compute_feature_frame``.

NaN policy: a feature is NaN with a reason when a required input is missing, stale beyond its
maximum staleness ("<input> (<venue>) stale since <ts>"), or the builder cannot compute it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from levercast.features._typing import IntArray
from levercast.features.dataset.store import Store, StoreView
from levercast.features.errors import ConfigError
from levercast.features.frame.inputs import CLUSTERS_MEMO, FrameContext, first_reason
from levercast.features.frame.registry import (
    INPUTS,
    FeatureColumn,
    FeatureSpec,
    feature_specs,
    has_no_reason,
)

__all__ = [
    "FeatureFrame",
    "FeatureSnapshot",
    "compute_feature_frame",
    "context_for",
    "feature_frame",
    "features_at",
]


@dataclass(frozen=True, slots=True)
class FeatureSnapshot:
    """Features of one asset at one decision time (INTERFACE.md §4 ``features``)."""

    asset: str
    at: datetime
    features: dict[str, float | None]
    missing: dict[str, str]
    sources: dict[str, dict[str, Any]]
    clusters: list[dict[str, Any]] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §4 JSON object (times as datetimes; the CLI formats them)."""
        return {
            "asset": self.asset,
            "at": self.at,
            "features": dict(self.features),
            "missing": dict(self.missing),
            "clusters": list(self.clusters),
            "sources": {k: dict(v) for k, v in self.sources.items()},
        }


@dataclass(frozen=True, slots=True)
class FeatureFrame:
    """Feature values, NaN reasons and sources at a grid of decision times.

    Attributes
    ----------
    frame
        ``asset, ts`` + one float column per feature, rows in the order of the given times.
    reasons
        Same shape as the feature columns: a reason wherever the value is NaN, else None.
    sources
        Per input: ``<input>.venue`` and ``<input>.last_ts`` (the last row known at t).
    """

    frame: pd.DataFrame
    reasons: pd.DataFrame
    sources: pd.DataFrame

    def snapshot(self, row: int) -> FeatureSnapshot:
        """The row as a ``FeatureSnapshot``."""
        values = self.frame.iloc[row]
        names = [c for c in self.frame.columns if c not in ("asset", "ts")]
        features = {n: (None if np.isnan(values[n]) else float(values[n])) for n in names}
        missing = {n: str(self.reasons.iloc[row][n]) for n in names if features[n] is None}
        src_row = self.sources.iloc[row]
        sources: dict[str, dict[str, Any]] = {}
        for col in self.sources.columns:
            name, part = col.rsplit(".", 1)
            value = src_row[col]
            if part == "last_ts":
                value = None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()
            else:
                value = None if pd.isna(value) else str(value)
            sources.setdefault(name, {})[part] = value
        at = pd.Timestamp(values["ts"]).to_pydatetime()
        return FeatureSnapshot(str(values["asset"]), at, features, missing, sources)


def _times_ns(times: Iterable[Any] | pd.DatetimeIndex) -> IntArray:
    index = pd.DatetimeIndex(list(times) if not isinstance(times, pd.DatetimeIndex) else times)
    if len(index) and index.tz is None:
        raise ConfigError(f"times must be tz-aware UTC; found naive times (first {index[0]})")
    if len(index) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def _inputs_of(specs: list[FeatureSpec]) -> list[str]:
    names: dict[str, None] = {}
    for spec in specs:
        for name in (*spec.inputs, *spec.optional_inputs):
            names[name] = None
    return list(names)


def _load(
    source: Store | StoreView, asset: str, times: IntArray, inputs: list[str]
) -> FrameContext:
    tables: dict[str, pd.DataFrame | None] = {}
    for name in inputs:
        table = INPUTS[name].table
        if table in tables:
            continue
        if not source.has(table):
            tables[table] = None
        elif isinstance(source, StoreView):
            tables[table] = source.table(table, asset=asset)
        else:
            horizon = int(times.max()) if len(times) else np.iinfo(np.int64).min + 1
            tables[table] = source.as_of(table, pd.Timestamp(horizon, tz="UTC"), asset=asset)
    return FrameContext.from_frames(tables, asset, times, inputs)


def context_for(
    source: Store | StoreView | Mapping[str, pd.DataFrame],
    asset: str,
    *,
    inputs: list[str],
    times: IntArray | None = None,
) -> FrameContext:
    """A ``FrameContext`` from a store, a view (rows known at its ``t``) or raw tables.

    Without ``times`` the context's decision times are the view's ``t``; for a store the last
    ``available_at`` of the dataset is not used: pass ``times``; for raw tables every row is used.
    """
    if isinstance(source, StoreView):
        at = _times_ns([source.t]) if times is None else times
        return _load(source, asset, at, inputs)
    if isinstance(source, Store):
        if times is None:
            raise ConfigError("times must be given when source is a Store; found None")
        return _load(source, asset, times, inputs)
    if isinstance(source, Mapping):
        at = np.zeros(0, dtype=np.int64) if times is None else times
        return FrameContext.from_frames(dict(source), asset, at, inputs, horizon=None)
    raise ConfigError(
        f"source must be a Store, StoreView or mapping of tables; found {type(source).__name__}"
    )


def _masked(ctx: FrameContext, spec: FeatureSpec) -> FeatureColumn:
    column = spec.builder(ctx)
    if column.values.shape != ctx.times.shape:
        raise ConfigError(
            f"builder of {spec.name!r} must return one value per decision time "
            f"({len(ctx.times)}); found shape {column.values.shape}"
        )
    masks = []
    for name in spec.inputs:
        limit = spec.staleness_override(name)
        sel = (
            ctx.selection(name)
            if limit is None
            else ctx.select(name, ctx.times, stale_ns=int(limit.value))
        )
        masks.append(sel.reasons)
    reasons = first_reason(*masks, column.reasons) if masks else column.reasons
    values = np.where(has_no_reason(reasons), column.values, np.nan)
    return FeatureColumn.build(values, reasons)


def _compute(ctx: FrameContext, specs: list[FeatureSpec]) -> FeatureFrame:
    n = len(ctx.times)
    stamps = pd.to_datetime(ctx.times, utc=True)
    values: dict[str, Any] = {"asset": np.full(n, ctx.asset, dtype=object), "ts": stamps}
    reasons: dict[str, Any] = {}
    for spec in specs:
        column = _masked(ctx, spec)
        values[spec.name] = column.values
        reasons[spec.name] = pd.Series(column.reasons, dtype=object)
    sources: dict[str, Any] = {}
    for name in _inputs_of(specs):
        sel = ctx.selection(name)
        cands = ctx.candidates(name)
        venues = np.array([c.venue for c in cands] + [None], dtype=object)
        sources[f"{name}.venue"] = pd.Series(
            venues[np.where(sel.ref >= 0, sel.ref, len(cands))], dtype=object
        )
        last = ctx.last_ts(sel)
        sources[f"{name}.last_ts"] = pd.to_datetime(
            np.where(last >= 0, last, np.iinfo(np.int64).min), utc=True
        )
    frame = pd.DataFrame(values)
    frame["asset"] = frame["asset"].astype("string")
    return FeatureFrame(
        frame, pd.DataFrame(reasons, index=frame.index), pd.DataFrame(sources, index=frame.index)
    )


def compute_feature_frame(
    store: Store,
    asset: str,
    times: Iterable[Any] | pd.DatetimeIndex,
    *,
    names: Iterable[str] | None = None,
) -> FeatureFrame:
    """Features, reasons and sources of ``asset`` at each decision time (see module docstring).

    Parameters
    ----------
    store
        The dataset.
    asset
        Asset symbol, e.g. ``BTC``.
    times
        Tz-aware decision times (any order; rows keep it).
    names
        Only these registered features (default: all).

    Raises
    ------
    ConfigError
        Naive times, an empty asset or an unknown feature name.
    DataError
        A table the features read breaks a validation rule (e.g. duplicated bars).
    """
    if not asset:
        raise ConfigError(f"asset must be a non-empty symbol such as BTC; found {asset!r}")
    ns = _times_ns(times)
    specs = feature_specs()
    if names is not None:
        wanted = list(names)
        known = {s.name for s in specs}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise ConfigError(f"names must be registered features; found unknown {unknown}")
        specs = [s for s in specs if s.name in set(wanted)]
    ctx = _load(store, asset, ns, _inputs_of(specs))
    return _compute(ctx, specs)


def feature_frame(
    store: Store, asset: str, times: Iterable[Any] | pd.DatetimeIndex
) -> pd.DataFrame:
    """One row per decision time: ``asset, ts`` + every registered feature (NaN when missing)."""
    return compute_feature_frame(store, asset, times).frame


def features_at(store: Store, asset: str, t: datetime | pd.Timestamp) -> FeatureSnapshot:
    """Features of ``asset`` at ``t``, read through ``store.at(t)`` (rows known at ``t`` only).

    Agrees exactly with the row of ``t`` in ``feature_frame``. ``clusters`` are those a builder
    left in the context (``features.frame.inputs.CLUSTERS_MEMO``: the liquidation map's, from
    the same map as its distance features), else empty.
    """
    stamp = pd.Timestamp(t)
    if stamp.tzinfo is None:
        raise ConfigError(f"t must be tz-aware UTC; found naive {stamp.isoformat()}")
    if not asset:
        raise ConfigError(f"asset must be a non-empty symbol such as BTC; found {asset!r}")
    view = store.at(stamp)
    specs = feature_specs()
    ns = _times_ns([stamp])
    ctx = _load(view, asset, ns, _inputs_of(specs))
    snapshot = _compute(ctx, specs).snapshot(0)
    clusters_of = ctx.memo.get(CLUSTERS_MEMO)
    if clusters_of is None:
        return snapshot
    return replace(snapshot, clusters=list(clusters_of(0)))
