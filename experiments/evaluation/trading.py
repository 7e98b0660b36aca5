"""The edge rule ``evaluate`` simulates on top of the forecasts: trades, PnL per dollar with a
cluster-bootstrap interval, per family, with the venue's fees of the trade's date.

A signal at an observation when ``p_lo - ask_yes - fee(ask_yes) > min_edge`` (buy YES) or
``(1 - p_hi) - ask_no - fee(ask_no) > min_edge`` (buy NO), with ``ask = price + half_spread``
and ``[p_lo, p_hi]`` the forecast's 90 % band when it has one (``prob_lo``/``prob_hi``
columns: an edge must clear the forecast's own uncertainty too), else ``p_lo = p_hi = p``.
The trade enters at the market's next quote after the signal (never the signal's own), only
when that quote is at most ``max_quote_gap`` after the signal (never a stale quote); one $1
position per market, held to resolution.

Costs of the entry:

- spread: the last archived book of the market known at the entry (``books`` table, within the
  same gap) when one exists: buy YES at its best ask, NO at ``1 -`` its best bid; else the
  quoted price plus ``half_spread`` (an assumed typical Polymarket crypto half-spread of one
  cent), capped at 0.999. ``spread_source`` counts both.
- fee: ``fee_rate x p (1 - p)`` per share when ``fee_rate`` is given; by default (None) the
  venue's schedule in force for that market on that UTC day (``markets.fees.fees_for_market``:
  all schedule boundaries are at 00:00 UTC, so a per-day lookup is exact), with the market's
  own fee fields where it has them and its cadence inferred from an up/down window (5m, 15m,
  hourly, daily) when the market does not say. ``fees.entries`` counts the schedule rows used.

``pnl_per_dollar_ci90`` resamples markets (one trade each); ``pnl_per_dollar_ci90_families``
resamples families (ladder rungs share one price path, so a family is the more honest unit),
both widened for few clusters (``experiments.evaluation.uncertainty``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from levercast.experiments.evaluation.uncertainty import cluster_mean
from levercast.features.errors import ConfigError
from levercast.markets.books import mirror_book
from levercast.markets.dataset import books_from_rows
from levercast.markets.fees import FeeModel, PolymarketFees, fees_for_market, schedule_for
from levercast.markets.types import Venue, VenueMarket
from levercast.models.contracts import Contract, Kind

__all__ = ["TradingRule", "infer_cadence", "simulate_trading"]

_CADENCES = {timedelta(minutes=5): "5m", timedelta(minutes=15): "15m"}
_CADENCES.update({timedelta(hours=1): "hourly", timedelta(days=1): "daily"})


@dataclass(frozen=True, slots=True)
class TradingRule:
    """The edge rule's settings (see module docstring); ``fee_rate`` None: the schedule."""

    min_edge: float = 0.02
    half_spread: float = 0.01
    fee_rate: float | None = None
    max_gap_daily_secs: float = 26 * 3600.0
    max_gap_intraday_secs: float = 2 * 3600.0

    def __post_init__(self) -> None:
        for name in ("min_edge", "half_spread", "fee_rate"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be within [0, 1); found {value}")


def infer_cadence(contract: Contract | None) -> str | None:
    """``5m``/``15m``/``hourly``/``daily`` for an up/down window of that length, else None."""
    if contract is None or contract.kind is not Kind.UP_DOWN or contract.end is None:
        return None
    return _CADENCES.get(contract.end - contract.start)


def _fee_markets(
    obs: pd.DataFrame,
    markets: Mapping[str, VenueMarket] | None,
    contracts: Mapping[str, Contract] | None,
) -> dict[str, VenueMarket]:
    out = {}
    for market_id in obs["market_id"].unique():
        key = str(market_id)
        market = (markets or {}).get(key) or VenueMarket(Venue.POLYMARKET, key, "")
        if market.cadence is None:
            market = replace(market, cadence=infer_cadence((contracts or {}).get(key)))
        out[key] = market
    return out


_FeeGroups = list[tuple[np.ndarray, FeeModel | None, str]]


def _fee_groups(
    frame: pd.DataFrame, rule: TradingRule, fee_markets: dict[str, VenueMarket]
) -> _FeeGroups:
    """The fee model and schedule row id of each (market, UTC day) of ``frame``, with its rows
    (one group of every row, model None, under a fixed ``rule.fee_rate``)."""
    if rule.fee_rate is not None:
        return [(np.arange(len(frame)), None, "fixed rate")]
    out: _FeeGroups = []
    days = frame["t"].dt.floor("D")
    for (market_id, day), idx in frame.groupby([frame["market_id"], days]).indices.items():
        market = fee_markets[str(market_id)]
        at = pd.Timestamp(day).to_pydatetime()
        model = fees_for_market(market, at=at)
        venue_category = "*" if market.venue == Venue.KALSHI else market.category or "crypto"
        row = schedule_for(market.venue, venue_category, at, cadence=market.cadence)
        out.append((idx, model, row.id))
    return out


def _fees(
    groups: _FeeGroups, price: np.ndarray, rule: TradingRule
) -> tuple[np.ndarray, np.ndarray]:
    """Taker fee per share at ``price`` for each row, and the schedule row id used."""
    if rule.fee_rate is not None:
        return rule.fee_rate * price * (1 - price), np.full(len(price), "fixed rate", object)
    fee = np.zeros(len(price))
    entry = np.full(len(price), "", dtype=object)
    for idx, model, row_id in groups:
        entry[idx] = row_id
        p = price[idx]
        if isinstance(model, PolymarketFees):
            core = model.rate * (p * (1 - p)) ** model.exponent
            fee[idx] = core * p if model.formula == "polymarket_v0" else core
        elif model is not None:
            fee[idx] = [model.taker_fee_usd(float(x), 1.0) for x in p]
    return fee, entry


def _book_prices(
    books: pd.DataFrame | None, market_id: str, yes: str, t: pd.Timestamp, gap_secs: float
) -> tuple[float, float] | None:
    """(YES ask, NO ask) from the last archived book known at ``t``, or None."""
    if books is None or books.empty:
        return None
    rows = books[(books["market_id"] == market_id) & (books["available_at"] <= t)]
    rows = rows[rows["ts"] >= t - pd.Timedelta(seconds=gap_secs)]
    if rows.empty:
        return None
    last = rows[rows["ts"] == rows["ts"].max()]
    for book in books_from_rows(last):
        if book.outcome != yes:
            book = mirror_book(book, yes)
        if book.best_ask is not None and book.best_bid is not None:
            return book.best_ask, 1.0 - book.best_bid
    return None


def _entries(frame: pd.DataFrame, rule: TradingRule) -> tuple[list[tuple[int, int, bool]], int]:
    """(signal row, entry row, buy YES) per market with a signal, and the stale skips."""
    out = []
    stale = 0
    for _, idx in frame.groupby("market_id", sort=True).indices.items():
        edge = np.maximum(frame["edge_yes"].to_numpy()[idx], frame["edge_no"].to_numpy()[idx])
        hits = np.flatnonzero(edge > rule.min_edge)
        if hits.size == 0 or hits[0] + 1 >= len(idx):
            continue
        sig, entry = int(idx[hits[0]]), int(idx[hits[0] + 1])
        gap = (frame["t"].iloc[entry] - frame["t"].iloc[sig]).total_seconds()
        daily = frame["quote_kind"].iloc[sig] == "daily_close"
        if gap > (rule.max_gap_daily_secs if daily else rule.max_gap_intraday_secs):
            stale += 1
            continue
        buy_yes = bool(frame["edge_yes"].iloc[sig] >= frame["edge_no"].iloc[sig])
        out.append((sig, entry, buy_yes))
    return out, stale


def simulate_trading(
    obs: pd.DataFrame,
    p_model: np.ndarray,
    rule: TradingRule,
    *,
    markets: Mapping[str, VenueMarket] | None = None,
    contracts: Mapping[str, Contract] | None = None,
    books: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Trades of the edge rule (module docstring).

    Parameters
    ----------
    obs
        ``market_id, t, quote_kind, prob_market, outcome`` (optional ``family``,
        ``yes_outcome``, ``prob_lo``, ``prob_hi``).
    p_model
        The forecast per row.
    rule
        The rule's settings.
    markets, contracts
        Venue markets (fee fields, category, cadence) and parsed contracts by id; missing ones
        are read as Polymarket crypto markets.
    books
        Rows of the ``books`` table (known now), or None.
    seed
        Bootstrap seed.
    """
    frame = obs.assign(p=np.asarray(p_model, dtype=float)).sort_values(
        ["market_id", "t"], kind="stable"
    )
    frame = frame.reset_index(drop=True)
    fee_markets = _fee_markets(frame, markets, contracts)
    price = frame["prob_market"].to_numpy(float)
    ask_yes = np.minimum(price + rule.half_spread, 0.999)
    ask_no = np.minimum(1.0 - price + rule.half_spread, 0.999)
    groups = _fee_groups(frame, rule, fee_markets)  # resolved once for both sides
    fee_yes, entry_ids = _fees(groups, ask_yes, rule)
    fee_no, _ = _fees(groups, ask_no, rule)
    p = frame["p"].to_numpy(float)
    lo = frame["prob_lo"].to_numpy(float) if "prob_lo" in frame else p
    hi = frame["prob_hi"].to_numpy(float) if "prob_hi" in frame else p
    frame = frame.assign(edge_yes=lo - ask_yes - fee_yes, edge_no=(1 - hi) - ask_no - fee_no)
    signals, stale = _entries(frame, rule)
    trades = []
    sources: Counter[str] = Counter()
    schedule_rows: Counter[str] = Counter()
    assumed = f"assumed half-spread {rule.half_spread:g}"
    for _, entry, buy_yes in signals:
        row = frame.iloc[entry]
        gap = rule.max_gap_intraday_secs
        yes_label = str(row["yes_outcome"]) if "yes_outcome" in frame else "Yes"
        booked = _book_prices(books, str(row["market_id"]), yes_label, row["t"], gap)
        if booked is not None:
            ask = booked[0] if buy_yes else booked[1]
            one = _fee_groups(frame.iloc[[entry]], rule, fee_markets)
            fee = _fees(one, np.array([ask]), rule)[0][0]
            sources["archived book"] += 1
        else:
            ask = float(ask_yes[entry] if buy_yes else ask_no[entry])
            fee = float(fee_yes[entry] if buy_yes else fee_no[entry])
            sources[assumed] += 1
        schedule_rows[str(entry_ids[entry])] += 1
        won = bool(row["outcome"] == 1.0) if buy_yes else bool(row["outcome"] == 0.0)
        cost = ask + fee
        trades.append(
            {
                "t": row["t"],
                "market_id": row["market_id"],
                "family": row.get("family", row["market_id"]) or row["market_id"],
                "pnl": (1.0 / cost if won else 0.0) - 1.0,
                "won": won,
            }
        )
    return _summary(trades, stale, sources, schedule_rows, rule, seed)


def _summary(
    trades: list[dict[str, Any]],
    stale: int,
    sources: Counter[str],
    schedule_rows: Counter[str],
    rule: TradingRule,
    seed: int,
) -> dict[str, Any]:
    fee_text = (
        f"{rule.fee_rate} * p * (1 - p) per share (fixed rate)"
        if rule.fee_rate is not None
        else "the venue's schedule for the market and UTC day (markets.fees.fees_for_market)"
    )
    out: dict[str, Any] = {
        "trades": len(trades),
        "hit_rate": None,
        "pnl_per_dollar": None,
        "pnl_per_dollar_ci90": [None, None],
        "pnl_per_dollar_ci90_families": [None, None],
        "pnl_usd": 0.0,
        "max_drawdown_usd": 0.0,
        "skipped_stale_quote": stale,
        "spread_source": dict(sources),
        "fees": {"rule": fee_text, "entries": dict(schedule_rows)},
        "by_family": [],
        "assumptions": {
            "stake_usd_per_trade": 1.0,
            "half_spread": rule.half_spread,
            "fee": fee_text,
            "min_edge": rule.min_edge,
            "entry": "next quote of the market after the signal; one position per market",
            "signal": "edge at the pessimistic end of the forecast's 90 % band when it has one",
            "max_quote_gap_secs": {
                "daily_close": rule.max_gap_daily_secs,
                "history": rule.max_gap_intraday_secs,
            },
        },
    }
    if not trades:
        return out
    book = pd.DataFrame(trades).sort_values("t", kind="stable")
    pnl = book["pnl"].to_numpy(float)
    equity = np.cumsum(pnl)
    peak = np.maximum.accumulate(np.concatenate([[0.0], equity]))[1:]
    by_market = cluster_mean(pnl, book["market_id"].astype(str), seed=seed)
    by_family = cluster_mean(pnl, book["family"].astype(str), seed=seed)
    out.update(
        hit_rate=float(book["won"].mean()),
        pnl_per_dollar=float(pnl.mean()),
        pnl_per_dollar_ci90=by_market["ci90"],
        pnl_per_dollar_ci90_families=by_family["ci90"],
        pnl_usd=float(pnl.sum()),
        max_drawdown_usd=float(np.max(peak - equity)),
    )
    for family, part in book.groupby("family", sort=True):
        est = cluster_mean(part["pnl"], part["market_id"].astype(str), seed=seed)
        out["by_family"].append(
            {
                "family": str(family),
                "trades": len(part),
                "pnl_per_dollar": est["value"],
                "ci90": est["ci90"],
            }
        )
    return out
