"""Window sums of liquidation buckets: one pure function for labels and for climatology.

A window ``[start, end)`` sums the buckets of one asset whose *start* (``ts``) lies inside it;
buckets missing inside the table's span count as zero; a window not inside the span of the rows
given (``first ts <= start`` and ``end <= last available_at``) is unknown (NaN). The label reader
(``experiments/labels/liquidations.py``) passes the whole table; a pricer passes the rows known
at its decision time (``StoreView.table``), so a window it sums is fully known at that time.

Bucket frame contract: ``ts``, ``available_at``, ``long_usd``, ``short_usd`` (one asset).

One source per asset, never double-counted: the table may hold an aggregate series (venue
``aggregate``, e.g. CoinGlass across exchanges) beside per-exchange series written by the
recorder. The aggregate is used when the rows hold it; otherwise the exchange series are summed
per ``ts`` over the span every exchange covers (the venues used are in the ``venue`` column of the
result, joined by ``+``).

``asset = ALL_ASSETS`` (``"ALL"``): the buckets of every asset in the rows, summed per ``ts``
over the span every asset covers (first ``ts`` from the latest-starting asset, last
``available_at`` from the earliest-ending), so a window is known only where all assets are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.errors import ConfigError

__all__ = ["AGGREGATE_VENUE", "ALL_ASSETS", "SIDES", "liquidation_buckets", "window_sums"]

SIDES: Final = ("long", "short", "total")
ALL_ASSETS: Final = "ALL"
AGGREGATE_VENUE: Final = "aggregate"
_BUCKET_COLUMNS: Final = ["ts", "available_at", "long_usd", "short_usd"]
_COLUMNS: Final = {
    "long": ("long_usd",),
    "short": ("short_usd",),
    "total": ("long_usd", "short_usd"),
}


def liquidation_buckets(rows: pd.DataFrame, asset: str) -> pd.DataFrame:
    """The asset's hourly buckets of ``liquidations`` rows (any interval when it has no 1h rows),
    sorted by ``ts``; ``ALL_ASSETS`` sums every asset (module docstring)."""
    if rows.empty:
        return pd.DataFrame(columns=_BUCKET_COLUMNS)
    if asset == ALL_ASSETS:
        return _all_assets(rows)
    sub = rows[rows["asset"] == asset]
    hourly = sub[sub["interval"] == "1h"] if "interval" in sub.columns else sub
    sub = hourly if not hourly.empty else sub
    if "venue" not in sub.columns or sub.empty:
        return sub.sort_values("ts", kind="stable")
    venues = sorted(sub["venue"].astype(str).unique())
    if AGGREGATE_VENUE in venues or len(venues) == 1:
        chosen = AGGREGATE_VENUE if AGGREGATE_VENUE in venues else venues[0]
        return sub[sub["venue"] == chosen].sort_values("ts", kind="stable")
    return _summed(
        [sub[sub["venue"] == v].sort_values("ts", kind="stable") for v in venues], "+".join(venues)
    ).assign(asset=asset)


def _summed(parts: list[pd.DataFrame], venue: str) -> pd.DataFrame:
    """Buckets summed per ``ts`` over the span every part covers."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=_BUCKET_COLUMNS)
    first = max(p["ts"].min() for p in parts)
    last = min(p["available_at"].max() for p in parts)
    merged = pd.concat([p[_BUCKET_COLUMNS] for p in parts])
    merged = merged[(merged["ts"] >= first) & (merged["available_at"] <= last)]
    out = merged.groupby("ts", as_index=False).agg(
        available_at=("available_at", "max"),
        long_usd=("long_usd", "sum"),
        short_usd=("short_usd", "sum"),
    )
    return out.assign(venue=venue).sort_values("ts", kind="stable").reset_index(drop=True)


def _all_assets(rows: pd.DataFrame) -> pd.DataFrame:
    assets = sorted(str(a) for a in rows["asset"].dropna().unique())
    out = _summed([liquidation_buckets(rows, a) for a in assets], "all")
    return out.assign(asset=ALL_ASSETS)


def window_sums(
    buckets: pd.DataFrame,
    start: pd.DatetimeIndex,
    end: pd.DatetimeIndex,
    side: Sequence[str] | np.ndarray,
) -> FloatArray:
    """USD liquidated of ``side`` in each window ``[start, end)`` (NaN outside the rows' span).

    Parameters
    ----------
    buckets
        ``liquidation_buckets`` rows.
    start, end
        Window bounds (tz-aware), aligned arrays.
    side
        ``long``, ``short`` or ``total`` per window.

    Raises
    ------
    ConfigError
        A side outside ``SIDES`` or misaligned arrays.
    """
    n = len(start)
    sides = np.asarray(side, dtype=str)
    if len(end) != n or len(sides) != n:
        raise ConfigError(
            f"start, end and side must be aligned; found lengths {n}, {len(end)}, {len(sides)}"
        )
    unknown = sorted(set(sides.tolist()) - set(SIDES))
    if unknown:
        raise ConfigError(f"side must be one of {SIDES}; found {unknown}")
    if buckets.empty or n == 0:
        return np.full(n, np.nan)
    ts = buckets["ts"].to_numpy("datetime64[ns]").view("int64")
    first = ts.min()
    last = buckets["available_at"].to_numpy("datetime64[ns]").view("int64").max()
    s_ns = np.asarray(pd.DatetimeIndex(start).as_unit("ns").asi8)
    e_ns = np.asarray(pd.DatetimeIndex(end).as_unit("ns").asi8)
    lo = np.searchsorted(ts, s_ns, side="left")
    hi = np.searchsorted(ts, e_ns, side="left")
    out = np.full(n, np.nan)
    for name, columns in _COLUMNS.items():
        sel = sides == name
        if not sel.any():
            continue
        values = buckets[list(columns)].to_numpy(float).sum(axis=1)
        cum = np.concatenate([[0.0], np.cumsum(values)])
        out[sel] = cum[hi[sel]] - cum[lo[sel]]
    covered = (s_ns >= first) & (e_ns <= last)
    return np.where(covered, out, np.nan)
