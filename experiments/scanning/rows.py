"""The scanner's records: Kelly caps, one ranked row, the scan result, the row in words.

Orientation and ranking are described in ``experiments.scanning.scan``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from levercast.features.errors import ConfigError

__all__ = ["KellyCaps", "ScanResult", "ScanRow", "describe_row", "fallback_model"]


def fallback_model(answered: str, asked: str) -> str | None:
    """``answered`` when it is not the model ``asked`` for (its fallback: ``gbm`` outside a
    learned model's domain, a climatology for liquidation windows it does not cover), else None."""
    return None if answered == asked.split(" ")[0] else answered


@dataclass(frozen=True, slots=True)
class KellyCaps:
    """Largest bankroll fractions: per market, per (asset, expiry) and per asset."""

    per_market: float = 0.05
    per_expiry: float = 0.10
    per_asset: float = 0.25

    def __post_init__(self) -> None:
        for name in ("per_market", "per_expiry", "per_asset"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(
                    f"{name} must be a bankroll fraction within [0, 1]; found {value}"
                )


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One priced market (see module docstring for orientation and ranking).

    ``signal`` is None when the market has no usable quote; ``kelly_fraction`` is the capped
    stake (0 unless flagged); ``quote_source`` says where bid/ask came from; ``decided`` names
    why the event can no longer be traded at T (already decided by the path, window closed).
    """

    venue: str
    market_id: str
    question: str
    contract: Any  # models.contracts.Contract
    yes_outcome: str
    model: str
    prob_model: float
    prob_lo: float
    prob_hi: float
    components: Mapping[str, float]
    prob_bid: float | None
    prob_ask: float | None
    quote_observed_at: datetime | None
    quote_source: str
    signal: Any  # markets.odds.EdgeSignal | None
    kelly_fraction: float
    stale: bool
    why: str
    decided: str | None = None

    @property
    def prob_market(self) -> float | None:
        """Mid of the quote, or its only side."""
        sides = [p for p in (self.prob_bid, self.prob_ask) if p is not None]
        return sum(sides) / len(sides) if sides else None

    @property
    def side(self) -> str | None:
        """``yes``/``no`` (buy the event / against it), None without a quote."""
        return None if self.signal is None else self.signal.side

    @property
    def edge(self) -> float | None:
        """Edge per share after fees and spread of the better side."""
        return None if self.signal is None else self.signal.edge

    @property
    def flag(self) -> bool:
        """Whether the edge clears ``min_edge`` with a positive pessimistic Kelly stake on a
        fresh quote of an event still undecided at T."""
        return bool(
            self.signal is not None and self.signal.flag and not self.stale and self.decided is None
        )

    @property
    def quote_age_s(self) -> float | None:
        """Quote age at the scan time in seconds."""
        return None if self.signal is None else self.signal.quote_age_secs

    def to_json_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §4 ``scan`` row, plus the band, quote, model and reasons."""
        s = self.signal
        return {
            "venue": self.venue,
            "market_id": self.market_id,
            "question": self.question,
            "contract": self.contract.to_json_dict(),
            "prob_model": self.prob_model,
            "prob_market": self.prob_market,
            "side": self.side,
            "edge": self.edge,
            "fee": None if s is None else s.fee,
            "kelly_fraction": self.kelly_fraction,
            "quote_age_s": self.quote_age_s,
            "flag": self.flag,
            "stale": self.stale,
            "prob_lo": self.prob_lo,
            "prob_hi": self.prob_hi,
            "prob_bid": self.prob_bid,
            "prob_ask": self.prob_ask,
            "yes_outcome": self.yes_outcome,
            "model": self.model,
            "components": dict(self.components),
            "quote_source": self.quote_source,
            "why": self.why,
            "decided": self.decided,
        }


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Ranked rows plus what could not be scanned; iterates over the rows like a list."""

    at: datetime
    live: bool
    model: str
    rows: tuple[ScanRow, ...]
    failed: tuple[dict[str, str], ...] = ()
    unsupported: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    data_fingerprint: str = ""

    def __iter__(self) -> Iterator[ScanRow]:
        return iter(self.rows)

    def fell_back(self, row: ScanRow) -> str | None:
        """The model that answered ``row`` instead of the scan's ``model``, or None."""
        return fallback_model(row.model, self.model)

    def __len__(self) -> int:
        return len(self.rows)


def describe_row(row: ScanRow) -> str:
    """One line for people: market, contract in words, model prob and band, quote, edge, size."""
    quote = (
        "no quote"
        if row.prob_bid is None and row.prob_ask is None
        else f"{_fmt(row.prob_bid)}/{_fmt(row.prob_ask)}"
    )
    edge = "-" if row.edge is None else f"{row.edge:+.3f}"
    prob = "-" if row.prob_model != row.prob_model else f"{row.prob_model:.3f}"
    flags = ("*" if row.flag else " ") + ("s" if row.stale else " ") + ("d" if row.decided else " ")
    return (
        f"{flags} {row.venue[:4]} {row.market_id[:14]:<14} {row.contract.describe()[:58]:<58} "
        f"p={prob} [{row.prob_lo:.3f},{row.prob_hi:.3f}] {quote:>11} "
        f"edge {edge:>6} {row.side or '-':>3} k={row.kelly_fraction:.3f}  {row.why}"
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
