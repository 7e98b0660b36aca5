"""The edge rule ``evaluate`` simulates on top of the forecasts: trades, hit rate, PnL, drawdown.

A signal at an observation when ``p_model - ask_yes - fee(ask_yes) > min_edge`` (buy YES) or the
mirror for NO. The trade enters at the market's next quote after the signal, paying that quote's
ask plus the venue fee, only when that quote is at most ``max_quote_gap`` after the signal (never
a stale quote); one $1 position per market, held to resolution. The dataset has no order books:
the ask is the quoted price plus ``half_spread`` (a typical Polymarket crypto half-spread of one
cent, an assumption), capped at 0.999; the fee is Polymarket's crypto taker curve
``0.07 p (1 - p)`` per share (the 2026 schedule; many of these markets traded fee-free, so this is
conservative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.markets.fees import POLYMARKET_CRYPTO_TAKER_RATE

__all__ = ["TradingRule", "simulate_trading"]


@dataclass(frozen=True, slots=True)
class TradingRule:
    """The edge rule's settings (see module docstring)."""

    min_edge: float = 0.02
    half_spread: float = 0.01
    fee_rate: float = POLYMARKET_CRYPTO_TAKER_RATE
    max_gap_daily_secs: float = 26 * 3600.0
    max_gap_intraday_secs: float = 2 * 3600.0

    def __post_init__(self) -> None:
        for name in ("min_edge", "half_spread", "fee_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be within [0, 1); found {getattr(self, name)}")


def _cost(price: np.ndarray, rule: TradingRule) -> np.ndarray:
    """Cost of one share: the modelled ask plus the taker fee per share."""
    ask = np.minimum(price + rule.half_spread, 0.999)
    return np.asarray(ask + rule.fee_rate * ask * (1 - ask))


def simulate_trading(obs: pd.DataFrame, p_model: np.ndarray, rule: TradingRule) -> dict[str, Any]:
    """Trades of the edge rule: count, hit rate, PnL per dollar staked, max drawdown ($)."""
    frame = obs.assign(p=p_model).sort_values(["market_id", "t"], kind="stable")
    yes_cost = _cost(frame["prob_market"].to_numpy(float), rule)
    no_cost = _cost(1.0 - frame["prob_market"].to_numpy(float), rule)
    p = frame["p"].to_numpy(float)
    edge_yes, edge_no = p - yes_cost, (1 - p) - no_cost
    frame = frame.assign(edge_yes=edge_yes, edge_no=edge_no, yes_cost=yes_cost, no_cost=no_cost)
    trades = []
    stale = 0
    for _market_id, part in frame.groupby("market_id", sort=True):
        signal = (part["edge_yes"] > rule.min_edge) | (part["edge_no"] > rule.min_edge)
        hits = np.flatnonzero(signal.to_numpy())
        if hits.size == 0:
            continue
        i = int(hits[0])
        if i + 1 >= len(part):
            continue
        sig, entry = part.iloc[i], part.iloc[i + 1]
        gap = (entry["t"] - sig["t"]).total_seconds()
        limit = (
            rule.max_gap_daily_secs
            if sig["quote_kind"] == "daily_close"
            else rule.max_gap_intraday_secs
        )
        if gap > limit:
            stale += 1
            continue
        buy_yes = sig["edge_yes"] >= sig["edge_no"]
        cost = float(entry["yes_cost"] if buy_yes else entry["no_cost"])
        won = bool(entry["outcome"] == 1.0) if buy_yes else bool(entry["outcome"] == 0.0)
        trades.append({"t": entry["t"], "pnl": (1.0 / cost if won else 0.0) - 1.0, "won": won})
    out: dict[str, Any] = {
        "trades": len(trades),
        "hit_rate": None,
        "pnl_per_dollar": None,
        "pnl_usd": 0.0,
        "max_drawdown_usd": 0.0,
        "skipped_stale_quote": stale,
        "assumptions": {
            "stake_usd_per_trade": 1.0,
            "half_spread": rule.half_spread,
            "fee": f"{rule.fee_rate} * p * (1 - p) per share (Polymarket crypto taker curve)",
            "min_edge": rule.min_edge,
            "entry": "next quote of the market after the signal; one position per market",
            "max_quote_gap_secs": {
                "daily_close": rule.max_gap_daily_secs,
                "history": rule.max_gap_intraday_secs,
            },
        },
    }
    if not trades:
        return out
    book = pd.DataFrame(trades).sort_values("t", kind="stable")
    equity = book["pnl"].cumsum().to_numpy()
    peak = np.maximum.accumulate(np.concatenate([[0.0], equity]))[1:]
    out.update(
        hit_rate=float(book["won"].mean()),
        pnl_per_dollar=float(book["pnl"].sum() / len(book)),
        pnl_usd=float(book["pnl"].sum()),
        max_drawdown_usd=float(np.max(peak - equity)),
    )
    return out
