"""The point-in-time feature frame: one row per (asset, decision time t).

Every feature of the catalogue (``features.frame.registry.FEATURES``) at ``t`` is computed only
from rows with ``available_at <= t``: the source (a ``Store`` or a ``StoreView``) is read once per
table up to the last decision time (``features.frame.inputs.context_for``), the builders evaluate
inputs by ``searchsorted`` on ``available_at``, and ``features_at`` reads nothing after its ``t``,
so it agrees exactly with the frame row of ``t``; the truncation tests check both. A view refuses
decision times after its own ``t``.

Frame contract (STYLE G3, features): columns ``asset``, ``ts`` (the decision time ``t``, UTC) and
one float column per feature. Reasons for NaN and the sources used live in the ``FeatureFrame``
result of ``compute_feature_frame``.

NaN policy: a feature is NaN with a reason when a required input is missing, stale beyond its
maximum staleness ("<input> (<venue>) stale since <ts>"), or the builder cannot compute it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from levercast.features._typing import IntArray
from levercast.features.dataset.store import PointInTime
from levercast.features.errors import ConfigError
from levercast.features.frame.inputs import CLUSTERS_MEMO, FrameContext, context_for
from levercast.features.frame.registry import feature_specs, select_features
from levercast.features.frame.specs import FeatureColumn, FeatureSpec, first_reason, has_no_reason
from levercast.features.liqmap.params import check_lookback

__all__ = [
    "FeatureFrame",
    "FeatureSnapshot",
    "compute_feature_frame",
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


def _inputs_of(specs: list[FeatureSpec[FrameContext]]) -> list[str]:
    names: dict[str, None] = {}
    for spec in specs:
        for name in (*spec.inputs, *spec.optional_inputs):
            names[name] = None
    return list(names)


def _masked(ctx: FrameContext, spec: FeatureSpec[FrameContext]) -> FeatureColumn:
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


def _compute(ctx: FrameContext, specs: list[FeatureSpec[FrameContext]]) -> FeatureFrame:
    n = len(ctx.times)
    stamps = pd.to_datetime(ctx.times, unit="ns", utc=True)
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
            np.where(last >= 0, last, np.iinfo(np.int64).min), unit="ns", utc=True
        )
    frame = pd.DataFrame(values)
    frame["asset"] = frame["asset"].astype("string")
    return FeatureFrame(
        frame, pd.DataFrame(reasons, index=frame.index), pd.DataFrame(sources, index=frame.index)
    )


def _lookback(hours: float | None) -> float | None:
    return None if hours is None else check_lookback(hours, name="map_lookback_hours")


def _check_asset(asset: str) -> None:
    if not asset:
        raise ConfigError(f"asset must be a non-empty symbol such as BTC; found {asset!r}")


def compute_feature_frame(
    source: PointInTime,
    asset: str,
    times: Iterable[Any] | pd.DatetimeIndex,
    *,
    names: Iterable[str] | None = None,
    map_lookback_hours: float | None = None,
) -> FeatureFrame:
    """Features, reasons and sources of ``asset`` at each decision time (see module docstring).

    Parameters
    ----------
    source
        The dataset: a ``Store``, or a ``StoreView`` (then every time must be at or before the
        view's ``t``).
    asset
        Asset symbol, e.g. ``BTC``.
    times
        Tz-aware decision times (any order; rows keep it).
    names
        Only these features of the catalogue (default: all), in catalogue order.
    map_lookback_hours
        The liquidation map's window for the map features (24 to 168 h; default: the committed
        ``features.liqmap.params.LOOKBACK_HOURS``).

    Raises
    ------
    ConfigError
        Naive times, an empty asset, an unknown feature name, or a time after a view's ``t``.
    DataError
        A table the features read breaks a validation rule (e.g. duplicated bars).
    """
    _check_asset(asset)
    ns = _times_ns(times)
    specs = feature_specs() if names is None else select_features(names)
    ctx = context_for(
        source,
        asset,
        inputs=_inputs_of(specs),
        times=ns,
        map_lookback_hours=_lookback(map_lookback_hours),
    )
    return _compute(ctx, specs)


def feature_frame(
    source: PointInTime, asset: str, times: Iterable[Any] | pd.DatetimeIndex
) -> pd.DataFrame:
    """One row per decision time: ``asset, ts`` + every feature (NaN when missing).

    ``source`` is a ``Store`` or a ``StoreView`` (see ``compute_feature_frame``).
    """
    return compute_feature_frame(source, asset, times).frame


def features_at(
    source: PointInTime,
    asset: str,
    t: datetime | pd.Timestamp,
    *,
    map_lookback_hours: float | None = None,
) -> FeatureSnapshot:
    """Features of ``asset`` at ``t``, from the rows of ``source`` known at ``t`` only.

    ``source`` is a ``Store`` or a ``StoreView`` whose ``t`` is not before this ``t``. Agrees
    exactly with the row of ``t`` in ``feature_frame``. ``clusters`` are those a builder left in
    the context (``features.frame.inputs.CLUSTERS_MEMO``: the liquidation map's, from the same
    map as its distance features), else empty.

    Raises
    ------
    ConfigError
        A naive ``t``, an empty asset, or ``t`` after a view's ``t``.
    """
    stamp = pd.Timestamp(t)
    if stamp.tzinfo is None:
        raise ConfigError(f"t must be tz-aware UTC; found naive {stamp.isoformat()}")
    _check_asset(asset)
    specs = feature_specs()
    ctx = context_for(
        source,
        asset,
        inputs=_inputs_of(specs),
        times=_times_ns([stamp]),
        map_lookback_hours=_lookback(map_lookback_hours),
    )
    snapshot = _compute(ctx, specs).snapshot(0)
    clusters_of = ctx.memo.get(CLUSTERS_MEMO)
    if clusters_of is None:
        return snapshot
    return replace(snapshot, clusters=list(clusters_of(0)))
