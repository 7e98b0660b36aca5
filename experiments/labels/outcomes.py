"""The single realised-outcome reader: labels contracts from the price path *after* their start.

This is the only code that reads the future, and it lives in ``experiments/`` so no forecaster
(features, models, markets) can import it (``tests/test_layers.py``). Training labels, backtest
scores and checks all go through ``label_contracts`` (vectorised) or ``realised_outcome`` (one).

Rules, applied to the bars of the contract's resolution source (candles ``venue``) when the store
has them over the whole window, else the first proxy venue that does (named in ``source``):

- windows are ``[start, end)``; the start price is the open of the bar opening at ``start``, the
  end price the close of the bar closing at ``end``; a window must align with the bar grid and
  every bar inside it must be present, else the outcome is ``None`` with a reason;
- touch (continuous): the highs (up) / lows (down) of the bars in the window reach the strike;
  (discrete): the bar closes at each ``discrete_every`` step do;
- close_above / close_below: end price > / < strike; range: lower <= end price < upper;
- up_down: end price > start price is 1, equal gives ``tie_value`` (default 1.0);
- first_of: the first bar whose high reaches upper (1) or low reaches lower (0); a bar touching
  both is resolved by the nearer barrier to its open and flagged; none by end gives
  ``neither_value``;
- move: terminal |end/start - 1| >= threshold (signed by direction); continuous: the highest high
  or lowest low relative to the start price;
- liquidations_above: the sum of ``liquidations`` buckets (long, short or total) starting in the
  window exceeds the threshold; buckets missing inside the table's span count as zero (the
  dataset removed all-zero buckets).

Hourly bars are a proxy for the 1-minute candles venues resolve on: touches between bar extremes
are exact for the bars' venue, and a perpetual's path differs slightly from spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from levercast.models.contracts import Contract, Kind, Monitoring

__all__ = ["PROXY_VENUES", "Outcome", "label_contracts", "realised_outcome"]

PROXY_VENUES: Final = ("binance-spot", "binance-usdm", "bitget-usdtm", "deribit")
_INTERVAL_ORDER: Final = ("30m", "1h")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A realised outcome: ``value`` in [0, 1] or ``None`` with ``reason``."""

    value: float | None
    source: str | None
    resolved_at: pd.Timestamp | None
    reason: str | None = None


class _SparseTable:
    """O(1) range max/min queries over a fixed array (vectorised)."""

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
class _Bars:
    venue: str
    interval: str
    step_ns: int
    open_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    hi_table: _SparseTable
    lo_table: _SparseTable

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, venue: str, interval: str) -> _Bars:
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
            hi_table=_SparseTable(high, "max"),
            lo_table=_SparseTable(low, "min"),
        )

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


class _BarCache:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._bars: dict[tuple[str, str, str], _Bars | None] = {}

    def get(self, venue: str, asset: str, interval: str) -> _Bars | None:
        key = (venue, asset, interval)
        if key not in self._bars:
            candles = self.store.read("candles")
            sub = candles[
                (candles["venue"] == venue)
                & (candles["asset"] == asset)
                & (candles["interval"] == interval)
            ]
            self._bars[key] = _Bars.from_frame(sub, venue, interval) if len(sub) else None
        return self._bars[key]


def _candidates(source: str) -> list[str]:
    return [source, *[v for v in PROXY_VENUES if v != source]]


def label_contracts(
    store: Store, contracts: list[Contract], *, venue: str | None = None
) -> list[Outcome]:
    """Realised outcomes of many contracts (vectorised per venue, asset and kind).

    Parameters
    ----------
    store
        The dataset (read in full: this is the outcome reader).
    contracts
        Contracts to label.
    venue
        Force this candle venue instead of the resolution source / proxies.

    Returns
    -------
    list of Outcome
        In the order of ``contracts``.
    """
    out: list[Outcome | None] = [None] * len(contracts)
    cache = _BarCache(store)
    liq_idx = [i for i, c in enumerate(contracts) if c.kind is Kind.LIQUIDATIONS_ABOVE]
    for i in liq_idx:
        out[i] = _liquidation_outcome(store, contracts[i])
    price_idx = [i for i, c in enumerate(contracts) if c.kind is not Kind.LIQUIDATIONS_ABOVE]
    pending = np.array(price_idx, dtype=int)
    reasons: dict[int, str] = {}
    for position in range(len(PROXY_VENUES) + 1):
        if pending.size == 0:
            break
        groups: dict[tuple[str, str], list[int]] = {}
        for i in pending:
            c = contracts[i]
            names = [venue] if venue else _candidates(c.resolution.source)
            if position < len(names):
                groups.setdefault((names[position], c.asset), []).append(int(i))
        still: list[int] = []
        for (name, asset), idx in groups.items():
            resolved = _label_on_venue(cache, name, asset, [contracts[i] for i in idx])
            for i, result in zip(idx, resolved, strict=True):
                if result.value is None and result.reason and "not covered" in result.reason:
                    reasons[i] = result.reason
                    still.append(i)
                else:
                    out[i] = result
        pending = np.array(still, dtype=int)
    for i in pending:
        out[int(i)] = Outcome(None, None, None, reasons.get(int(i), "no candle source covers it"))
    return [o if o is not None else Outcome(None, None, None, "unlabelled") for o in out]


def realised_outcome(contract: Contract, store: Store) -> Outcome:
    """Realised outcome of one contract (see ``label_contracts``)."""
    return label_contracts(store, [contract])[0]


def _label_on_venue(
    cache: _BarCache, venue: str, asset: str, contracts: list[Contract]
) -> list[Outcome]:
    bars = None
    interval = None
    for candidate in _INTERVAL_ORDER:
        bars = cache.get(venue, asset, candidate)
        if bars is not None:
            interval = candidate
            break
    if bars is None:
        return [Outcome(None, None, None, f"window not covered by {venue} candles")] * len(
            contracts
        )
    results = _label_bars(bars, contracts)
    if interval == "30m":
        hourly = cache.get(venue, asset, "1h")
        if hourly is not None:
            redo = [i for i, r in enumerate(results) if r.value is None]
            if redo:
                again = _label_bars(hourly, [contracts[i] for i in redo])
                for i, r in zip(redo, again, strict=True):
                    results[i] = r
    return results


def _label_bars(bars: _Bars, contracts: list[Contract]) -> list[Outcome]:
    n = len(contracts)
    start = np.array([c.start.timestamp() for c in contracts]) * 1e9
    start_ns = start.astype(np.int64)
    end_ns = np.array([(c.end.timestamp() if c.end is not None else np.nan) for c in contracts])
    open_ended = np.isnan(end_ns)
    # An open-ended first_of is labelled up to the last bar we have.
    last_ns = bars.open_ns[-1] + bars.step_ns if len(bars.open_ns) else 0
    end_ns = np.where(open_ended, last_ns, end_ns * 1e9).astype(np.int64)
    i0, i1, complete = bars.window(start_ns, end_ns)
    source = f"{bars.venue}:{bars.interval}"
    values = np.full(n, np.nan)
    resolved = end_ns.copy()
    notes: list[str | None] = [None] * n
    s0 = bars.open[i0]
    s1 = bars.close[i1]
    kinds = np.array([c.kind.value for c in contracts])
    for kind in np.unique(kinds):
        sel = np.flatnonzero((kinds == kind) & complete)
        if sel.size == 0:
            continue
        group = [contracts[i] for i in sel]
        values[sel], resolved[sel] = _kind_values(
            Kind(kind), group, bars, i0[sel], i1[sel], s0[sel], s1[sel], end_ns[sel], notes, sel
        )
    out: list[Outcome] = []
    for i in range(n):
        if not complete[i]:
            out.append(Outcome(None, None, None, f"window not covered by {source} bars"))
            continue
        out.append(
            Outcome(
                float(values[i]),
                source,
                pd.Timestamp(int(resolved[i]), tz="UTC"),
                notes[i],
            )
        )
    return out


def _kind_values(
    kind: Kind,
    group: list[Contract],
    bars: _Bars,
    i0: np.ndarray,
    i1: np.ndarray,
    s0: np.ndarray,
    s1: np.ndarray,
    end_ns: np.ndarray,
    notes: list[str | None],
    sel: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    close_ns = bars.open_ns + bars.step_ns
    if kind in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW):
        strike = np.array([c.strike_usd for c in group], float)
        above = s1 > strike if kind is Kind.CLOSE_ABOVE else s1 < strike
        return above.astype(float), end_ns
    if kind is Kind.RANGE:
        lower = np.array([c.lower_usd for c in group], float)
        upper = np.array([c.upper_usd for c in group], float)
        return ((s1 >= lower) & (s1 < upper)).astype(float), end_ns
    if kind is Kind.UP_DOWN:
        tie = np.array(
            [c.resolution.tie_value if c.resolution.tie_value is not None else 1.0 for c in group]
        )
        return np.where(s1 > s0, 1.0, np.where(s1 == s0, tie, 0.0)), end_ns
    if kind is Kind.TOUCH:
        strike = np.array([c.strike_usd for c in group], float)
        up = np.array([c.direction == "up" for c in group])
        discrete = np.array([c.monitoring_rule is Monitoring.DISCRETE for c in group])
        values = np.zeros(len(group))
        when = end_ns.copy()
        for is_up in (True, False):
            m = (up == is_up) & ~discrete
            if m.any():
                first = bars.first_reach(i0[m], i1[m], strike[m], up=is_up)
                values[m] = (first >= 0).astype(float)
                when[m] = np.where(first >= 0, close_ns[np.maximum(first, 0)], end_ns[m])
        for j in np.flatnonzero(discrete):
            c = group[j]
            every = pd.Timedelta(c.resolution.discrete_every or "1d").value
            steps = np.arange(i0[j], i1[j] + 1)
            obs = steps[(close_ns[steps] - close_ns[i0[j]]) % every == 0]
            closes = bars.close[obs]
            values[j] = float((closes >= strike[j]).any() if up[j] else (closes <= strike[j]).any())
        return values, when
    if kind is Kind.FIRST_OF:
        lower = np.array([c.lower_usd for c in group], float)
        upper = np.array([c.upper_usd for c in group], float)
        neither = np.array([c.neither_value for c in group])
        first_up = bars.first_reach(i0, i1, upper, up=True)
        first_dn = bars.first_reach(i0, i1, lower, up=False)
        big = np.iinfo(np.int64).max
        fu = np.where(first_up >= 0, first_up, big)
        fd = np.where(first_dn >= 0, first_dn, big)
        values = np.where(fu < fd, 1.0, np.where(fd < fu, 0.0, neither))
        both = (fu == fd) & (fu != big)
        for j in np.flatnonzero(both):
            bar_open = bars.open[fu[j]]
            values[j] = 1.0 if abs(upper[j] - bar_open) < abs(bar_open - lower[j]) else 0.0
            notes[int(sel[j])] = "both barriers inside one bar: nearer barrier to its open taken"
        first = np.minimum(fu, fd)
        when = np.where(first != big, close_ns[np.minimum(first, len(close_ns) - 1)], end_ns)
        return values, when
    if kind is Kind.MOVE:
        threshold = np.array([c.threshold for c in group], float)
        direction = np.array([c.direction or "either" for c in group])
        continuous = np.array([c.monitoring_rule is Monitoring.CONTINUOUS for c in group])
        up_move = np.where(continuous, bars.hi_table.query(i0, i1), s1) / s0 - 1.0
        down_move = 1.0 - np.where(continuous, bars.lo_table.query(i0, i1), s1) / s0
        hit_up = up_move >= threshold
        hit_dn = down_move >= threshold
        values = np.where(
            direction == "up", hit_up, np.where(direction == "down", hit_dn, hit_up | hit_dn)
        ).astype(float)
        return values, end_ns
    raise DataError(f"kind {kind.value} cannot be labelled from candles")


def _liquidation_outcome(store: Store, contract: Contract) -> Outcome:
    if not store.has("liquidations") or contract.end is None:
        return Outcome(None, None, None, "no liquidations table")
    liq = store.read("liquidations")
    sub = liq[(liq["asset"] == contract.asset) & (liq["interval"] == "1h")]
    if sub.empty:
        sub = liq[liq["asset"] == contract.asset]
    if sub.empty:
        return Outcome(None, None, None, f"no liquidations for {contract.asset}")
    start, end = pd.Timestamp(contract.start), pd.Timestamp(contract.end)
    if start < sub["ts"].min() or end > sub["available_at"].max():
        return Outcome(None, None, None, "window not covered by the liquidations table")
    inside = sub[(sub["ts"] >= start) & (sub["ts"] < end)]
    column = {"long": ["long_usd"], "short": ["short_usd"], "total": ["long_usd", "short_usd"]}
    total = float(inside[column[contract.side or "total"]].to_numpy().sum())
    venue = str(sub["venue"].iloc[0])
    return Outcome(float(total > float(contract.threshold or 0.0)), f"{venue}:liquidations", end)
