"""Trading fees exactly as each venue defines them, per market.

Polymarket (source: https://docs.polymarket.com/trading/fees, as read for reference METHODS.md
§3.1 in 2026; the same formula is NautilusTrader's ``compute_commission``)
    taker fee = C × rate × (p × (1 − p)) ** exponent, in USDC, for C shares at price p, rounded
    to 5 decimals (0.00001 USDC); the parameters are per market (Gamma ``feeSchedule{rate,
    exponent, takerOnly, rebateRate}``). Crypto markets: rate 0.07, exponent 1, so the fee peaks
    at 1.75 pp of the $1 payout at p = 0.5; makers pay nothing and receive ``rebateRate`` (20 %
    for crypto) of the fee their fills generate. Fetch the parameters per market: the schedule
    has changed several times. The 2025 schedule (5/15-minute crypto only, rate 0.25, exponent
    2) was documented as C × p × rate × (p(1 − p))^exponent ($0.78 on 100 shares at $0.50): a
    different curve, not implemented here.
Kalshi (source: Kalshi fee schedule effective 2025-07-01, https://kalshi.com/docs/kalshi-fee-
schedule.pdf; formula and examples as quoted by https://agentbets.ai/guides/kalshi-fees-guide and
https://www.research.capitola.xyz/kalshi-fees, read 2026)
    taker fee = ceil(0.07 × C × P × (1 − P)) to the next cent, per order; maker fee =
    ceil(0.0175 × C × P × (1 − P)) on the series that charge makers, else 0.

Prices are probabilities in [0, 1] (USD per share of a $1 payout); sizes are shares/contracts;
fees are USD. ``Decimal`` is used inside the rounding so that 0.07 × 100 × 0.25 is 1.75, not
1.7500000000000002 (which a ceiling would turn into 1.76).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Protocol

from levercast.features.errors import ConfigError
from levercast.markets.types import Venue, VenueMarket

__all__ = [
    "KALSHI_MAKER_RATE",
    "KALSHI_TAKER_RATE",
    "POLYMARKET_CRYPTO_REBATE_RATE",
    "POLYMARKET_CRYPTO_TAKER_RATE",
    "FeeModel",
    "KalshiFees",
    "PolymarketFees",
    "fees_for_market",
]

POLYMARKET_CRYPTO_TAKER_RATE: Final = 0.07
POLYMARKET_CRYPTO_REBATE_RATE: Final = 0.20
KALSHI_TAKER_RATE: Final = 0.07
KALSHI_MAKER_RATE: Final = 0.0175
_CENT: Final = Decimal("0.01")
_POLY_QUANTUM: Final = Decimal("0.00001")


class FeeModel(Protocol):
    """What the odds code needs from a venue's fees."""

    def taker_fee_usd(self, price: float, size: float) -> float:
        """Fee of one taker fill of ``size`` at ``price``."""
        ...

    def maker_fee_usd(self, price: float, size: float) -> float:
        """Fee of one maker fill (negative: a rebate)."""
        ...

    def taker_fee_for_fills_usd(self, fills: Sequence[tuple[float, float]]) -> float:
        """Fee of one taker order filled at several ``(price, size)`` levels."""
        ...


def _check(price: float, size: float) -> None:
    if not 0.0 <= price <= 1.0:
        raise ConfigError(f"price must be a probability within [0, 1]; found {price}")
    if not size >= 0.0:
        raise ConfigError(f"size must be >= 0 shares; found {size}")


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _curve(price: float, size: float, rate: float, exponent: float) -> Decimal:
    p = _dec(price)
    core = p * (1 - p)
    if exponent != 1.0:
        core = _dec(float(core) ** exponent)
    return _dec(rate) * _dec(size) * core


@dataclass(frozen=True, slots=True)
class PolymarketFees:
    """A Polymarket market's fee schedule (see module docstring).

    Attributes
    ----------
    rate
        ``feeSchedule.rate`` (0.07 for crypto).
    exponent
        ``feeSchedule.exponent`` (1).
    taker_only
        ``feeSchedule.takerOnly``: makers pay no fee.
    rebate_rate
        ``feeSchedule.rebateRate``: share of the fee paid back to the maker (0.2 for crypto).
    """

    rate: float
    exponent: float = 1.0
    taker_only: bool = True
    rebate_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate < 1.0:
            raise ConfigError(f"rate must be within [0, 1); found {self.rate}")
        if not self.exponent > 0.0:
            raise ConfigError(f"exponent must be positive; found {self.exponent}")
        if not 0.0 <= self.rebate_rate <= 1.0:
            raise ConfigError(f"rebate_rate must be within [0, 1]; found {self.rebate_rate}")

    @classmethod
    def from_fee_schedule(cls, schedule: Mapping[str, Any]) -> PolymarketFees:
        """From a Gamma ``feeSchedule`` object (numbers or decimal strings)."""
        try:
            return cls(
                rate=float(schedule["rate"]),
                exponent=float(schedule.get("exponent", 1.0)),
                taker_only=bool(schedule.get("takerOnly", True)),
                rebate_rate=float(schedule.get("rebateRate", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(
                f"feeSchedule must hold a numeric 'rate' (and optional exponent, takerOnly, "
                f"rebateRate); found {dict(schedule)!r}"
            ) from e

    def taker_fee_usd(self, price: float, size: float) -> float:
        """``C × rate × (p(1−p))^exponent`` rounded to 0.00001 USDC."""
        _check(price, size)
        fee = _curve(price, size, self.rate, self.exponent)
        return float(fee.quantize(_POLY_QUANTUM, rounding=ROUND_HALF_EVEN))

    def maker_fee_usd(self, price: float, size: float) -> float:
        """0 less the rebate (``-rebate_rate`` × the fee-equivalent), or the taker formula when
        the schedule is not taker-only."""
        fee = self.taker_fee_usd(price, size)
        return fee if not self.taker_only else -self.rebate_rate * fee

    def taker_fee_for_fills_usd(self, fills: Sequence[tuple[float, float]]) -> float:
        """Each match is charged at its own price."""
        return sum(self.taker_fee_usd(price, size) for price, size in fills)


@dataclass(frozen=True, slots=True)
class KalshiFees:
    """Kalshi's rounded fee (see module docstring).

    Attributes
    ----------
    taker_rate, maker_rate
        0.07 and 0.0175 (2025-07-01 schedule).
    maker_fees
        Whether the series charges makers (designated series only).
    """

    taker_rate: float = KALSHI_TAKER_RATE
    maker_rate: float = KALSHI_MAKER_RATE
    maker_fees: bool = False

    def _fee(self, rate: float, raw: Decimal) -> float:
        return float((_dec(rate) * raw).quantize(_CENT, rounding=ROUND_CEILING))

    def taker_fee_usd(self, price: float, size: float) -> float:
        """``ceil(0.07 × C × P × (1 − P))`` to the next cent."""
        _check(price, size)
        return self._fee(self.taker_rate, _curve(price, size, 1.0, 1.0))

    def maker_fee_usd(self, price: float, size: float) -> float:
        """``ceil(0.0175 × C × P × (1 − P))`` where the series charges makers, else 0."""
        _check(price, size)
        if not self.maker_fees:
            return 0.0
        return self._fee(self.maker_rate, _curve(price, size, 1.0, 1.0))

    def taker_fee_for_fills_usd(self, fills: Sequence[tuple[float, float]]) -> float:
        """One order: Kalshi's fee accumulator makes the total converge to one rounding of the
        summed raw fee (https://docs.kalshi.com/getting_started/fee_rounding)."""
        raw = Decimal(0)
        for price, size in fills:
            _check(price, size)
            raw += _curve(price, size, 1.0, 1.0)
        return self._fee(self.taker_rate, raw)


def fees_for_market(
    market: VenueMarket, *, fallback_rate: float | None = POLYMARKET_CRYPTO_TAKER_RATE
) -> FeeModel:
    """The fee model of a venue market.

    Parameters
    ----------
    market
        A Polymarket market carries its own ``fee_rate``/``fee_exponent``/``maker_rebate_rate``
        (from Gamma's ``feeSchedule``); Kalshi markets use the published schedule.
    fallback_rate
        Polymarket rate when the market carries none (the crypto category's 0.07, with the
        crypto 20 % maker rebate); None refuses such a market.

    Raises
    ------
    ConfigError
        Unknown venue, or a Polymarket market without fee parameters and no fallback.
    """
    if market.venue == Venue.KALSHI:
        return KalshiFees()
    if market.venue != Venue.POLYMARKET:
        raise ConfigError(f"venue must be polymarket or kalshi; found {market.venue!r}")
    if market.fee_rate is None:
        if fallback_rate is None:
            raise ConfigError(
                f"market {market.market_id} has no fee parameters (feeSchedule) and no "
                "fallback_rate was given"
            )
        return PolymarketFees(rate=fallback_rate, rebate_rate=POLYMARKET_CRYPTO_REBATE_RATE)
    return PolymarketFees(
        rate=market.fee_rate,
        exponent=market.fee_exponent if market.fee_exponent is not None else 1.0,
        rebate_rate=market.maker_rebate_rate or 0.0,
    )
