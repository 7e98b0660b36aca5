"""Shared pieces of the question parser: results, context, money and resolution helpers.

``Parsed``/``Unsupported`` are the parser's results (re-exported by ``markets.questions.parser``);
``ParseContext`` carries what a market says besides its title (rules, outcomes, dates, the
reference time for dates without a year).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from levercast.features.errors import ConfigError
from levercast.models.contracts import Contract, Resolution

__all__ = [
    "ASSETS",
    "AthLookup",
    "ParseContext",
    "Parsed",
    "Unsupported",
    "binance_resolution",
    "finish",
    "no_time",
    "read_money",
    "yes_label",
]

AthLookup = Callable[[str, datetime], float | None]
"""``(asset, t) -> all-time high in USD known at t`` (or None), for all-time-high questions."""

ASSETS: Final[dict[str, str]] = {
    "bitcoin": "BTC",
    "btc": "BTC",
    "ethereum": "ETH",
    "ether": "ETH",
    "eth": "ETH",
    "solana": "SOL",
    "sol": "SOL",
    "xrp": "XRP",
    "ripple": "XRP",
    "dogecoin": "DOGE",
    "doge": "DOGE",
    "hyperliquid": "HYPE",
    "hype": "HYPE",
    "bnb": "BNB",
    "cardano": "ADA",
    "litecoin": "LTC",
}
# Assets whose Polymarket rules point at Binance USD-M futures (no Binance spot pair).
FUTURES_ONLY: Final = frozenset({"HYPE"})
END_DATE_GRACE: Final = timedelta(days=1)
SCALES: Final[dict[str, Decimal]] = {
    "": Decimal(1),
    "k": Decimal(1000),
    "m": Decimal(10**6),
    "million": Decimal(10**6),
    "b": Decimal(10**9),
    "billion": Decimal(10**9),
    "¢": Decimal("0.01"),
    "cent": Decimal("0.01"),
    "cents": Decimal("0.01"),
}


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed question or market.

    Attributes
    ----------
    contract
        The contract (INTERFACE.md §3).
    yes_outcome
        The outcome label of the event the contract names ("Yes", "Up", "150k").
    assumptions
        Each convention the parser chose because the question did not state it, in words
        (e.g. "a week runs Monday 00:00 ET to Sunday 23:59:59 ET"); empty for a venue market
        read by its own rules.
    """

    contract: Contract
    yes_outcome: str | None
    assumptions: tuple[str, ...] = ()

    def to_json_dict(self, *, include_assumptions: bool = False) -> dict[str, Any]:
        """INTERFACE.md §4 ``parse`` object; ``"assumptions": [...]`` added on request (a
        fixed set of keys per call, so scripts see a stable shape)."""
        out: dict[str, Any] = {
            "contract": self.contract.to_json_dict(),
            "yes_outcome": self.yes_outcome,
        }
        if include_assumptions:
            out["assumptions"] = list(self.assumptions)
        return out


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A market levercast does not price, with the reason in words."""

    reason: str

    def __post_init__(self) -> None:
        if not self.reason:
            raise ConfigError("reason must be a non-empty string; found ''")

    def to_json_dict(self, *, include_assumptions: bool = False) -> dict[str, Any]:
        """INTERFACE.md §4 ``parse`` object (``include_assumptions`` is accepted so that a
        caller treats both results alike; an unsupported question has none)."""
        return {"unsupported": self.reason}


@dataclass(frozen=True, slots=True)
class ParseContext:
    """What a market says besides its title.

    ``year_reference`` is the time dates without a year are read against: ``created_at``, else
    ``end_date`` less a day (it lies on the deadline day), else ``reference`` (first price
    observation, observation priced or ``--at``); ``listing`` is the default window start:
    ``created_at``, else ``reference``.
    """

    rules: str
    outcomes: tuple[str, ...] | None
    created_at: datetime | None
    end_date: datetime | None
    reference: datetime | None
    ath_usd: AthLookup | None

    @property
    def year_reference(self) -> datetime | None:
        """Reference time for dates without a year."""
        if self.created_at is not None:
            return self.created_at
        if self.end_date is not None:
            return self.end_date - END_DATE_GRACE
        return self.reference

    @property
    def listing(self) -> datetime | None:
        """Default window start."""
        return self.created_at if self.created_at is not None else self.reference


def read_money(text: str) -> float | None:
    match = re.match(r"^\$?\s?(\d[\d,]*(?:\.\d+)?)\s?(k|m|b|million|billion|¢|cents?)?$", text)
    if match is None:
        return None
    try:
        number = Decimal(match[1].replace(",", ""))
    except InvalidOperation:
        return None
    value = float(number * SCALES[match[2] or ""])
    return value if value > 0 else None


def binance_resolution(
    asset: str, price: str, ctx: ParseContext, *, interval: str = "1m"
) -> Resolution:
    source = "binance-usdm" if asset in FUTURES_ONLY or "/futures/" in ctx.rules else "binance-spot"
    symbol = f"{asset}USDT"
    named = re.search(r"\b([A-Z]{2,6})/?USDT\b", ctx.rules)
    if named is not None:
        symbol = f"{named[1]}USDT"
    return Resolution(source=source, price=price, symbol=symbol, interval=interval)


def yes_label(ctx: ParseContext, label: str = "Yes") -> str | Unsupported:
    if ctx.outcomes is None or label in ctx.outcomes:
        return label
    return Unsupported(f"outcomes {list(ctx.outcomes)} do not include {label!r}")


def finish(
    contract_kwargs: dict[str, Any], ctx: ParseContext, label: str = "Yes"
) -> Parsed | Unsupported:
    yes = yes_label(ctx, label)
    if isinstance(yes, Unsupported):
        return yes
    if contract_kwargs.get("start") is None:
        return Unsupported(
            "window start unknown: the market has no created_at and no reference time "
            "(pass --created-at or --at)"
        )
    return Parsed(Contract(**contract_kwargs), yes)


def no_time(when: str | None) -> Unsupported:
    if not when:
        return Unsupported("price question without a deadline or date")
    return Unsupported(f"unrecognised time phrase {when!r} (or no reference time for its year)")
