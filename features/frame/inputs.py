"""Point-in-time input series for the feature frame: loading, selection, staleness, windows.

A ``FrameContext`` holds, for one asset, the rows of every candidate series known at the last
decision time, as ``SourceSeries`` (integer-nanosecond ``available_at``/``ts`` arrays, rows in
``available_at`` order). Everything a builder asks for at decision times ``times`` is computed by
``searchsorted`` on ``available_at``, so a value at ``t`` depends only on rows known at ``t``.

``context_for`` builds one from a point-in-time source (a ``Store`` or a ``StoreView``: each
table is read once as ``source.as_of(table, max(times), asset=asset)``; a view refuses decision
times after its own ``t``) or from raw tables.

A summed candidate (``Candidate.parts``) is built here from its parts' rows: one row per ``ts``
at which every part has a row with a value, float columns summed, ``available_at`` the latest of
the parts' (the sum is known once its last part is), before the rules below apply to it.

NaN policy: rows whose value column is NaN are dropped (treated as missing); a row whose ``ts`` is
not after the previous row's (a late revision) is dropped; candle bars with zero volume are
placeholders and dropped. Missing and stale inputs yield NaN with a reason, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features._typing import BoolArray, FloatArray, IntArray
from levercast.features.dataset.codes import TextCodes
from levercast.features.dataset.store import PointInTime, StoreView
from levercast.features.errors import ConfigError
from levercast.features.frame.specs import (
    INPUTS,
    Candidate,
    InputSpec,
    ReasonArray,
    format_ns,
    format_span,
    has_no_reason,
)

__all__ = [
    "CLUSTERS_MEMO",
    "FrameContext",
    "Selection",
    "SourceSeries",
    "context_for",
]

NONE: Final = -1
CLUSTERS_MEMO: Final = "clusters"
_BEFORE_ANY_ROW: Final = np.iinfo(np.int64).min + 1  # horizon of a context without times


@dataclass(frozen=True, slots=True, eq=False)
class SourceSeries:
    """One candidate series of an input, rows in ``available_at`` order."""

    input: str
    venue: str
    native_ns: int
    stale_ns: int
    avail: IntArray
    ts: IntArray
    columns: Mapping[str, FloatArray]

    def __len__(self) -> int:
        return len(self.ts)

    def last_index(self, times: IntArray) -> IntArray:
        """Index of the last row known at each time (``-1`` when none)."""
        return np.searchsorted(self.avail, times, side="right").astype(np.int64) - 1

    def column(self, name: str) -> FloatArray:
        """A value column (float64)."""
        return self.columns[name]


@dataclass(frozen=True, slots=True, eq=False)
class Selection:
    """Which candidate serves an input at each time, and why not when none does.

    ``choice`` is the candidate index (``-1`` when none is fresh), ``idx`` the row index of the
    last known row in the chosen candidate (else in ``ref``, the best candidate with any row),
    ``reasons`` a reason where ``choice == -1``.
    """

    input: str
    choice: IntArray
    ref: IntArray
    idx: IntArray
    reasons: ReasonArray

    @property
    def ok(self) -> BoolArray:
        """Where a fresh candidate serves the input."""
        return self.choice >= 0


class _Rows:
    """One asset's rows of one table as arrays (``from_frames``): the float columns, ``ts`` and
    ``available_at`` as int64 ns, and each text column factorised once (``TextCodes``), so a
    candidate's rows are selected by integer codes instead of masking the frame per candidate."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.frame = rows
        self.floats = {
            c: rows[c].to_numpy(dtype=np.float64)
            for c in rows.columns
            if pd.api.types.is_float_dtype(rows[c].dtype)
        }
        self.avail = rows["available_at"].to_numpy(dtype="datetime64[ns]").view("int64")
        self.ts = rows["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        self._codes: dict[str, TextCodes] = {}

    def equal(self, column: str, values: Sequence[Any]) -> BoolArray:
        """Rows whose ``column`` is one of ``values`` (a null is none)."""
        if column not in self._codes:
            self._codes[column] = TextCodes.of(self.frame[column])
        return self._codes[column].equal(values)


def _candidate_rows(spec: InputSpec, cand: Candidate, rows: _Rows) -> IntArray | pd.DataFrame:
    """The rows of one candidate: the positions in ``rows`` of its venue's, or the sum of its
    parts' as a frame (module docstring)."""
    mask = rows.equal(spec.venue_column, cand.parts or (cand.venue,))
    for col, val in cand.filters:
        mask &= rows.equal(col, (val,))
    if not cand.parts:
        return np.flatnonzero(mask)
    mine = rows.frame[mask]
    mine = mine[mine[spec.value_column].notna()]
    floats = [c for c in mine.columns if pd.api.types.is_float_dtype(mine[c].dtype)]
    grouped = mine.groupby("ts", sort=True)
    sums = grouped[floats].sum(min_count=len(cand.parts))
    sums["available_at"] = grouped["available_at"].max()
    complete = grouped[spec.venue_column].nunique() == len(cand.parts)
    return sums[complete].reset_index()


def _series_from_frame(
    spec: InputSpec, k: int, found: IntArray | pd.DataFrame, rows: _Rows
) -> SourceSeries:
    """A candidate's series from its rows (positions in ``rows``, or a frame of summed parts):
    rows with a value (and, for candles, traded volume), in ``available_at`` order, keeping a
    row only when it describes a later ``ts`` than every row known before it."""
    cand = spec.candidates[k]
    table = _Rows(found) if isinstance(found, pd.DataFrame) else rows
    at = np.arange(len(found)) if isinstance(found, pd.DataFrame) else found
    ok = ~np.isnan(table.floats[spec.value_column][at])
    if spec.table == "candles" and "volume_base" in table.floats:
        ok &= table.floats["volume_base"][at] > 0
    at = at[ok]
    avail, ts = table.avail[at], table.ts[at]
    order = np.lexsort((ts, avail))
    avail, ts = avail[order], ts[order]
    keep = np.ones(len(ts), dtype=bool)
    if len(ts) > 1:
        running = np.maximum.accumulate(ts)
        keep[1:] = ts[1:] > running[:-1]
    chosen = at[order][keep]
    columns = {c: values[chosen] for c, values in table.floats.items()}
    native = int(cand.native_interval.value)
    return SourceSeries(spec.name, cand.venue, native, 2 * native, avail[keep], ts[keep], columns)


class FrameContext:
    """Inputs of one asset known at ``horizon``, evaluated at decision ``times``.

    Parameters
    ----------
    asset
        Asset symbol (``BTC``).
    times
        Decision times as integer nanoseconds since the epoch (UTC).
    series
        Input name -> candidate series (in preference order); an input absent from the mapping is
        treated as a missing table.
    absent
        Input name -> reason for inputs whose table is missing from the dataset.
    tables
        Table name -> the asset's rows the series were built from (dataset format, rows known at
        the horizon), for builders that call table-level functions
        (``features.builders.dominance.long_share_series``); empty when not given.

    Attributes
    ----------
    memo
        Per-context cache of builders. A builder that also produces the INTERFACE.md §4
        ``clusters`` stores under ``CLUSTERS_MEMO`` a callable ``row -> list of dict`` (row =
        index of the decision time); ``features_at`` reports it.
    """

    def __init__(
        self,
        asset: str,
        times: IntArray,
        series: Mapping[str, list[SourceSeries]],
        absent: Mapping[str, str] | None = None,
        *,
        tables: Mapping[str, pd.DataFrame] | None = None,
        map_lookback_hours: float | None = None,
    ) -> None:
        self.asset = asset
        # The liquidation map's window for this context's map features (None: the committed one).
        self.map_lookback_hours = map_lookback_hours
        self.times = np.asarray(times, dtype=np.int64)
        self._series = dict(series)
        self._absent = dict(absent or {})
        self.tables: dict[str, pd.DataFrame] = dict(tables or {})
        self.memo: dict[str, Any] = {}

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_frames(
        cls,
        tables: Mapping[str, pd.DataFrame | None],
        asset: str,
        times: IntArray,
        inputs: Sequence[str],
        *,
        map_lookback_hours: float | None = None,
    ) -> FrameContext:
        """Build from tables in the dataset format (``None``: the table is absent).

        Every row of ``asset`` is used: a point-in-time caller passes only rows known at the
        last decision time (``context_for`` does).
        """
        series: dict[str, list[SourceSeries]] = {}
        absent: dict[str, str] = {}
        frames: dict[str, pd.DataFrame] = {}
        arrays: dict[str, _Rows] = {}
        for name in inputs:
            spec = INPUTS[name]
            table = tables.get(spec.table)
            if table is None:
                absent[name] = f"{spec.table} table absent from the dataset"
                continue
            if spec.table not in arrays:
                frames[spec.table] = table[table["asset"] == asset]
                arrays[spec.table] = _Rows(frames[spec.table])
            rows = arrays[spec.table]
            series[name] = [
                _series_from_frame(spec, k, _candidate_rows(spec, cand, rows), rows)
                for k, cand in enumerate(spec.candidates)
            ]
        return cls(
            asset, times, series, absent, tables=frames, map_lookback_hours=map_lookback_hours
        )

    # -- selection ---------------------------------------------------------------------------
    def candidates(self, name: str) -> list[SourceSeries]:
        """Candidate series of an input (empty when the table is absent)."""
        return self._series.get(name, [])

    def select(
        self, name: str, times: IntArray, *, stale_ns: int | None = None, only: int | None = None
    ) -> Selection:
        """The candidate serving the input at each time (``features.frame.specs``: the first fresh
        one, or the freshest for an input with ``choose="freshest"``).

        ``only`` restricts the choice to one candidate index; ``stale_ns`` tightens staleness.
        """
        cands = self.candidates(name)
        freshest = INPUTS[name].choose == "freshest"
        n = len(times)
        choice = np.full(n, NONE, dtype=np.int64)
        ref = np.full(n, NONE, dtype=np.int64)
        idx = np.full(n, NONE, dtype=np.int64)
        never = np.iinfo(np.int64).min
        latest = np.full(n, never, dtype=np.int64)  # freshest: last ts of the chosen series
        seen = np.full(n, never, dtype=np.int64)  # freshest: last ts of the best stale series
        for k, s in enumerate(cands):
            if (only is not None and k != only) or not len(s):
                continue
            i = s.last_index(times)
            has = i >= 0
            age = times - s.avail[np.clip(i, 0, None)]
            limit = s.stale_ns if stale_ns is None else min(stale_ns, s.stale_ns)
            fresh = has & (age <= limit)
            take = (choice < 0) & fresh
            last = np.where(has, s.ts[np.clip(i, 0, None)], never)
            if freshest:
                take |= fresh & (last > latest)
                latest[take] = last[take]
            choice[take] = k
            ref[take] = k
            idx[take] = i[take]
            # the series a reason names: the first with rows, or (freshest) the latest stale one
            if freshest:
                seen_now = (choice < 0) & has & (last > seen)
                seen[seen_now] = last[seen_now]
            else:
                seen_now = (ref < 0) & has
            ref[seen_now] = k
            idx[seen_now] = i[seen_now]
        reasons = np.full(n, None, dtype=object)
        bad = choice < 0
        if bad.any():
            reasons[bad] = self._why_not(name, ref[bad], idx[bad], stale_ns)
        return Selection(name, choice, ref, idx, reasons)

    def _why_not(
        self, name: str, ref: IntArray, idx: IntArray, stale_ns: int | None
    ) -> ReasonArray:
        out = np.empty(len(ref), dtype=object)
        if name in self._absent:
            out[:] = f"{name}: {self._absent[name]}"
            return out
        cands = self.candidates(name)
        keys = np.stack([ref, idx], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        texts = []
        for k, i in uniq:
            if k < 0:
                texts.append(f"{name}: no rows for {self.asset} known at t")
                continue
            s = cands[int(k)]
            limit = s.stale_ns if stale_ns is None else min(stale_ns, s.stale_ns)
            texts.append(
                f"{name} ({s.venue}) stale since {format_ns(int(s.avail[int(i)]) + limit)}: "
                f"last row {format_ns(int(s.ts[int(i)]))}, nothing new for more than "
                f"{format_span(limit)}"
            )
        out[:] = np.asarray(texts, dtype=object)[np.ravel(inverse)]
        return out

    def selection(self, name: str) -> Selection:
        """``select`` at the context's decision times (memoised)."""
        key = f"selection:{name}"
        if key not in self.memo:
            self.memo[key] = self.select(name, self.times)
        result: Selection = self.memo[key]
        return result

    def pick(self, sel: Selection, column: str, *, rows: IntArray | None = None) -> FloatArray:
        """Column value at the selected rows (``rows`` overrides ``sel.idx``); NaN where none."""
        out = np.full(len(sel.choice), np.nan)
        cands = self.candidates(sel.input)
        at = sel.idx if rows is None else rows
        for k, s in enumerate(cands):
            mask = (sel.choice == k) & (at >= 0)
            if mask.any():
                out[mask] = s.column(column)[at[mask]]
        return out

    def last_ts(self, sel: Selection) -> IntArray:
        """``ts`` of the last known row of the chosen (else best stale) candidate; -1 when none."""
        out = np.full(len(sel.ref), NONE, dtype=np.int64)
        for k, s in enumerate(self.candidates(sel.input)):
            mask = (sel.ref == k) & (sel.idx >= 0)
            out[mask] = s.ts[sel.idx[mask]]
        return out

    def window_start(self, sel: Selection, window_ns: int) -> tuple[IntArray, ReasonArray]:
        """First row of the chosen series with ``ts > ts_last - window`` and a coverage reason.

        The reason is set where fewer than 90% of the rows expected at the native interval are
        present (a gap, or history shorter than the window).
        """
        lo = np.full(len(sel.choice), NONE, dtype=np.int64)
        reasons = np.full(len(sel.choice), None, dtype=object)
        for k, s in enumerate(self.candidates(sel.input)):
            mask = (sel.choice == k) & (sel.idx >= 0)
            if not mask.any():
                continue
            i = sel.idx[mask]
            start = np.searchsorted(s.ts, s.ts[i] - window_ns, side="right")
            lo[mask] = start
            expected = window_ns / s.native_ns
            n = i - start + 1
            short = n < 0.9 * expected
            if short.any():
                where = np.flatnonzero(mask)[short]
                for w, count in zip(where, n[short], strict=True):
                    reasons[w] = (
                        f"{sel.input} ({s.venue}) has {int(count)} of {expected:g} rows in the "
                        f"{format_span(window_ns)} window (gap or short history)"
                    )
        return lo, reasons

    def window_sum(
        self, sel: Selection, column: str, window_ns: int, times: IntArray | None = None
    ) -> tuple[FloatArray, IntArray, ReasonArray]:
        """Sum and count of the chosen series' rows with ``t - window < available_at <= t``.

        The reason is set where fewer than 90% of the rows expected at the native interval are
        present (a gap, or history shorter than the window).
        """
        at = self.times if times is None else times
        total = np.full(len(at), np.nan)
        count = np.zeros(len(at), dtype=np.int64)
        reasons = np.full(len(at), None, dtype=object)
        for k, s in enumerate(self.candidates(sel.input)):
            mask = sel.choice == k
            if not mask.any():
                continue
            values = np.nan_to_num(s.column(column), nan=0.0)
            cum = np.concatenate([[0.0], np.cumsum(values)])
            hi = np.searchsorted(s.avail, at[mask], side="right")
            lo = np.searchsorted(s.avail, at[mask] - window_ns, side="right")
            total[mask] = cum[hi] - cum[lo]
            count[mask] = hi - lo
            expected = window_ns / s.native_ns
            short = (hi - lo) < np.ceil(0.9 * expected - 1e-9)
            if short.any():
                where = np.flatnonzero(mask)[short]
                for w, n in zip(where, (hi - lo)[short], strict=True):
                    reasons[w] = (
                        f"{sel.input} ({s.venue}) has {int(n)} of {expected:g} rows in the "
                        f"{format_span(window_ns)} window (gap or short history)"
                    )
        total[~has_no_reason(reasons)] = np.nan
        return total, count, reasons

    # -- switches of series ------------------------------------------------------------------
    def _switches(self, name: str) -> tuple[IntArray, IntArray, IntArray]:
        key = f"switches:{name}"
        if key not in self.memo:
            cands = self.candidates(name)
            parts = [s.avail for s in cands] + [s.avail + s.stale_ns + 1 for s in cands]
            events = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
            choice = self.select(name, events).choice
            valid = choice >= 0
            ev, ch = events[valid], choice[valid]
            change = np.flatnonzero(ch[1:] != ch[:-1]) + 1
            self.memo[key] = (ev[change], ch[change - 1], ch[change])
        result: tuple[IntArray, IntArray, IntArray] = self.memo[key]
        return result

    def switch_guard(self, name: str, window_ns: int, times: IntArray | None = None) -> ReasonArray:
        """A reason wherever the input's chosen series switched within ``(t - window, t]``."""
        at = self.times if times is None else times
        sw_t, sw_from, sw_to = self._switches(name)
        out = np.full(len(at), None, dtype=object)
        if len(sw_t) == 0:
            return out
        j = np.searchsorted(sw_t, at, side="right") - 1
        inside = (j >= 0) & (sw_t[np.clip(j, 0, None)] > at - window_ns)
        cands = self.candidates(name)
        for jj in np.unique(j[inside]):
            text = (
                f"{name} series switched from {cands[int(sw_from[jj])].venue} to "
                f"{cands[int(sw_to[jj])].venue} at {format_ns(int(sw_t[jj]))}, inside the "
                f"{format_span(window_ns)} window (levels are never spliced)"
            )
            out[inside & (j == jj)] = text
        return out


# -- loading ---------------------------------------------------------------------------------
def _latest(source: PointInTime, times: IntArray) -> int:
    """The last decision time (ns); refused when it is after a view's ``t`` (a look-ahead)."""
    latest = int(times.max()) if len(times) else _BEFORE_ANY_ROW
    if isinstance(source, StoreView) and latest > source.t.value:
        raise ConfigError(
            f"times must be at or before the view's decision time {source.t.isoformat()}; "
            f"found {pd.Timestamp(latest, tz='UTC').isoformat()} (a read past t is a look-ahead)"
        )
    return latest


def _read_tables(
    source: PointInTime, asset: str, times: IntArray, inputs: Sequence[str]
) -> dict[str, pd.DataFrame | None]:
    """The asset's rows known at the last decision time of every table the inputs read."""
    latest = _latest(source, times)
    horizon = pd.Timestamp(latest, tz="UTC")
    tables: dict[str, pd.DataFrame | None] = {}
    for name in inputs:
        table = INPUTS[name].table
        if table not in tables:
            tables[table] = source.as_of(table, horizon, asset=asset) if source.has(table) else None
    return tables


def context_for(
    source: PointInTime | Mapping[str, pd.DataFrame],
    asset: str,
    *,
    inputs: Sequence[str],
    times: IntArray | None = None,
    map_lookback_hours: float | None = None,
) -> FrameContext:
    """A ``FrameContext`` of ``asset`` from a point-in-time source or from raw tables.

    Parameters
    ----------
    source
        A ``Store`` or a ``StoreView`` (any ``features.dataset.store.PointInTime``): only rows
        known at the last decision time are read. Or a mapping table name -> DataFrame in the
        dataset format, every row of which is used.
    asset
        Asset symbol (``BTC``).
    inputs
        Names of ``features.frame.specs.INPUTS`` to load.
    times
        Decision times as integer nanoseconds (UTC). Default: the view's ``t`` for a
        ``StoreView``, no times for raw tables; required for a ``Store``.
    map_lookback_hours
        The liquidation map's window (``features.liqmap.params.check_lookback``); None: the
        committed ``LOOKBACK_HOURS``.

    Raises
    ------
    ConfigError
        ``times`` missing for a source other than a view, a decision time after the view's
        ``t``, or a source of another type.
    """
    if isinstance(source, Mapping):
        at = np.zeros(0, dtype=np.int64) if times is None else np.asarray(times, dtype=np.int64)
        return FrameContext.from_frames(
            dict(source), asset, at, inputs, map_lookback_hours=map_lookback_hours
        )
    if not (callable(getattr(source, "as_of", None)) and callable(getattr(source, "has", None))):
        raise ConfigError(
            f"source must be a Store, StoreView or mapping of tables; found {type(source).__name__}"
        )
    if times is None:
        if not isinstance(source, StoreView):
            raise ConfigError(
                f"times must be given when source is a {type(source).__name__}; found None"
            )
        times = np.array([source.t.value], dtype=np.int64)
    at = np.asarray(times, dtype=np.int64)
    if not isinstance(source, StoreView):
        tables = _read_tables(source, asset, at, inputs)
        return FrameContext.from_frames(
            tables, asset, at, inputs, map_lookback_hours=map_lookback_hours
        )
    return _shared_context(source, asset, at, inputs, map_lookback_hours)


def _shared_context(
    view: StoreView,
    asset: str,
    times: IntArray,
    inputs: Sequence[str],
    map_lookback_hours: float | None,
) -> FrameContext:
    """``context_for`` of a view: the candidate series of each input are built once per (asset,
    last decision time) and kept in the view's ``memo``, so the feature frame, the dominance
    series and the liquidation maps of one answer (three contexts, overlapping inputs) read and
    split the tables once. The series are read-only; each context gets its own ``memo``."""
    key = ("frame-series", asset, _latest(view, times))
    kept: _Kept = view.memo.setdefault(key, _Kept({}, {}, {}))
    todo = [name for name in inputs if name not in kept.series and name not in kept.absent]
    if todo:
        built = FrameContext.from_frames(_read_tables(view, asset, times, todo), asset, times, todo)
        kept.series.update(built._series)
        kept.absent.update(built._absent)
        kept.frames.update(built.tables)
    tables = {INPUTS[name].table for name in inputs}
    return FrameContext(
        asset,
        times,
        {name: kept.series[name] for name in inputs if name in kept.series},
        {name: kept.absent[name] for name in inputs if name in kept.absent},
        tables={name: frame for name, frame in kept.frames.items() if name in tables},
        map_lookback_hours=map_lookback_hours,
    )


@dataclass(frozen=True, slots=True)
class _Kept:
    """What ``_shared_context`` keeps per (asset, horizon): series and absences by input, the
    asset's rows by table."""

    series: dict[str, list[SourceSeries]]
    absent: dict[str, str]
    frames: dict[str, pd.DataFrame]
