"""The rules ``evaluate`` runs on top of the forecasts: the model-market blend and the edge rule.

Blend
    ``p_blend = sigmoid((1 - w) logit(p_market) + w logit(p_model))`` (logarithmic pooling). At an
    observation at time t, ``w_t = (n0 w0 + n_t w_hat_t) / (n0 + n_t)``: ``w_hat_t`` minimises the
    log loss (each market weighted equally) over the observations of the ``n_t`` markets whose
    ``resolved_at`` is before t and which are not in the prior's fit; ``w0``/``n0`` are the prior
    (``blend_prior.json``: fitted on a named dataset by the command it records) once t is past
    the prior's cut, else ``w0 = 0`` (the market alone). Markets without a known ``resolved_at``
    never inform the blend (when they resolved is unknown).

Edge rule (trading simulation)
    A signal at an observation when ``p_model - ask_yes - fee(ask_yes) > min_edge`` (buy YES) or
    the mirror for NO. The trade enters at the market's next quote after the signal, paying that
    quote's ask plus the venue fee, only when that quote is at most ``max_quote_gap`` after the
    signal (never a stale quote); one $1 position per market, held to resolution. The dataset
    has no order books: the ask is the quoted price plus ``half_spread`` (a typical Polymarket
    crypto half-spread of one cent, an assumption), capped at 0.999; the fee is Polymarket's
    crypto taker curve ``0.07 p (1 - p)`` per share (the 2026 schedule; many of these markets
    traded fee-free, so this is conservative).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_utc
from levercast.markets.fees import POLYMARKET_CRYPTO_TAKER_RATE

__all__ = [
    "PRIOR_PATH",
    "BlendPrior",
    "TradingRule",
    "blend_weight",
    "load_prior",
    "online_blend",
    "simulate_trading",
]

PRIOR_PATH: Final = Path(__file__).resolve().parent / "polymarket_eval" / "blend_prior.json"
W_GRID: Final = np.round(np.linspace(0.0, 1.0, 21), 2)
_EPS: Final = 1e-4


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def pool(p_market: np.ndarray, p_model: np.ndarray, w: np.ndarray | float) -> np.ndarray:
    """Logarithmic pool of market and model with weight ``w`` on the model."""
    z = (1 - np.asarray(w)) * _logit(p_market) + np.asarray(w) * _logit(p_model)
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


@dataclass(frozen=True, slots=True)
class BlendPrior:
    """The blend's starting weight, fitted on a named dataset by a recorded command."""

    w_model: float
    strength_markets: float
    cut: str
    fitted_on: str
    markets: list[str]
    command: str

    def __post_init__(self) -> None:
        if not 0.0 <= self.w_model <= 1.0:
            raise ConfigError(f"w_model must be within [0, 1]; found {self.w_model}")
        if not self.strength_markets >= 0:
            raise ConfigError(f"strength_markets must be >= 0; found {self.strength_markets}")
        parse_utc(self.cut, name="cut")


def load_prior(path: Path = PRIOR_PATH) -> BlendPrior | None:
    """The committed prior, or None when absent."""
    if not path.is_file():
        return None
    return BlendPrior(**json.loads(path.read_text()))


def save_prior(prior: BlendPrior, path: Path = PRIOR_PATH) -> None:
    """Write the prior as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(prior), indent=2) + "\n")


def _market_loss_curves(obs: pd.DataFrame, p_model: np.ndarray) -> pd.DataFrame:
    """Mean log loss of each market's observations at each grid weight (markets x W_GRID)."""
    y = obs["outcome"].to_numpy(float)[:, None]
    p = pool(obs["prob_market"].to_numpy(float)[:, None], p_model[:, None], W_GRID[None, :])
    p = np.clip(p, _EPS, 1 - _EPS)
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    frame = pd.DataFrame(loss, columns=W_GRID)
    frame["market_id"] = obs["market_id"].to_numpy()
    return frame.groupby("market_id", sort=True).mean()


def blend_weight(obs: pd.DataFrame, p_model: np.ndarray) -> float:
    """The grid weight minimising the market-equal-weighted log loss of ``obs``."""
    curves = _market_loss_curves(obs, p_model)
    return float(W_GRID[int(np.argmin(curves.to_numpy().mean(axis=0)))])


def online_blend(
    obs: pd.DataFrame, p_model: np.ndarray, prior: BlendPrior | None
) -> tuple[np.ndarray, np.ndarray]:
    """(p_blend, w) per observation by the rule of the module docstring.

    ``obs`` needs ``market_id, t, prob_market, outcome, resolved_at``.
    """
    n = len(obs)
    if n == 0:
        return np.array([]), np.array([])
    excluded = set(prior.markets) if prior is not None else set()
    curves = _market_loss_curves(obs, p_model)
    resolved = obs.groupby("market_id", sort=True)["resolved_at"].first()
    usable = resolved.notna() & ~resolved.index.isin(list(excluded))
    order = resolved[usable].sort_values(kind="stable")
    cum = curves.loc[order.index].to_numpy().cumsum(axis=0)
    resolved_ns = order.to_numpy("datetime64[ns]").view("int64")
    t_ns = obs["t"].to_numpy("datetime64[ns]").view("int64")
    k = np.searchsorted(resolved_ns, t_ns, side="left")  # markets resolved strictly before t
    w_hat = np.zeros(n)
    has = k > 0
    w_hat[has] = W_GRID[np.argmin(cum[k[has] - 1], axis=1)]
    w0 = np.zeros(n)
    n0 = np.zeros(n)
    if prior is not None:
        live = obs["t"] >= pd.Timestamp(prior.cut)
        w0[live.to_numpy()] = prior.w_model
        n0[live.to_numpy()] = prior.strength_markets
    denom = n0 + k
    w = np.where(denom > 0, (n0 * w0 + k * w_hat) / np.maximum(denom, 1e-12), 0.0)
    return pool(obs["prob_market"].to_numpy(float), p_model, w), w


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
