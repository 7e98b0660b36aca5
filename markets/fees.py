"""Trading fees as data: the schedule in force at a trade's time, overridden by market fields.

The dated schedule lives in ``markets/fee_schedule.json`` (venue, category, cadence,
effective_from/to, formula, rate, exponent, maker rebate, rounding), loaded once. For a trade at
time ``at`` the entry in force is chosen (``schedule_for``); a market's own fee fields override its
rate, exponent and rebate where the entry allows it (``fees_for_market``), while the formula and
the rounding always come from the entry. ``fee(venue, category, at, price, size)`` is the one-call
form. Research and sources: the ``sources`` block of the JSON file (issue 20, FEES.md).

Polymarket (https://docs.polymarket.com/trading/fees)
    - fee-free before 2026-01-06;
    - Jan-Mar 2026 (5/15-minute crypto, and from 2026-03-06 all crypto, grade C):
      ``C x p x rate x (p(1 - p))^exponent`` with rate 0.25, exponent 2, 4 dp;
    - from 2026-03-30: ``C x rate x (p(1 - p))^exponent``, taker only, floored to 5 dp
      (0.00001 USDC; NautilusTrader ``compute_commission``). Crypto: rate 0.07, exponent 1, so the
      fee peaks at 1.75 pp of the $1 payout at p = 0.5; makers pay nothing and receive
      ``rebateRate`` (20 % for crypto) of the fee their fills generate (paid daily pro rata, so
      the per-fill rebate is an upper bound). Per market: Gamma ``feeSchedule{rate, exponent,
      takerOnly, rebateRate}``, ``feesEnabled``.
Kalshi (https://docs.kalshi.com/getting_started/fee_rounding; fee schedule PDF of 2025-07-01 via
agentbets.ai and research.capitola.xyz; OpenAPI 3.31 ``Series.fee_type``/``fee_multiplier``)
    model fee = multiplier x rate x C x P x (1 - P), rate 0.07 (taker) or 0.07 x maker share
    (0.25 on ``quadratic_with_maker_fees``, 0.5 on ``..._combo_...``, 0 on ``quadratic``); the
    trade fee is that rounded up to the era's quantum ($0.01 before 2026-03, then $0.0001, then
    $0.000001 from about 2026-09-15), and the balance change is aligned to the member's precision
    (direct members $0.0001 from 2026-05-28, else $0.01): charged = ceil(P x C + trade fee) - P x C.
    One order's fills converge to one rounding of their summed fee (the per-order accumulator).
    A series ``fee_multiplier`` of 0 or a market fee waiver makes trades free.

Prices are probabilities in [0, 1] (USD per share of a $1 payout); sizes are shares/contracts;
fees are USD (a maker rebate is negative). ``Decimal`` is used inside the rounding so that
0.07 x 100 x 0.25 is 1.75, not 1.7500000000000002 (which a ceiling would turn into 1.76).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, Protocol

from levercast.features.errors import ConfigError
from levercast.markets.types import Venue, VenueMarket

__all__ = [
    "KALSHI_MAKER_RATE",
    "KALSHI_TAKER_RATE",
    "POLYMARKET_CRYPTO_REBATE_RATE",
    "POLYMARKET_CRYPTO_TAKER_RATE",
    "FeeModel",
    "FeeScheduleEntry",
    "KalshiFees",
    "PolymarketFees",
    "fee",
    "fee_schedule",
    "fees_for_market",
    "schedule_for",
]

POLYMARKET_CRYPTO_TAKER_RATE: Final = 0.07
POLYMARKET_CRYPTO_REBATE_RATE: Final = 0.20
KALSHI_TAKER_RATE: Final = 0.07
KALSHI_MAKER_RATE: Final = 0.0175

Formula = Literal["polymarket_v0", "polymarket_v2", "kalshi_quadratic"]
Rounding = Literal["floor", "ceil", "half_even"]
Member = Literal["direct", "non_direct"]
_MODES: Final = {"floor": ROUND_FLOOR, "ceil": ROUND_CEILING, "half_even": ROUND_HALF_EVEN}
_FORMULAS: Final = ("polymarket_v0", "polymarket_v2", "kalshi_quadratic")
_SCHEDULE_FILE: Final = "fee_schedule.json"


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


def _core(price: float, exponent: float) -> Decimal:
    p = _dec(price)
    core = p * (1 - p)
    return core if exponent == 1.0 else _dec(float(core) ** exponent)


# -- Polymarket --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PolymarketFees:
    """A Polymarket market's fee schedule (see module docstring).

    Attributes
    ----------
    rate
        ``feeSchedule.rate`` (0.07 for crypto since 2026-03-30).
    exponent
        ``feeSchedule.exponent`` (1).
    taker_only
        ``feeSchedule.takerOnly``: makers pay no fee.
    rebate_rate
        ``feeSchedule.rebateRate``: share of the fee paid back to the maker (0.2 for crypto).
    formula
        ``polymarket_v2`` (``C x rate x (p(1-p))^e``, from 2026-03-30) or ``polymarket_v0``
        (``C x p x rate x (p(1-p))^e``, Jan-Mar 2026).
    quantum, rounding
        Rounding of one fill's fee to 0.00001 USDC. The venue floors (schedule rows say
        ``floor``); the constructor's default stays ``half_even``, its behaviour before the
        schedule existed, for callers that build the model by hand.
    """

    rate: float
    exponent: float = 1.0
    taker_only: bool = True
    rebate_rate: float = 0.0
    formula: Formula = "polymarket_v2"
    quantum: Decimal = Decimal("0.00001")
    rounding: Rounding = "half_even"

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate < 1.0:
            raise ConfigError(f"rate must be within [0, 1); found {self.rate}")
        if not self.exponent > 0.0:
            raise ConfigError(f"exponent must be positive; found {self.exponent}")
        if not 0.0 <= self.rebate_rate <= 1.0:
            raise ConfigError(f"rebate_rate must be within [0, 1]; found {self.rebate_rate}")
        if self.formula not in ("polymarket_v0", "polymarket_v2"):
            raise ConfigError(f"formula must be polymarket_v0 or _v2; found {self.formula!r}")
        if self.rounding not in _MODES:
            raise ConfigError(f"rounding must be one of {sorted(_MODES)}; found {self.rounding!r}")

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
        """The fee of one fill, rounded to ``quantum`` (see ``formula``)."""
        _check(price, size)
        fee = _dec(self.rate) * _dec(size) * _core(price, self.exponent)
        if self.formula == "polymarket_v0":
            fee *= _dec(price)
        return float(fee.quantize(self.quantum, rounding=_MODES[self.rounding]))

    def maker_fee_usd(self, price: float, size: float) -> float:
        """0 less the rebate (``-rebate_rate`` x the fee-equivalent), or the taker formula when
        the schedule is not taker-only."""
        fee = self.taker_fee_usd(price, size)
        return fee if not self.taker_only else -self.rebate_rate * fee

    def taker_fee_for_fills_usd(self, fills: Sequence[tuple[float, float]]) -> float:
        """Each match is charged at its own price."""
        return sum(self.taker_fee_usd(price, size) for price, size in fills)


# -- Kalshi ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KalshiFees:
    """Kalshi's rounded fee (see module docstring).

    ``KalshiFees()`` keeps its behaviour before the schedule existed: the 2025 cent rule.
    ``for_series`` (used by ``fees_for_market`` and ``fee``) builds the model of an era.

    Attributes
    ----------
    taker_rate, maker_rate
        0.07 and 0.0175 (0.07 x the maker share of the series' fee type).
    maker_fees
        Whether the series charges makers (``quadratic_with_maker_fees`` series only).
    multiplier
        The series ``fee_multiplier`` (0 = fee-free).
    trade_fee_quantum
        The trade fee is rounded up to this ($0.000001 now; $0.01 before 2026-03).
    balance_precision
        The balance change is aligned (rounded against the member) to this: $0.0001 for direct
        members since 2026-05-28, $0.01 for members cleared by an FCM and before that date.
    """

    taker_rate: float = KALSHI_TAKER_RATE
    maker_rate: float = KALSHI_MAKER_RATE
    maker_fees: bool = False
    multiplier: float = 1.0
    trade_fee_quantum: Decimal = Decimal("0.01")
    balance_precision: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        for name in ("taker_rate", "maker_rate", "multiplier"):
            if not getattr(self, name) >= 0.0:
                raise ConfigError(f"{name} must be >= 0; found {getattr(self, name)}")
        for name in ("trade_fee_quantum", "balance_precision"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive; found {getattr(self, name)}")

    @classmethod
    def for_series(
        cls,
        fee_type: str,
        multiplier: float = 1.0,
        *,
        entry: FeeScheduleEntry | None = None,
        member: Member = "direct",
    ) -> KalshiFees:
        """The fees of a series (``fee_type``, ``fee_multiplier``) in a schedule era.

        Parameters
        ----------
        fee_type
            ``quadratic``, ``quadratic_with_maker_fees`` or ``quadratic_with_combo_maker_fees``.
        multiplier
            The series (or event override) ``fee_multiplier``.
        entry
            The schedule entry in force (default: the current Kalshi entry).
        member
            ``direct`` (balances to $0.0001) or ``non_direct`` (FCM-cleared, $0.01).

        Raises
        ------
        ConfigError
            An unknown fee type (``flat``, whose table is not published, included).
        """
        shares = _maker_shares()
        if fee_type not in shares:
            raise ConfigError(f"fee_type must be one of {sorted(shares)}; found {fee_type!r}")
        era = entry or _current("kalshi")
        share = shares[fee_type]
        return cls(
            taker_rate=era.rate,
            maker_rate=era.rate * share,
            maker_fees=share > 0,
            multiplier=multiplier,
            trade_fee_quantum=era.quantum,
            balance_precision=era.precision(member),
        )

    def _charge(self, rate: float, notional: Decimal, raw: Decimal) -> float:
        trade = (_dec(self.multiplier) * _dec(rate) * raw).quantize(
            self.trade_fee_quantum, rounding=ROUND_CEILING
        )
        if trade == 0:
            return 0.0
        charged = (notional + trade).quantize(self.balance_precision, rounding=ROUND_CEILING)
        return float(charged - notional)

    def _order(self, rate: float, fills: Sequence[tuple[float, float]]) -> float:
        notional, raw = Decimal(0), Decimal(0)
        for price, size in fills:
            _check(price, size)
            notional += _dec(price) * _dec(size)
            raw += _dec(size) * _core(price, 1.0)
        return self._charge(rate, notional, raw)

    def taker_fee_usd(self, price: float, size: float) -> float:
        """Trade fee plus the balance-alignment rounding of one taker order."""
        return self._order(self.taker_rate, [(price, size)])

    def maker_fee_usd(self, price: float, size: float) -> float:
        """The maker fee where the series charges makers, else 0."""
        _check(price, size)
        return self._order(self.maker_rate, [(price, size)]) if self.maker_fees else 0.0

    def taker_fee_for_fills_usd(self, fills: Sequence[tuple[float, float]]) -> float:
        """One order: the per-order accumulator makes the total converge to one rounding of the
        summed fee (https://docs.kalshi.com/getting_started/fee_rounding)."""
        return self._order(self.taker_rate, fills)


# -- the schedule ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeeScheduleEntry:
    """One dated row of ``fee_schedule.json`` (see the module docstring).

    ``category`` ``*`` matches any category and ``cadence`` None any cadence; a more specific row
    wins. ``new_markets_only`` rows apply to markets created on or after ``effective_from``;
    ``per_market_fields`` says whether a market's own fee fields may override the row.
    """

    id: str
    venue: str
    category: str
    cadence: str | None
    effective_from: datetime | None
    effective_to: datetime | None
    formula: Formula
    rate: float
    exponent: float
    maker_rebate: float
    quantum: Decimal
    rounding: Rounding
    direct_precision: Decimal | None
    non_direct_precision: Decimal | None
    new_markets_only: bool
    per_market_fields: bool
    confidence: str

    def in_force(self, at: datetime) -> bool:
        """Whether the row applies to a trade at ``at``."""
        start_ok = self.effective_from is None or self.effective_from <= at
        return start_ok and (self.effective_to is None or at < self.effective_to)

    def precision(self, member: Member) -> Decimal:
        """Kalshi balance precision of a member type (the trade-fee quantum elsewhere)."""
        if member not in ("direct", "non_direct"):
            raise ConfigError(f"member must be 'direct' or 'non_direct'; found {member!r}")
        value = self.direct_precision if member == "direct" else self.non_direct_precision
        return value if value is not None else self.quantum

    def fee_model(self, *, member: Member = "direct") -> FeeModel:
        """The fee model of this row alone (Kalshi: a plain ``quadratic`` series, multiplier 1)."""
        if self.formula == "kalshi_quadratic":
            return KalshiFees.for_series("quadratic", entry=self, member=member)
        return _polymarket_row(self)

    def taker_fee_per_share(self, price: Any) -> Any:
        """Unrounded taker fee per share at ``price`` (a float or a NumPy array), multiplier 1.

        For vectorised costs (evaluation, trading simulation); rounding is per fill and left out.
        """
        core = (price * (1 - price)) ** self.exponent
        fee = self.rate * core
        return fee * price if self.formula == "polymarket_v0" else fee


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as e:
        raise ConfigError(f"{where}: must be an ISO-8601 time; found {value!r}") from e
    if parsed.utcoffset() is None:
        raise ConfigError(f"{where}: must carry a UTC offset; found {value!r}")
    return parsed


def _entry(raw: Mapping[str, Any]) -> FeeScheduleEntry:
    where = f"{_SCHEDULE_FILE} entry {raw.get('id', '?')!r}"
    try:
        rounding = raw["rounding"]
        precision = rounding.get("balance_precision") or {}
        entry = FeeScheduleEntry(
            id=str(raw["id"]),
            venue=str(raw["venue"]),
            category=str(raw["category"]),
            cadence=raw.get("cadence"),
            effective_from=_time(raw.get("effective_from"), f"{where} effective_from"),
            effective_to=_time(raw.get("effective_to"), f"{where} effective_to"),
            formula=raw["formula"],
            rate=float(raw["rate"]),
            exponent=float(raw["exponent"]),
            maker_rebate=float(raw["maker_rebate"]),
            quantum=Decimal(rounding["quantum"]),
            rounding=rounding["mode"],
            direct_precision=Decimal(precision["direct"]) if "direct" in precision else None,
            non_direct_precision=(
                Decimal(precision["non_direct"]) if "non_direct" in precision else None
            ),
            new_markets_only=bool(raw["new_markets_only"]),
            per_market_fields=bool(raw["per_market_fields"]),
            confidence=str(raw.get("confidence", "")),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as e:
        raise ConfigError(f"{where}: malformed ({type(e).__name__}: {e})") from e
    if entry.venue not in (Venue.POLYMARKET, Venue.KALSHI) or entry.formula not in _FORMULAS:
        raise ConfigError(f"{where}: unknown venue or formula ({entry.venue}, {entry.formula})")
    if entry.rounding not in _MODES:
        raise ConfigError(f"{where}: rounding mode must be one of {sorted(_MODES)}")
    return entry


@cache
def _document() -> Mapping[str, Any]:
    text = resources.files("levercast.markets").joinpath(_SCHEDULE_FILE).read_text("utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@cache
def fee_schedule() -> tuple[FeeScheduleEntry, ...]:
    """Every row of the packaged ``fee_schedule.json`` (read once per process).

    Raises
    ------
    ConfigError
        The file is malformed (a row names what is wrong).
    """
    return tuple(_entry(raw) for raw in _document()["entries"])


def _maker_shares() -> dict[str, float]:
    return {str(k): float(v) for k, v in _document()["kalshi_maker_share"].items()}


def _current(venue: str) -> FeeScheduleEntry:
    rows = [e for e in fee_schedule() if e.venue == venue and e.effective_to is None]
    return max(rows, key=lambda e: (e.effective_from is not None, e.effective_from))


def _check_at(at: datetime, name: str = "at") -> None:
    if not isinstance(at, datetime) or at.utcoffset() is None:
        raise ConfigError(f"{name} must be a tz-aware UTC datetime; found {at!r}")


def schedule_for(
    venue: str,
    category: str,
    at: datetime,
    *,
    cadence: str | None = None,
    created_at: datetime | None = None,
) -> FeeScheduleEntry:
    """The schedule row in force for a trade at ``at``.

    Parameters
    ----------
    venue
        ``polymarket`` or ``kalshi``.
    category
        Fee category (``crypto``, ``sports``, ...; Kalshi rows apply to every category).
    at
        Trade time, tz-aware.
    cadence
        Market recurrence (``5m``, ``15m``) for the rows that depend on it.
    created_at
        Market creation time: a ``new_markets_only`` row does not apply to an older market,
        which keeps the row in force when it was created.

    Raises
    ------
    ConfigError
        Naive time, unknown venue, or no row for the category at that time.
    """
    _check_at(at)
    if venue not in (Venue.POLYMARKET, Venue.KALSHI):
        raise ConfigError(f"venue must be polymarket or kalshi; found {venue!r}")
    rows = [
        e
        for e in fee_schedule()
        if e.venue == venue
        and e.category in (category, "*")
        and e.cadence in (None, cadence)
        and e.in_force(at)
    ]
    if not rows:
        known = sorted({e.category for e in fee_schedule() if e.venue == venue})
        raise ConfigError(
            f"category must have a {venue} fee schedule at {at.isoformat()}; found "
            f"{category!r} (known: {known})"
        )
    best = max(rows, key=lambda e: (e.category != "*", e.cadence is not None))
    start = best.effective_from
    if best.new_markets_only and created_at is not None and start and created_at < start:
        return schedule_for(venue, category, created_at, cadence=cadence)
    return best


def fees_for_market(
    market: VenueMarket,
    *,
    at: datetime | None = None,
    category: str | None = None,
    fallback_rate: float | None = POLYMARKET_CRYPTO_TAKER_RATE,
    member: Member = "direct",
) -> FeeModel:
    """The fee model of a venue market, for trades at ``at``.

    Parameters
    ----------
    market
        A Polymarket market may carry its own ``fee_rate``/``fee_exponent``/
        ``maker_rebate_rate``/``fees_enabled`` (Gamma ``feeSchedule``); a Kalshi market its
        series ``fee_category`` (fee type), ``fee_multiplier`` and ``fee_waiver_until``.
    at
        Trade time: the schedule row in force then gives the formula and rounding. None keeps
        the behaviour before the schedule existed: the market's own fields, else
        ``fallback_rate`` (Polymarket) or the current era (Kalshi).
    category
        Fee category (default ``market.category``, else ``crypto``: levercast lists crypto
        markets).
    fallback_rate
        With ``at`` None, the Polymarket rate of a market without fee fields (the crypto 0.07
        with the crypto 20 % maker rebate); None refuses such a market.
    member
        Kalshi member type (balance precision).

    Raises
    ------
    ConfigError
        Unknown venue, a Polymarket market without fee parameters and no fallback, an unknown
        Kalshi fee type, or no schedule row at ``at``.
    """
    if at is not None:
        _check_at(at)
    if market.venue == Venue.KALSHI:
        entry = schedule_for(Venue.KALSHI, "*", at) if at is not None else _current("kalshi")
        waived = market.fee_waiver_until is not None and (
            at is None or at < market.fee_waiver_until
        )
        multiplier = 0.0 if waived else market.fee_multiplier
        return KalshiFees.for_series(
            market.fee_category or "quadratic",
            1.0 if multiplier is None else multiplier,
            entry=entry,
            member=member,
        )
    if market.venue != Venue.POLYMARKET:
        raise ConfigError(f"venue must be polymarket or kalshi; found {market.venue!r}")
    if at is None:
        if market.fees_enabled is False:
            return PolymarketFees(rate=0.0)
        if market.fee_rate is None:
            if fallback_rate is None:
                raise ConfigError(
                    f"market {market.market_id} has no fee parameters (feeSchedule) and no "
                    "fallback_rate was given"
                )
            return PolymarketFees(rate=fallback_rate, rebate_rate=POLYMARKET_CRYPTO_REBATE_RATE)
        return _polymarket_own(market, PolymarketFees(rate=market.fee_rate))
    entry = schedule_for(
        Venue.POLYMARKET,
        category or market.category or "crypto",
        at,
        cadence=market.cadence,
        created_at=market.created_at,
    )
    scheduled = _polymarket_row(entry)
    if not entry.per_market_fields:
        return scheduled
    if market.fees_enabled is False:
        return PolymarketFees(rate=0.0, formula=entry.formula, quantum=entry.quantum)
    return _polymarket_own(market, scheduled) if market.fee_rate is not None else scheduled


def _polymarket_row(entry: FeeScheduleEntry) -> PolymarketFees:
    return PolymarketFees(
        rate=entry.rate,
        exponent=entry.exponent,
        rebate_rate=entry.maker_rebate,
        formula=entry.formula,
        quantum=entry.quantum,
        rounding=entry.rounding,
    )


def _polymarket_own(market: VenueMarket, base: PolymarketFees) -> PolymarketFees:
    return PolymarketFees(
        rate=market.fee_rate if market.fee_rate is not None else base.rate,
        exponent=market.fee_exponent if market.fee_exponent is not None else base.exponent,
        taker_only=market.fee_taker_only if market.fee_taker_only is not None else True,
        rebate_rate=(
            market.maker_rebate_rate if market.maker_rebate_rate is not None else base.rebate_rate
        ),
        formula=base.formula,
        quantum=base.quantum,
        rounding=base.rounding,
    )


def fee(
    venue: str,
    category: str,
    at: datetime,
    price: float,
    size: float,
    *,
    taker: bool = True,
    market: VenueMarket | None = None,
    cadence: str | None = None,
    member: Member = "direct",
) -> float:
    """USD fee of one fill of ``size`` at ``price`` under the schedule in force at ``at``.

    Parameters
    ----------
    venue, category, at
        Schedule key and trade time (tz-aware).
    price, size
        Probability price in [0, 1] and shares/contracts.
    taker
        Taker (True) or maker fill (a maker rebate is negative).
    market
        The market, when known: its own fee fields override the schedule (see
        ``fees_for_market``) and its cadence and creation time select the row.
    cadence
        Market recurrence when no ``market`` is given.
    member
        Kalshi member type.

    Raises
    ------
    ConfigError
        Bad price, size or time, or no schedule row (see ``schedule_for``).
    """
    if market is not None:
        if market.venue != venue:
            raise ConfigError(f"market.venue must equal venue {venue!r}; found {market.venue!r}")
        model = fees_for_market(market, at=at, category=category, member=member)
    else:
        model = schedule_for(venue, category, at, cadence=cadence).fee_model(member=member)
    return model.taker_fee_usd(price, size) if taker else model.maker_fee_usd(price, size)
