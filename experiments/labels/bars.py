"""Candle bars of one venue, asset and interval as arrays, with O(1) range max/min queries.

The array kernels of the outcome reader (``experiments.labels.outcomes``): which bars cover a
window ``[start, end)`` and the first bar of a window whose high (low) reaches a level, both
vectorised over many windows. The rules that turn them into outcomes live in ``outcomes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from levercast.features.dataset.store import Store

__all__ = ["BarCache", "Bars", "RangeTable"]


class RangeTable:
    """O(1) range max/min queries over a fixed array (a sparse table, vectorised)."""

    def __init__(self, values: np.ndarray, op: str) -> None:
        self.op = np.maximum if op == "max" else np.minimum
        levels = [values.astype(float)]
        width = 1
        while 2 * width <= len(values):
            prev = levels[-1]
            levels.append(self.op(prev[:-width], prev[width:]))
            width *= 2
        self.levels = levels

    def query(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Max/min over inclusive index ranges [lo, hi] (requires lo <= hi)."""
        length = hi - lo + 1
        k = np.floor(np.log2(np.maximum(length, 1))).astype(int)
        out = np.empty(len(lo))
        for level in np.unique(k):
            sel = k == level
            arr = self.levels[level]
            out[sel] = self.op(arr[lo[sel]], arr[hi[sel] - (1 << level) + 1])
        return out


@dataclass(slots=True)
class Bars:
    """One venue's bars of one asset and interval, sorted by open time (``ts``)."""

    venue: str
    interval: str
    step_ns: int
    open_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    hi_table: RangeTable
    lo_table: RangeTable

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, venue: str, interval: str) -> Bars:
        """From candle rows of one venue, asset and interval (any order)."""
        frame = frame.sort_values("ts")
        high = frame["high"].to_numpy(float)
        low = frame["low"].to_numpy(float)
        return cls(
            venue=venue,
            interval=interval,
            step_ns=pd.Timedelta(interval).value,
            open_ns=frame["ts"].to_numpy("datetime64[ns]").view("int64"),
            open=frame["open"].to_numpy(float),
            high=high,
            low=low,
            close=frame["close"].to_numpy(float),
            hi_table=RangeTable(high, "max"),
            lo_table=RangeTable(low, "min"),
        )

    @property
    def close_ns(self) -> np.ndarray:
        """Close time of every bar (open + interval)."""
        return self.open_ns + self.step_ns

    def window(self, start_ns: np.ndarray, end_ns: np.ndarray) -> tuple[np.ndarray, ...]:
        """Bar index range [i0, i1] covering [start, end) and whether it is complete."""
        i0 = np.searchsorted(self.open_ns, start_ns, side="left")
        i1 = np.searchsorted(self.open_ns, end_ns, side="left") - 1
        n = len(self.open_ns)
        ok = (i0 < n) & (i1 >= i0) & (i1 < n)
        safe0 = np.clip(i0, 0, max(n - 1, 0))
        safe1 = np.clip(i1, 0, max(n - 1, 0))
        aligned = (self.open_ns[safe0] == start_ns) & (self.open_ns[safe1] + self.step_ns == end_ns)
        expected = (end_ns - start_ns) // self.step_ns
        complete = ok & aligned & ((safe1 - safe0 + 1) == expected)
        return safe0, safe1, complete

    def first_reach(
        self, i0: np.ndarray, i1: np.ndarray, level: np.ndarray, *, up: bool
    ) -> np.ndarray:
        """First bar index in [i0, i1] whose high (low) reaches ``level``; -1 if none."""
        table = self.hi_table if up else self.lo_table
        reached = table.query(i0, i1)
        hit = reached >= level if up else reached <= level
        lo, hi = i0.copy(), i1.copy()
        # Binary search on the monotone running extreme of the window.
        for _ in range(int(np.ceil(np.log2(max(int((i1 - i0).max(initial=0)) + 1, 1)))) + 1):
            active = hit & (lo < hi)
            if not active.any():
                break
            mid = (lo + hi) // 2
            ext = table.query(i0[active], mid[active])
            found = ext >= level[active] if up else ext <= level[active]
            idx = np.flatnonzero(active)
            hi[idx[found]] = mid[active][found]
            lo[idx[~found]] = mid[active][~found] + 1
        return np.where(hit, lo, -1)


class BarCache:
    """``Bars`` by (venue, asset, interval), read once from the whole ``candles`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._bars: dict[tuple[str, str, str], Bars | None] = {}
        self._groups: dict[tuple[str, str, str], np.ndarray] | None = None

    def get(self, venue: str, asset: str, interval: str) -> Bars | None:
        """The bars, or None when the table has none of them."""
        key = (venue, asset, interval)
        if key not in self._bars:
            candles = self.store.read("candles")
            if self._groups is None:
                groups = candles.groupby(["venue", "asset", "interval"], sort=False).indices
                self._groups = {
                    (str(v), str(a), str(i)): rows for (v, a, i), rows in groups.items()
                }
            rows = self._groups.get(key)
            self._bars[key] = (
                Bars.from_frame(candles.iloc[rows], venue, interval) if rows is not None else None
            )
        return self._bars[key]
