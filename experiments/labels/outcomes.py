"""The single realised-outcome reader: labels contracts from the price path *after* their start.

This is the only code that reads the future, and it lives in ``experiments/`` so no forecaster
(features, models, markets) can import it (``tests/test_layers.py``). Training labels, backtest
scores and checks all go through ``label_contracts`` (``Contract`` objects), ``label_frame``
(a frame of contracts, such as ``models.learned.contract_grid`` builds, with no per-row object)
or ``realised_outcome`` (one). The three read the contracts into the same columns and apply the
rules below once, in ``_label_columns``: they give identical outcomes.

Rules, applied to the bars of the contract's resolution source (candles ``venue``) when the store
has them over the whole window, else the first proxy venue that does (named in ``source``):

- windows are ``[start, end)``; the start price is the open of the bar opening at ``start``, the
  end price the close of the bar closing at ``end``; a window must align with the bar grid and
  every bar inside it must be present, else the outcome is ``None`` with a reason; 30m bars are
  used where the venue has them, else (or where they do not cover the window) 1h bars;
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

``resolved_at`` is the close of the first touching bar for touch (continuous) and first_of, else
the window's end (an open-ended first_of not yet hit: the close of the last bar).

Hourly bars are a proxy for the 1-minute candles venues resolve on: touches between bar extremes
are exact for the bars' venue, and a perpetual's path differs slightly from spot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from levercast.experiments.labels.bars import BarCache, Bars
from levercast.experiments.labels.columns import NO_END, ContractColumns
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from levercast.features.liquidation_windows import liquidation_buckets, window_sums
from levercast.models.contracts import Contract, Kind, Monitoring

__all__ = [
    "LABEL_COLUMNS",
    "PROXY_VENUES",
    "Outcome",
    "label_contracts",
    "label_frame",
    "realised_outcome",
]

PROXY_VENUES: Final = ("binance-spot", "binance-usdm", "bitget-usdtm", "deribit")
LABEL_COLUMNS: Final = ("y", "resolved_at", "source", "reason")
_INTERVAL_ORDER: Final = ("30m", "1h")
_NAT: Final = np.iinfo(np.int64).min
_BOTH_NOTE: Final = "both barriers inside one bar: nearer barrier to its open taken"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A realised outcome: ``value`` in [0, 1] or ``None`` with ``reason``."""

    value: float | None
    source: str | None
    resolved_at: pd.Timestamp | None
    reason: str | None = None


@dataclass(slots=True)
class _Labels:
    """Outcomes as arrays: ``value`` NaN and ``source`` None where unknown."""

    value: np.ndarray
    resolved_ns: np.ndarray
    source: np.ndarray
    reason: np.ndarray

    @classmethod
    def empty(cls, n: int) -> _Labels:
        return cls(
            np.full(n, np.nan),
            np.full(n, _NAT, dtype=np.int64),
            np.full(n, None, dtype=object),
            np.full(n, None, dtype=object),
        )

    def put(self, idx: np.ndarray, other: _Labels, sel: np.ndarray | slice = slice(None)) -> None:
        self.value[idx] = other.value[sel]
        self.resolved_ns[idx] = other.resolved_ns[sel]
        self.source[idx] = other.source[sel]
        self.reason[idx] = other.reason[sel]


def label_contracts(
    store: Store, contracts: Sequence[Contract], *, venue: str | None = None
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
    labels = _label_columns(store, ContractColumns.from_contracts(contracts, venue=venue))
    return [
        Outcome(
            None if np.isnan(value) else float(value),
            source,
            None if when == _NAT else pd.Timestamp(int(when), tz="UTC"),
            reason,
        )
        for value, source, when, reason in zip(
            labels.value, labels.source, labels.resolved_ns.tolist(), labels.reason, strict=True
        )
    ]


def label_frame(store: Store, frame: pd.DataFrame, *, proxies: bool = True) -> pd.DataFrame:
    """Realised outcomes of a frame of contracts, row by row as ``label_contracts`` gives them.

    Parameters
    ----------
    store
        The dataset (read in full: this is the outcome reader).
    frame
        One contract per row, in the columns of a ``models.learned.contract_grid`` frame
        (``experiments.labels.columns`` lists them and their defaults).
    proxies
        False: label each row on its own source venue only, never on a proxy (as
        ``label_contracts(..., venue=source)`` does for each source).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``frame``: ``y`` (NaN when unknown), ``resolved_at`` (NaT when unknown),
        ``source`` (``venue:interval`` of the bars used) and ``reason`` (why unknown, or a note),
        both object columns holding None where empty.

    Raises
    ------
    ConfigError
        A missing column or a contract the ``Contract`` spec would refuse, naming column, rule,
        row and value.
    """
    labels = _label_columns(store, ContractColumns.from_frame(frame, proxies=proxies))
    resolved = pd.DatetimeIndex(labels.resolved_ns.view("datetime64[ns]")).tz_localize("UTC")
    return pd.DataFrame(
        {
            "y": labels.value,
            "resolved_at": resolved,
            "source": pd.Series(labels.source, index=frame.index, dtype=object),
            "reason": pd.Series(labels.reason, index=frame.index, dtype=object),
        },
        index=frame.index,
    )


def realised_outcome(contract: Contract, store: Store) -> Outcome:
    """Realised outcome of one contract (see ``label_contracts``)."""
    return label_contracts(store, [contract])[0]


# -- the rules, once --------------------------------------------------------------------------
def _label_columns(store: Store, cols: ContractColumns) -> _Labels:
    n = len(cols)
    out = _Labels.empty(n)
    done = np.zeros(n, dtype=bool)
    liquidations = cols.kind == Kind.LIQUIDATIONS_ABOVE.value
    for i in np.flatnonzero(liquidations):
        _liquidation_outcome(store, cols, int(i), out)
    done |= liquidations
    cache = BarCache(store)
    pending = np.flatnonzero(~liquidations)
    last_reason = np.full(n, None, dtype=object)
    for position in range(len(PROXY_VENUES) + 1):
        if pending.size == 0:
            break
        names = _venue_at(cols, position, pending)
        # A row whose candidate venues ran out leaves the search unlabelled.
        named = pending[names != ""]
        name_code, name_of = pd.factorize(names[names != ""])
        asset_code, asset_of = pd.factorize(cols.asset[named])
        group = name_code * len(asset_of) + asset_code
        still = []
        for code in np.unique(group):
            idx = named[group == code]
            name, asset = name_of[code // len(asset_of)], asset_of[code % len(asset_of)]
            result = _label_on_venue(cache, str(name), str(asset), cols, idx)
            known = ~np.isnan(result.value)
            out.put(idx[known], result, known)
            done[idx[known]] = True
            last_reason[idx[~known]] = result.reason[~known]
            still.append(idx[~known])
        pending = np.concatenate(still) if still else np.zeros(0, dtype=np.int64)
    for i in pending:
        out.reason[i] = last_reason[i] or "no candle source covers it"
    done[pending] = True
    out.reason[~done] = "unlabelled"
    return out


def _venue_at(cols: ContractColumns, position: int, idx: np.ndarray) -> np.ndarray:
    """The candle venue each row tries at ``position`` (``""`` when its list has run out): the
    forced venue alone, else the resolution source and then the proxies other than it."""
    forced, source = cols.forced[idx], cols.source[idx]
    if position == 0:
        return np.where(forced != "", forced, source)
    out = np.full(len(idx), "", dtype=object)
    free = forced == ""
    for name in pd.unique(source[free]):
        others = [v for v in PROXY_VENUES if v != name]
        if position - 1 < len(others):
            out[free & (source == name)] = others[position - 1]
    return out


def _label_on_venue(
    cache: BarCache, venue: str, asset: str, cols: ContractColumns, idx: np.ndarray
) -> _Labels:
    bars = None
    interval = None
    for candidate in _INTERVAL_ORDER:
        bars = cache.get(venue, asset, candidate)
        if bars is not None:
            interval = candidate
            break
    if bars is None:
        result = _Labels.empty(len(idx))
        result.reason[:] = f"window not covered by {venue} candles"
        return result
    result = _label_bars(bars, cols, idx)
    if interval == "30m":
        hourly = cache.get(venue, asset, "1h")
        redo = np.flatnonzero(np.isnan(result.value))
        if hourly is not None and redo.size:
            result.put(redo, _label_bars(hourly, cols, idx[redo]))
    return result


def _label_bars(bars: Bars, cols: ContractColumns, idx: np.ndarray) -> _Labels:
    n = len(idx)
    start_ns = cols.start_ns[idx]
    end_ns = cols.end_ns[idx]
    # An open-ended first_of is labelled up to the last bar we have.
    last_ns = bars.open_ns[-1] + bars.step_ns if len(bars.open_ns) else 0
    end_ns = np.where(end_ns == NO_END, last_ns, end_ns)
    i0, i1, complete = bars.window(start_ns, end_ns)
    source = f"{bars.venue}:{bars.interval}"
    out = _Labels.empty(n)
    out.resolved_ns[:] = end_ns
    s0 = bars.open[i0]
    s1 = bars.close[i1]
    kinds = cols.kind[idx]
    for kind in pd.unique(kinds[complete]):
        sel = np.flatnonzero((kinds == kind) & complete)
        rows = idx[sel]
        out.value[sel], out.resolved_ns[sel], notes = _kind_values(
            Kind(kind), cols, rows, bars, i0[sel], i1[sel], s0[sel], s1[sel], end_ns[sel]
        )
        out.reason[sel[notes]] = _BOTH_NOTE
    out.source[complete] = source
    out.reason[~complete] = f"window not covered by {source} bars"
    out.resolved_ns[~complete] = _NAT
    return out


def _kind_values(
    kind: Kind,
    cols: ContractColumns,
    rows: np.ndarray,
    bars: Bars,
    i0: np.ndarray,
    i1: np.ndarray,
    s0: np.ndarray,
    s1: np.ndarray,
    end_ns: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, resolution times and the rows flagged with ``_BOTH_NOTE`` of one kind."""
    close_ns = bars.close_ns
    none = np.zeros(len(rows), dtype=bool)
    if kind in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW):
        strike = cols.strike_usd[rows]
        above = s1 > strike if kind is Kind.CLOSE_ABOVE else s1 < strike
        return above.astype(float), end_ns, none
    if kind is Kind.RANGE:
        lower, upper = cols.lower_usd[rows], cols.upper_usd[rows]
        return ((s1 >= lower) & (s1 < upper)).astype(float), end_ns, none
    if kind is Kind.UP_DOWN:
        tie = cols.tie_value[rows]
        return np.where(s1 > s0, 1.0, np.where(s1 == s0, tie, 0.0)), end_ns, none
    if kind is Kind.TOUCH:
        strike = cols.strike_usd[rows]
        up = cols.direction[rows] == "up"
        discrete = cols.monitoring[rows] == Monitoring.DISCRETE.value
        values = np.zeros(len(rows))
        when = end_ns.copy()
        for is_up in (True, False):
            m = (up == is_up) & ~discrete
            if m.any():
                first = bars.first_reach(i0[m], i1[m], strike[m], up=is_up)
                values[m] = (first >= 0).astype(float)
                when[m] = np.where(first >= 0, close_ns[np.maximum(first, 0)], end_ns[m])
        for j in np.flatnonzero(discrete):
            every = int(cols.discrete_every_ns[rows[j]])
            steps = np.arange(i0[j], i1[j] + 1)
            obs = steps[(close_ns[steps] - close_ns[i0[j]]) % every == 0]
            closes = bars.close[obs]
            values[j] = float((closes >= strike[j]).any() if up[j] else (closes <= strike[j]).any())
        return values, when, none
    if kind is Kind.FIRST_OF:
        lower, upper = cols.lower_usd[rows], cols.upper_usd[rows]
        neither = cols.neither_value[rows]
        first_up = bars.first_reach(i0, i1, upper, up=True)
        first_dn = bars.first_reach(i0, i1, lower, up=False)
        big = np.iinfo(np.int64).max
        fu = np.where(first_up >= 0, first_up, big)
        fd = np.where(first_dn >= 0, first_dn, big)
        values = np.where(fu < fd, 1.0, np.where(fd < fu, 0.0, neither))
        both = (fu == fd) & (fu != big)
        if both.any():
            bar_open = bars.open[fu[both]]
            nearer_up = np.abs(upper[both] - bar_open) < np.abs(bar_open - lower[both])
            values[both] = np.where(nearer_up, 1.0, 0.0)
        first = np.minimum(fu, fd)
        when = np.where(first != big, close_ns[np.minimum(first, len(close_ns) - 1)], end_ns)
        return values, when, both
    if kind is Kind.MOVE:
        threshold = cols.threshold[rows]
        direction = cols.direction[rows]
        continuous = cols.monitoring[rows] == Monitoring.CONTINUOUS.value
        up_move = np.where(continuous, bars.hi_table.query(i0, i1), s1) / s0 - 1.0
        down_move = 1.0 - np.where(continuous, bars.lo_table.query(i0, i1), s1) / s0
        hit_up = up_move >= threshold
        hit_dn = down_move >= threshold
        values = np.where(
            direction == "up", hit_up, np.where(direction == "down", hit_dn, hit_up | hit_dn)
        ).astype(float)
        return values, end_ns, none
    raise DataError(f"kind {kind.value} cannot be labelled from candles")


def _liquidation_outcome(store: Store, cols: ContractColumns, i: int, out: _Labels) -> None:
    end_ns = int(cols.end_ns[i])
    if not store.has("liquidations") or end_ns == NO_END:
        out.reason[i] = "no liquidations table"
        return
    asset = str(cols.asset[i])
    sub = liquidation_buckets(store.read("liquidations"), asset)
    if sub.empty:
        out.reason[i] = f"no liquidations for {asset}"
        return
    start = pd.DatetimeIndex([pd.Timestamp(int(cols.start_ns[i]), tz="UTC")])
    end = pd.DatetimeIndex([pd.Timestamp(end_ns, tz="UTC")])
    total = float(window_sums(sub, start, end, [str(cols.side[i]) or "total"])[0])
    if not np.isfinite(total):
        out.reason[i] = "window not covered by the liquidations table"
        return
    threshold = cols.threshold[i]
    out.value[i] = float(total > float(threshold if np.isfinite(threshold) else 0.0))
    venue = str(sub["venue"].iloc[0]) if "venue" in sub.columns else "liquidations"
    out.source[i] = f"{venue}:liquidations"
    out.resolved_ns[i] = end_ns
