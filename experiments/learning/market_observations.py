"""Observations of real prediction markets and the ``gbm`` forecast at each, point in time.

The history the market-aware forecast learns from (``experiments.learning.market_aware``) and
what ``evaluate`` scores: it lives here, below both evaluation and scanning, because a replay or
live scan refits on the markets resolved before its time too.

Markets
    Each market of the dataset is parsed from what it says before it resolves: question, rules,
    outcomes, ``created_at`` and ``end_date`` (``venue_market_from_row`` never passes
    ``resolved_at`` or ``winning_outcome``; the ``family`` column is carried for grouping only).
    A market without ``created_at`` is read against its first price observation, as ``parse
    --data`` does.

Observations
    One per (market, ts) of ``market_prices`` with ``available_at`` before the resolution time
    (``resolved_at``, else ``end_date``, else the parsed deadline) and before the contract's end,
    priced on the YES outcome (``yes_outcome``; ``1 - p`` of the other outcome of a binary market
    when only that price exists; a ``history`` point wins over a ``daily_close`` point at the same
    ts). The forecast time is the observation's ``available_at``. A market still quoted more than
    ``PARSE_SLACK`` after its parsed end (and not resolved by then) is unsupported: its parse
    contradicts the venue (a "by December 31?" read in the wrong year). ``known_at`` is when the
    outcome was certainly public: ``resolved_at``, else the resolution time plus
    ``KNOWN_AFTER_DEADLINE`` (15-minute and cache-only markets carry no ``resolved_at``).

Path to date
    From the contract's resolution source when the store has fresh hourly bars of it at every
    observation, else the first proxy of ``models.pricing.market_state.PROXY_VENUES`` with the most
    fresh observations (named in ``path_venue``). A touch or first-of barrier reached in the bars
    closed by the observation decides the event: the observation is excluded ("event already
    decided at T", a legitimate exclusion). On a proxy, an extreme within ``BASIS_TOLERANCE`` of a
    barrier is ambiguous. It is never dropped (that would depend on how the market resolved):
    the resolution source's own fresh bars decide it when the store has them; else the touch is
    priced as uncertain, ``P(hit) = Phi(log(extreme / barrier) / BASIS_SD)`` from the basis between
    the proxy and the source, and the forecast is ``P(hit) + (1 - P(hit)) p_gbm``
    (``prob_hit_to_date``; ``ambiguity`` names what was done).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.stats import norm

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError, UnsupportedContract
from levercast.features.prices import MAX_AGE, HourlySeries, highest_high, hourly_series
from levercast.features.timeutil import SECONDS_PER_YEAR
from levercast.markets.dataset import venue_market_from_row
from levercast.markets.questions.parser import Parsed, parse_market
from levercast.markets.types import VenueMarket
from levercast.models.contracts import Contract, Kind, Monitoring
from levercast.models.pricing.gbm import gbm_probabilities
from levercast.models.pricing.market_state import PROXY_VENUES

__all__ = [
    "BASIS_SD",
    "BASIS_TOLERANCE",
    "DECIDED",
    "KNOWN_AFTER_DEADLINE",
    "ObservationSet",
    "build_observations",
    "gbm_observation_probs",
    "scored_observations",
]

BASIS_TOLERANCE: Final = 0.001  # 10 bps: perpetual vs spot (dataset README: median 0.01 %)
BASIS_SD: Final = 0.0005  # the tolerance is two standard deviations of the basis
KNOWN_AFTER_DEADLINE: Final = pd.Timedelta(days=1)
PARSE_SLACK: Final = pd.Timedelta(days=2)
DECIDED: Final = "event already decided at T (barrier reached in bars closed by T)"
_HOUR_NS: Final = 3_600 * 10**9


@dataclass(slots=True)
class ObservationSet:
    """Observations to score and what was left out.

    Attributes
    ----------
    obs
        One row per observation: ``market_id, family, kind, asset, t, quote_ts, quote_kind,
        prob_market, yes_outcome, outcome, resolution_time, resolved_at, known_at``.
    contracts
        Parsed contracts, by market.
    markets
        The venue markets (as the parser saw them), by market.
    excluded
        Reason -> observations left out.
    unsupported
        ``{"market_id", "reason"}`` of resolved markets with prices the parser refused.
    coverage
        ``resolved_with_prices`` and (filled later) ``evaluated`` market counts.
    """

    obs: pd.DataFrame
    contracts: dict[str, Contract]
    markets: dict[str, VenueMarket] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)
    unsupported: list[dict[str, str]] = field(default_factory=list)
    coverage: dict[str, int] = field(default_factory=dict)


def _yes_quotes(rows: pd.DataFrame, yes: str, outcomes: tuple[str, ...]) -> pd.DataFrame:
    """One YES probability per ts: the YES row, else ``1 - p`` of the other binary outcome
    (``prob``); at one ts a ``history`` point wins over a ``daily_close`` point of the same side.

    On arrays (a stable sort by ts, side, rank, then the first row of each ts): once per market
    of ``evaluate`` and the market-aware fits, where the frame version cost 7 ms a market."""
    is_yes = (rows["outcome"] == yes).to_numpy(bool)
    rank = np.where(rows["kind"] == "history", 0, 1)
    price = rows["price"].to_numpy(float)
    take = np.flatnonzero(is_yes)
    side = np.zeros(take.size, np.int8)
    if len(outcomes) == 2 and not is_yes.all():
        other = np.flatnonzero(~is_yes)
        take = np.concatenate([take, other])
        side = np.concatenate([side, np.ones(other.size, np.int8)])
    ts = rows["ts"].to_numpy("datetime64[ns]").view("int64")[take]
    order = np.lexsort((rank[take], side, ts))  # stable: ties keep YES rows, then row order
    first = np.ones(order.size, bool)
    first[1:] = ts[order[1:]] != ts[order[:-1]]
    chosen = order[first]
    prob = np.where(side[chosen] == 0, price[take[chosen]], 1.0 - price[take[chosen]])
    return rows.iloc[take[chosen]].assign(prob=prob)


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
        contradiction = _contradicted(contract, rows, row.get("resolved_at"))
        if contradiction is not None:
            out.unsupported.append({"market_id": market.market_id, "reason": contradiction})
            out.excluded["unsupported market"] += int(rows["ts"].nunique())
            continue
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
        out.markets[market.market_id] = market
        pieces.append(
            pd.DataFrame(
                {
                    "market_id": market.market_id,
                    "family": str(row.get("family") or ""),
                    "kind": contract.kind.value,
                    "asset": contract.asset,
                    "t": quotes["available_at"].to_numpy(),
                    "quote_ts": quotes["ts"].to_numpy(),
                    "quote_kind": quotes["kind"].astype(str).to_numpy(),
                    "prob_market": quotes["prob"].to_numpy(float),
                    "yes_outcome": parsed.yes_outcome,
                    "outcome": float(str(row["winning_outcome"]) == parsed.yes_outcome),
                    "resolution_time": cutoff,
                    "resolved_at": row["resolved_at"],
                    "known_at": _known_at(row["resolved_at"], cutoff),
                }
            )
        )
    obs = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    if len(obs):
        for column in ("t", "quote_ts", "resolved_at", "known_at"):
            obs[column] = pd.to_datetime(obs[column], utc=True)
        obs = obs.sort_values(["t", "market_id"], kind="stable").reset_index(drop=True)
    out.obs = obs
    return out


def scored_observations(store: Store) -> ObservationSet:
    """``build_observations`` with the ``gbm`` inputs joined (``gbm_observation_probs``) and the
    excluded observations dropped, each counted by reason in ``excluded`` (a ``gbm`` that
    returned no probability is counted too, never dropped silently)."""
    sets = build_observations(store)
    if sets.obs.empty:
        return sets
    inputs, reasons = gbm_observation_probs(store, sets.obs, sets.contracts)
    obs = pd.concat([sets.obs, inputs], axis=1)
    finite = np.isfinite(obs["prob_gbm"].to_numpy())
    for reason, ok in zip(reasons, finite, strict=True):
        if reason is not None:
            sets.excluded[reason] += 1
        elif not ok:
            sets.excluded["gbm returned no probability"] += 1
    keep = np.array([r is None for r in reasons]) & finite
    sets.obs = obs[keep].reset_index(drop=True)
    return sets


def _contradicted(contract: Contract, rows: pd.DataFrame, resolved_at: Any) -> str | None:
    """Why the parsed deadline cannot be right, or None: the venue kept quoting the market more
    than ``PARSE_SLACK`` past it (and it had not resolved by then, so these are not
    post-resolution prints). Uses the quotes' span only, never the outcome."""
    if contract.end is None:
        return None
    limit = pd.Timestamp(contract.end) + PARSE_SLACK
    last = pd.Timestamp(rows["ts"].max())
    resolved = resolved_at is not None and not pd.isna(resolved_at) and resolved_at <= limit
    if last <= limit or resolved:
        return None
    return (
        f"parsed end {contract.end:%Y-%m-%d} contradicted by the market's own quotes "
        f"(quoted until {last:%Y-%m-%d}): the question's date was read in the wrong period"
    )


def _known_at(resolved_at: Any, cutoff: pd.Timestamp) -> pd.Timestamp:
    """When the outcome was certainly public (module docstring); NaT when unknown."""
    if resolved_at is not None and not pd.isna(resolved_at):
        return pd.Timestamp(resolved_at)
    if cutoff >= pd.Timestamp.max.tz_localize("UTC") - KNOWN_AFTER_DEADLINE:
        return pd.NaT
    return cutoff + KNOWN_AFTER_DEADLINE


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
    """Per observation: ``prob_gbm, path_venue, spot_usd, vol_annual, reference_usd,
    prob_hit_to_date, ambiguity`` (same index as ``obs``) and the exclusion reason (None:
    scored)."""
    n = len(obs)
    out = {
        "prob_gbm": np.full(n, np.nan),
        "path_venue": np.full(n, "", dtype=object),
        "spot_usd": np.full(n, np.nan),
        "vol_annual": np.full(n, np.nan),
        "reference_usd": np.full(n, np.nan),
        "prob_hit_to_date": np.full(n, np.nan),
        "ambiguity": np.full(n, "", dtype=object),
    }
    reasons: list[str | None] = [None] * n
    until = pd.Timestamp(obs["t"].max()) if n else pd.Timestamp(0, tz="UTC")
    cache = _SeriesCache(store, until)
    slow: dict[pd.Timestamp, list[tuple[int, Contract]]] = {}  # priced one view per time
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
        out["path_venue"][idx] = series.venue
        out["spot_usd"][idx], out["vol_annual"][idx] = spot, vol
        source = None
        if series.venue != contract.resolution.source:
            source = cache.get(contract.resolution.source, contract.asset)
        priced = _market_probs(series, contract, t_ns, spot, vol, source=source)
        p = priced.prob
        out["reference_usd"][idx] = priced.reference
        out["prob_hit_to_date"][idx] = priced.hit
        out["ambiguity"][idx] = priced.ambiguity
        for j, i in enumerate(idx):
            if not ok[j]:
                reasons[int(i)] = "no fresh candles (with a week of returns) at the observation"
            elif priced.why[j] == "slow":
                slow.setdefault(t.iloc[j], []).append((int(i), contract))
            elif priced.why[j] is not None:
                reasons[int(i)] = priced.why[j]
        out["prob_gbm"][idx] = p
    for t_obs, rows in slow.items():
        for i, prob, reason in _slow_gbm(store, t_obs, rows):
            out["prob_gbm"][i], reasons[i] = prob, reason
    return pd.DataFrame(out, index=obs.index), reasons


def _slow_gbm(
    store: Store, t: pd.Timestamp, rows: list[tuple[int, Contract]]
) -> list[tuple[int, float, str | None]]:
    """``price_contract`` by ``gbm`` of the contracts observed at ``t`` (row, prob, reason).

    One store view for all of them: a view keeps the slices and spot/vol it has read, so the
    contracts of one observation time share them (the shared data's 487 forward-start touches
    at 49 times: 0.56 s instead of 2.2 s with a view per row, the same probabilities)."""
    from levercast.models.pricing.price import price_contract
    from levercast.models.pricing.pricers import GBM

    view = store.at(t)
    out: list[tuple[int, float, str | None]] = []
    for i, contract in rows:
        try:
            out.append((i, price_contract(contract, view, pricer=GBM).prob, None))
        except (DataError, ConfigError, UnsupportedContract) as e:
            out.append((i, float("nan"), f"gbm could not price it: {type(e).__name__}"))
    return out


@dataclass(frozen=True, slots=True)
class _Priced:
    prob: np.ndarray
    why: list[str | None]
    reference: np.ndarray
    hit: np.ndarray
    ambiguity: np.ndarray


def _source_path(
    source: HourlySeries | None, start_ns: int, t_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The resolution source's own path at each t, and whether it covers the window fresh."""
    n = len(t_ns)
    if source is None or source.open_ns.size == 0:
        return np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool)
    high, low = _path(source, start_ns, t_ns)
    last = source.vol_at(t_ns).last_available_ns
    covers = source.open_ns.min() <= start_ns
    fresh = covers & (last >= 0) & (t_ns - last <= int(MAX_AGE.total_seconds() * 1e9))
    return high, low, fresh & np.isfinite(high)


def _barrier_probs(
    series: HourlySeries,
    c: Contract,
    t_ns: np.ndarray,
    begun: np.ndarray,
    source: HourlySeries | None,
) -> tuple[list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    """Touch / first_of path to date: (reason or "slow", P(upper hit), P(lower hit), what was
    done) per row; the probabilities are those of a hit already made (module docstring)."""
    n = len(t_ns)
    start_ns = int(pd.Timestamp(c.start).value)
    why: list[str | None] = [None if b else "slow" for b in begun]
    hit_up, hit_down = np.zeros(n), np.zeros(n)
    ambiguity = np.full(n, "", dtype=object)
    tol = 0.0 if series.venue == c.resolution.source else BASIS_TOLERANCE
    high, low = _path(series, start_ns, t_ns)
    src_high, src_low, src_fresh = _source_path(source, start_ns, t_ns)
    if c.kind is Kind.TOUCH:
        assert c.strike_usd is not None
        levels = [(c.strike_usd, c.direction == "up")]
    else:
        assert c.upper_usd is not None and c.lower_usd is not None
        levels = [(c.upper_usd, True), (c.lower_usd, False)]
    for level, up in levels:
        extreme = high if up else low
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.log(extreme / level) if up else np.log(level / extreme)
        beyond = np.isfinite(gap) & (gap >= np.log1p(tol) if up else gap >= -np.log1p(-tol))
        near = np.isfinite(gap) & ~beyond & (gap >= np.log1p(-tol) if up else gap >= -np.log1p(tol))
        src_extreme = src_high if up else src_low
        src_hit = (src_extreme >= level) if up else (src_extreme <= level)
        target = hit_up if up else hit_down
        for j in np.flatnonzero(begun):
            if beyond[j]:
                why[j] = DECIDED
            elif near[j] and src_fresh[j]:
                if src_hit[j]:
                    why[j] = DECIDED
                ambiguity[j] = "decided by the resolution source's own bars"
            elif near[j]:
                target[j] = float(norm.cdf(gap[j] / BASIS_SD))
                ambiguity[j] = "priced: P(barrier already hit) from the proxy's basis"
    return why, hit_up, hit_down, ambiguity


def _market_probs(
    series: HourlySeries,
    c: Contract,
    t_ns: np.ndarray,
    spot: np.ndarray,
    vol: np.ndarray,
    *,
    source: HourlySeries | None = None,
) -> _Priced:
    """Prices, reasons ("slow": price through ``price_contract``), the reference price (the
    window's start price once begun) and the path-to-date hit probability of each row."""
    n = len(t_ns)
    why: list[str | None] = [None] * n
    start_ns = int(pd.Timestamp(c.start).value)
    end_ns = int(pd.Timestamp(c.end).value) if c.end is not None else None
    left = (np.full(n, np.inf) if end_ns is None else (end_ns - t_ns) / 1e9) / SECONDS_PER_YEAR
    begun = t_ns >= start_ns
    kwargs: dict[str, Any] = {"t_years": left}
    ref = np.asarray(spot, dtype=float)
    hit = np.full(n, np.nan)
    ambiguity = np.full(n, "", dtype=object)
    if c.kind in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW):
        kwargs["strike_usd"] = c.strike_usd
    elif c.kind is Kind.RANGE:
        kwargs.update(lower_usd=c.lower_usd, upper_usd=c.upper_usd)
    elif c.kind is Kind.UP_DOWN:
        window = (end_ns - start_ns) / 1e9 / SECONDS_PER_YEAR if end_ns is not None else np.inf
        ref = np.where(begun, _start_price(series, start_ns), spot)
        kwargs.update(reference_usd=ref, t_years=np.where(begun, left, window))
    elif c.kind in (Kind.TOUCH, Kind.FIRST_OF) and c.monitoring_rule is Monitoring.CONTINUOUS:
        why, hit_up, hit_down, ambiguity = _barrier_probs(series, c, t_ns, begun, source)
        if c.kind is Kind.TOUCH:
            kwargs.update(strike_usd=c.strike_usd, direction=c.direction or "")
            hit = np.where(ambiguity != "", hit_up + hit_down, np.nan)
        else:
            kwargs.update(lower_usd=c.lower_usd, upper_usd=c.upper_usd)
            kwargs["neither_value"] = c.neither_value
            hit = np.where(ambiguity != "", hit_up, np.nan)
    else:
        return _Priced(np.full(n, np.nan), ["slow"] * n, ref, hit, ambiguity)
    prob = gbm_probabilities(c.kind.value, spot, np.where(np.isfinite(vol), vol, np.nan), **kwargs)
    if c.kind is Kind.TOUCH:
        q = np.nan_to_num(hit, nan=0.0)
        prob = q + (1.0 - q) * prob
    elif c.kind is Kind.FIRST_OF:
        q_up, q_down = np.nan_to_num(hit, nan=0.0), np.where(ambiguity != "", hit_down, 0.0)
        rest = np.clip(1.0 - q_up - q_down, 0.0, 1.0)
        prob = np.clip(q_up + rest * prob, 0.0, 1.0)
    return _Priced(prob, why, ref, hit, ambiguity)
