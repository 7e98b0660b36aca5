"""Dataset health: rows, spans and gaps per table and group (``levercast data check``).

Problems (``ok`` false, INTERFACE.md §4) are broken validation rules: a table that fails its
format (``schema.validate_table``: types, keys, nulls, ``available_at < ts``, probabilities
outside [0, 1], negative sizes) and rows that break a data-sanity rule that no true value can
break (``sanity``: non-finite or non-positive prices, high < low, open/close outside the bar,
IV outside its band, a funding rate beyond 10 %, a winning outcome not among the market's
outcomes, a resolution before creation, a price row for an outcome the market does not have).
Warnings (``ok`` unchanged) are gaps, and the heuristic *impossible jump* (a bar far beyond the
trailing range: a real flash crash can look like one). Every reader excludes the rows of both
kinds; each line here gives the table, the rule and the count.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from levercast.features.dataset.sanity import JUMP_REASON, QuarantineWarning
from levercast.features.dataset.schema import TABLES
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError

__all__ = ["check_dataset", "count_gaps", "native_step"]

_INTERVALS = {
    "1m": "1min",
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "1h": "1h",
    "4h": "4h",
    "8h": "8h",
    "1d": "1D",
}


def native_step(table: str, group: dict[str, Any], ts: pd.Series) -> pd.Timedelta | None:
    """The native sampling interval of a group: its ``interval`` column, else the modal spacing.

    Returns ``None`` for irregular tables (market prices, books, static tables).
    """
    if table in {"market_prices", "books", "markets"}:
        return None
    interval = group.get("interval")
    if interval is not None and str(interval) in _INTERVALS:
        return pd.Timedelta(_INTERVALS[str(interval)])
    if len(ts) < 3:
        return None
    diffs = np.diff(ts.to_numpy(dtype="datetime64[ns]").view("int64"))
    diffs = diffs[diffs > 0]
    if diffs.size == 0:
        return None
    values, counts = np.unique(diffs, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def count_gaps(ts: pd.Series, step: pd.Timedelta) -> int:
    """Missing steps inside the span of sorted times ``ts`` at regular spacing ``step``."""
    if len(ts) < 2:
        return 0
    diffs = np.diff(ts.to_numpy(dtype="datetime64[ns]").view("int64"))
    step_ns = step.value
    missing = np.floor(diffs / step_ns + 1e-9).astype(np.int64) - 1
    return int(missing[missing > 0].sum())


def _group_rows(table: str, frame: pd.DataFrame) -> list[dict[str, Any]]:
    spec = TABLES[table]
    keys = list(spec.groups)
    out: list[dict[str, Any]] = []
    if frame.empty:
        return out
    time_col = "ts" if "ts" in frame.columns else "created_at"
    for values, group in frame.groupby(keys, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        record: dict[str, Any] = {
            k: (None if pd.isna(v) else str(v)) for k, v in zip(keys, values, strict=True)
        }
        ts = group[time_col].dropna().sort_values()
        record["rows"] = len(group)
        record["first_ts"] = ts.iloc[0].to_pydatetime() if len(ts) else None
        record["last_ts"] = ts.iloc[-1].to_pydatetime() if len(ts) else None
        step = native_step(table, record, ts)
        record["gaps"] = count_gaps(ts, step) if step is not None else None
        out.append(record)
    return out


def check_dataset(store: Store) -> dict[str, Any]:
    """Validate every table and summarise it (INTERFACE.md §4 ``data check``).

    Returns
    -------
    dict
        ``{"ok", "tables": {name: {"rows", "groups": [...]}}, "problems", "warnings"}``;
        ``ok`` is false only when a validation rule is broken; gaps are warnings.
    """
    problems: list[str] = []
    warnings_out: list[str] = []
    tables: dict[str, Any] = {}
    if not store.root.is_dir():
        return {
            "ok": False,
            "tables": {},
            "problems": [f"dataset directory {store.root} does not exist"],
            "warnings": [],
        }
    for name, spec in TABLES.items():
        if not store.has(name):
            if not spec.optional:
                problems.append(f"{name}: required table missing from {store.root}")
            continue
        try:
            with warnings.catch_warnings():  # reported below, one line per rule
                warnings.simplefilter("ignore", QuarantineWarning)
                frame = store.read(name)
        except DataError as e:
            problems.append(str(e))
            continue
        for reason, n in store.quarantined(name).items():
            line = f"{name}: {n} row(s) excluded by readers: {reason}"
            (warnings_out if reason == JUMP_REASON else problems).append(line)
        groups = _group_rows(name, frame)
        tables[name] = {"rows": len(frame), "groups": groups}
        for g in groups:
            if g.get("gaps"):
                label = ", ".join(f"{k}={g[k]}" for k in spec.groups)
                warnings_out.append(f"{name} [{label}]: {g['gaps']} missing step(s) inside span")
    return {"ok": not problems, "tables": tables, "problems": problems, "warnings": warnings_out}
