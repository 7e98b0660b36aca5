"""Observations of real prediction markets and the ``gbm`` forecast at each, point in time.

Markets
    Each market of the dataset is parsed from what it says before it resolves: question, rules,
    outcomes, ``created_at`` and ``end_date`` (``venue_market_from_row`` never passes
    ``resolved_at`` or ``winning_outcome``; the ``family`` column is not read here). A market
    without ``created_at`` is read against its first price observation, as ``parse --data`` does.

Observations
    One per (market, ts) of ``market_prices`` with ``available_at`` before the resolution time
    (``resolved_at``, else ``end_date``, else the parsed deadline) and before the contract's end,
    priced on the YES outcome (``yes_outcome``; ``1 - p`` of the other outcome of a binary market
    when only that price exists; a ``history`` point wins over a ``daily_close`` point at the same
    ts). The forecast time is the observation's ``available_at``.

Path to date
    From the contract's resolution source when the store has fresh hourly bars of it at every
    observation, else the first proxy of ``models.pricing.market_state.PROXY_VENUES`` with the most
    fresh
    observations (named in ``path_venue``). A touch or first-of barrier already reached in the
    bars closed by the observation makes the event visible: the observation is excluded. On a
    proxy, an extreme within ``BASIS_TOLERANCE`` of the strike is ambiguous and excluded too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError, UnsupportedContract
from levercast.features.prices import HourlySeries, highest_high, hourly_series
from levercast.features.timeutil import SECONDS_PER_YEAR
from levercast.markets.dataset import venue_market_from_row
from levercast.markets.questions.parser import Parsed, parse_market
from levercast.models.contracts import Contract, Kind, Monitoring
from levercast.models.pricing.gbm import gbm_probabilities
from levercast.models.pricing.market_state import PROXY_VENUES

__all__ = ["BASIS_TOLERANCE", "ObservationSet", "build_observations", "gbm_observation_probs"]

BASIS_TOLERANCE: Final = 0.001  # 10 bps: perpetual vs spot (dataset README: median 0.01 %)
_HOUR_NS: Final = 3_600 * 10**9


@dataclass(slots=True)
class ObservationSet:
    """Observations to score and what was left out.

    Attributes
    ----------
    obs
        One row per observation: ``market_id, family, kind, asset, t, quote_kind, prob_market,
        outcome, resolution_time, resolved_at``; ``contract`` indexes ``contracts``.
    contracts
        Parsed contracts, by market.
    excluded
        Reason -> observations left out.
    unsupported
        ``{"market_id", "reason"}`` of resolved markets with prices the parser refused.
    coverage
        ``resolved_with_prices`` and (filled later) ``evaluated`` market counts.
    """

    obs: pd.DataFrame
    contracts: dict[str, Contract]
    excluded: Counter[str] = field(default_factory=Counter)
    unsupported: list[dict[str, str]] = field(default_factory=list)
    coverage: dict[str, int] = field(default_factory=dict)


def _yes_quotes(rows: pd.DataFrame, yes: str, outcomes: tuple[str, ...]) -> pd.DataFrame:
    """One YES probability per ts: the YES row, else ``1 - p`` of the other binary outcome."""
    rows = rows.assign(rank=np.where(rows["kind"] == "history", 0, 1))
    yes_rows = rows[rows["outcome"] == yes].assign(prob=lambda f: f["price"])
    other = rows[rows["outcome"] != yes]
    if len(outcomes) == 2 and len(other):
        flipped = other.assign(prob=1.0 - other["price"])
        yes_rows = pd.concat([yes_rows.assign(side=0), flipped.assign(side=1)])
    else:
        yes_rows = yes_rows.assign(side=0)
    yes_rows = yes_rows.sort_values(["ts", "side", "rank"], kind="stable")
    return yes_rows.drop_duplicates("ts", keep="first")


def build_observations(store: Store) -> ObservationSet:
    """Parse every resolved market with prices and list its observations (module docstring)."""
    markets = store.read("markets")
    prices = store.as_of("market_prices", datetime.now(UTC))  # every quote known now
    by_market = {str(k): v for k, v in prices.groupby("market_id", sort=False)}
    lookup = partial(highest_high, store)
    out = ObservationSet(pd.DataFrame(), {})
    pieces = []
    resolved = markets[markets["winning_outcome"].notna()]
    resolved = resolved[resolved["market_id"].isin(list(by_market))]
    out.coverage["resolved_with_prices"] = len(resolved)
    for row in resolved.to_dict("records"):
        market = venue_market_from_row(row)
        rows = by_market[market.market_id]
        first = rows["ts"].min().to_pydatetime()
        reference = None if market.created_at is not None else first
        parsed = parse_market(market, reference_time=reference, ath_usd=lookup)
        if not isinstance(parsed, Parsed) or parsed.yes_outcome is None:
            reason = getattr(parsed, "reason", "no outcome label names the contract's event")
            out.unsupported.append({"market_id": market.market_id, "reason": reason})
            out.excluded["unsupported market"] += int(rows["ts"].nunique())
            continue
        contract = parsed.contract
        quotes = _yes_quotes(rows, parsed.yes_outcome, market.outcomes)
        out.excluded["no YES price at the ts"] += int(rows["ts"].nunique()) - len(quotes)
        cutoff = _resolution_time(row, contract)
        before = quotes["available_at"] < cutoff
        out.excluded["at or after the resolution time"] += int((~before).sum())
        quotes = quotes[before]
        if contract.end is not None:
            live = quotes["available_at"] < pd.Timestamp(contract.end)
            out.excluded["at or after the contract's end"] += int((~live).sum())
            quotes = quotes[live]
        if quotes.empty:
            continue
        out.contracts[market.market_id] = contract
        pieces.append(
            pd.DataFrame(
                {
                    "market_id": market.market_id,
                    "family": str(row.get("family") or ""),
                    "kind": contract.kind.value,
                    "asset": contract.asset,
                    "t": quotes["available_at"].to_numpy(),
                    "quote_kind": quotes["kind"].astype(str).to_numpy(),
                    "prob_market": quotes["prob"].to_numpy(float),
                    "outcome": float(str(row["winning_outcome"]) == parsed.yes_outcome),
                    "resolution_time": cutoff,
                    "resolved_at": row["resolved_at"],
                }
            )
        )
    obs = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    if len(obs):
        obs["t"] = pd.to_datetime(obs["t"], utc=True)
        obs = obs.sort_values(["t", "market_id"], kind="stable").reset_index(drop=True)
    out.obs = obs
    return out


def _resolution_time(row: dict[str, Any], contract: Contract) -> pd.Timestamp:
    for name in ("resolved_at", "end_date"):
        value = row.get(name)
        if value is not None and not pd.isna(value):
            return pd.Timestamp(value)
    if contract.end is not None:
        return pd.Timestamp(contract.end)
    return pd.Timestamp.max.tz_localize("UTC")


# -- the gbm forecast at each observation ------------------------------------------------------
class _SeriesCache:
    """Hourly series per (venue, asset) known by ``until`` (the last observation time); each is
    read point in time at every observation by ``HourlySeries.vol_at``."""

    def __init__(self, store: Store, until: pd.Timestamp) -> None:
        self.store = store
        self.until = until
        self._cache: dict[tuple[str, str], HourlySeries | None] = {}

    def get(self, venue: str, asset: str) -> HourlySeries | None:
        key = (venue, asset)
        if key not in self._cache:
            self._cache[key] = hourly_series(self.store, venue, asset, until=self.until)
        return self._cache[key]


def _choose(cache: _SeriesCache, contract: Contract, t_ns: np.ndarray) -> tuple[Any, ...] | None:
    order = [
        contract.resolution.source,
        *[v for v in PROXY_VENUES if v != contract.resolution.source],
    ]
    best = None
    for venue in order:
        series = cache.get(venue, contract.asset)
        if series is None:
            continue
        at = series.vol_at(t_ns)
        spot, vol, ok = at.spot_usd, at.vol_annual, at.usable
        if best is None or ok.sum() > best[3].sum():
            best = (series, spot, vol, ok)
        if ok.all():
            break
    return best


def _path(series: HourlySeries, start_ns: int, t_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Highest high and lowest low of bars opened at/after start and closed by each t."""
    inside = series.open_ns >= start_ns
    avail = series.available_ns[inside]
    if avail.size == 0:
        nan = np.full(len(t_ns), np.nan)
        return nan, nan
    hi = np.maximum.accumulate(series.high[inside])
    lo = np.minimum.accumulate(series.low[inside])
    i = np.searchsorted(avail, t_ns, side="right") - 1
    safe = np.clip(i, 0, None)
    return np.where(i >= 0, hi[safe], np.nan), np.where(i >= 0, lo[safe], np.nan)


def _start_price(series: HourlySeries, start_ns: int) -> float:
    exact = np.flatnonzero(series.open_ns == start_ns)
    if exact.size:
        return float(series.open[exact[0]])
    i = int(np.searchsorted(series.available_ns, start_ns, side="right")) - 1
    return float(series.close[i]) if i >= 0 else float("nan")


def gbm_observation_probs(
    store: Store, obs: pd.DataFrame, contracts: dict[str, Contract]
) -> tuple[pd.DataFrame, list[str | None]]:
    """Per observation: ``prob_gbm, path_venue, spot_usd, vol_annual, reference_usd`` (same
    index as ``obs``) and the exclusion reason (None: scored)."""
    n = len(obs)
    prob = np.full(n, np.nan)
    venue = np.full(n, "", dtype=object)
    spots = np.full(n, np.nan)
    vols = np.full(n, np.nan)
    refs = np.full(n, np.nan)
    reasons: list[str | None] = [None] * n
    until = pd.Timestamp(obs["t"].max()) if n else pd.Timestamp(0, tz="UTC")
    cache = _SeriesCache(store, until)
    for market_id, idx in obs.groupby("market_id", sort=False).indices.items():
        contract = contracts[str(market_id)]
        t = obs["t"].iloc[idx]
        t_ns = t.to_numpy("datetime64[ns]").view("int64")
        chosen = _choose(cache, contract, t_ns)
        if chosen is None:
            for i in idx:
                reasons[int(i)] = f"no {contract.asset} candles in the store"
            continue
        series, spot, vol, ok = chosen
        venue[idx] = series.venue
        spots[idx], vols[idx] = spot, vol
        p, why, refs[idx] = _market_probs(series, contract, t_ns, spot, vol)
        for j, i in enumerate(idx):
            if not ok[j]:
                reasons[int(i)] = "no fresh candles (with a week of returns) at the observation"
            elif why[j] == "slow":
                p[j], reasons[int(i)] = _slow_gbm(store, contract, t.iloc[j])
            elif why[j] is not None:
                reasons[int(i)] = why[j]
        prob[idx] = p
    inputs = pd.DataFrame(
        {
            "prob_gbm": prob,
            "path_venue": venue,
            "spot_usd": spots,
            "vol_annual": vols,
            "reference_usd": refs,
        },
        index=obs.index,
    )
    return inputs, reasons


def _slow_gbm(store: Store, contract: Contract, t: pd.Timestamp) -> tuple[float, str | None]:
    from levercast.models.pricing.price import price_contract
    from levercast.models.pricing.pricers import GBM

    try:
        return price_contract(contract, store.at(t), pricer=GBM).prob, None
    except (DataError, ConfigError, UnsupportedContract) as e:
        return float("nan"), f"gbm could not price it: {type(e).__name__}"


def _market_probs(
    series: HourlySeries,
    c: Contract,
    t_ns: np.ndarray,
    spot: np.ndarray,
    vol: np.ndarray,
) -> tuple[np.ndarray, list[str | None], np.ndarray]:
    """(prob, reason or "slow" per row, reference price: the window's start price once begun)."""
    n = len(t_ns)
    why: list[str | None] = [None] * n
    start_ns = int(pd.Timestamp(c.start).value)
    end_ns = int(pd.Timestamp(c.end).value) if c.end is not None else None
    left = (np.full(n, np.inf) if end_ns is None else (end_ns - t_ns) / 1e9) / SECONDS_PER_YEAR
    begun = t_ns >= start_ns
    tol = 0.0 if series.venue == c.resolution.source else BASIS_TOLERANCE
    kwargs: dict[str, Any] = {"t_years": left}
    ref = np.asarray(spot, dtype=float)
    if c.kind in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW):
        kwargs["strike_usd"] = c.strike_usd
    elif c.kind is Kind.RANGE:
        kwargs.update(lower_usd=c.lower_usd, upper_usd=c.upper_usd)
    elif c.kind is Kind.UP_DOWN:
        window = (end_ns - start_ns) / 1e9 / SECONDS_PER_YEAR if end_ns is not None else np.inf
        ref = np.where(begun, _start_price(series, start_ns), spot)
        kwargs.update(reference_usd=ref, t_years=np.where(begun, left, window))
    elif c.kind in (Kind.TOUCH, Kind.FIRST_OF) and c.monitoring_rule is Monitoring.CONTINUOUS:
        high, low = _path(series, start_ns, t_ns)
        levels = (
            [(c.strike_usd, c.direction == "up")]
            if c.kind is Kind.TOUCH
            else [
                (c.upper_usd, True),
                (c.lower_usd, False),
            ]
        )
        for j in range(n):
            if not begun[j]:
                why[j] = "slow"
                continue
            for level, up in levels:
                assert level is not None
                extreme = high[j] if up else low[j]
                if not np.isfinite(extreme):
                    continue
                beyond = extreme >= level * (1 + tol) if up else extreme <= level * (1 - tol)
                near = extreme >= level * (1 - tol) if up else extreme <= level * (1 + tol)
                if beyond:
                    why[j] = "event already visible in the resolution source's data (touch hit)"
                elif near and why[j] is None:
                    why[j] = "extreme within the proxy venue's basis tolerance of the strike"
        if c.kind is Kind.TOUCH:
            kwargs.update(strike_usd=c.strike_usd, direction=c.direction or "")
        else:
            kwargs.update(lower_usd=c.lower_usd, upper_usd=c.upper_usd)
            kwargs["neither_value"] = c.neither_value
    else:
        return np.full(n, np.nan), ["slow"] * n, ref
    prob = gbm_probabilities(c.kind.value, spot, np.where(np.isfinite(vol), vol, np.nan), **kwargs)
    return prob, why, ref
