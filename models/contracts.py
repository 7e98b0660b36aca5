"""The contract spec: what a question asks, with its window and exact resolution rule.

The JSON form is INTERFACE.md §3. ``prob`` of a contract is always the probability of the event it
names: touch reached, close above/below, inside the range (``lower <= price < upper``), up (for
``up_down``: end price >= start price unless the rule says otherwise), the upper barrier first (for
``first_of``), the move happened, the liquidations exceeded.

Defaults for a partial spec (``Contract.from_json(data, at=T)``)
    - ``start`` = T;
    - ``monitoring``: ``continuous`` for touch and first_of, ``terminal`` for move and the
      terminal kinds;
    - ``resolution``: Binance spot 1-minute candles of ``<ASSET>USDT`` (``high`` for an up touch,
      ``low`` for a down touch, ``close`` otherwise); CoinGlass aggregate for liquidations;
    - touch ``direction`` may be left out: the pricer takes ``up`` when the strike is above spot;
    - first_of ``neither_value`` = 0.5 (what the YES side receives when no barrier is hit by end).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum, unique
from typing import Any, Final

from levercast.features.errors import ConfigError
from levercast.features.timeutil import format_utc, parse_duration, parse_utc, utc_text
from levercast.models.contract_schema import (
    MAX_LIQUIDATIONS_USD,
    MAX_MOVE_FRACTION,
    MAX_PRICE_USD,
    MAX_WINDOW,
    RESOLUTION_FIELDS,
    check_contract_json,
    loads_contract,
)

__all__ = ["DEFAULT_SOURCE", "Contract", "Kind", "Monitoring", "Resolution"]

DEFAULT_SOURCE: Final = "binance-spot"


@unique
class Kind(StrEnum):
    """Contract kinds (INTERFACE.md §3)."""

    TOUCH = "touch"
    CLOSE_ABOVE = "close_above"
    CLOSE_BELOW = "close_below"
    RANGE = "range"
    UP_DOWN = "up_down"
    FIRST_OF = "first_of"
    MOVE = "move"
    LIQUIDATIONS_ABOVE = "liquidations_above"


@unique
class Monitoring(StrEnum):
    """How the resolution price is watched: at the fixing only, every tick, or every interval."""

    TERMINAL = "terminal"
    CONTINUOUS = "continuous"
    DISCRETE = "discrete"


PRICE_KINDS: Final = frozenset(Kind) - {Kind.LIQUIDATIONS_ABOVE}
_PRICES: Final = ("high", "low", "close", "average")
_FIELDS_BY_KIND: Final[dict[Kind, frozenset[str]]] = {
    Kind.TOUCH: frozenset({"direction", "strike_usd", "monitoring"}),
    Kind.CLOSE_ABOVE: frozenset({"strike_usd"}),
    Kind.CLOSE_BELOW: frozenset({"strike_usd"}),
    Kind.RANGE: frozenset({"lower_usd", "upper_usd"}),
    Kind.UP_DOWN: frozenset(),
    Kind.FIRST_OF: frozenset({"lower_usd", "upper_usd"}),
    Kind.MOVE: frozenset({"direction", "threshold", "monitoring"}),
    Kind.LIQUIDATIONS_ABOVE: frozenset({"threshold", "side"}),
}
_OPTIONAL_FIELDS: Final = ("direction", "strike_usd", "lower_usd", "upper_usd", "threshold", "side")


@dataclass(frozen=True, slots=True)
class Resolution:
    """How a venue settles the contract.

    Attributes
    ----------
    source
        Where the settlement price comes from: a dataset venue (``binance-spot``,
        ``binance-usdm``), or an external source (``chainlink``, ``cf-brti``, ``coinglass``).
    price
        Which price: candle ``high``/``low``/``close``, or an ``average`` over ``average_secs``.
    symbol
        Venue symbol, e.g. ``BTCUSDT``.
    interval
        Candle interval of the rule (``1m`` for Polymarket's Binance rules, ``1h`` for hourly
        up/down).
    average_secs
        Averaging window before the fixing (Kalshi: 60 s of BRTI).
    discrete_every
        Observation interval for ``discrete`` monitoring (e.g. ``1d``).
    neither_value
        first_of: what YES receives when no barrier is hit by ``end``.
    tie_value
        up_down: what YES ("up") receives when end price equals start price (1.0 when the rule
        says "greater than or equal", 0.5 for a 50-50 tie).
    """

    source: str = DEFAULT_SOURCE
    price: str = "close"
    symbol: str | None = None
    interval: str = "1m"
    average_secs: int | None = None
    discrete_every: str | None = None
    neither_value: float | None = None
    tie_value: float | None = None

    def __post_init__(self) -> None:
        if self.price not in _PRICES:
            raise ConfigError(f"resolution.price must be one of {_PRICES}; found {self.price!r}")
        if not self.source:
            raise ConfigError("resolution.source must be a non-empty string; found ''")
        parse_duration(self.interval, name="resolution.interval")
        if self.average_secs is not None and self.average_secs <= 0:
            raise ConfigError(
                f"resolution.average_secs must be positive; found {self.average_secs}"
            )
        if self.discrete_every is not None:
            parse_duration(self.discrete_every, name="resolution.discrete_every")
        for name in ("neither_value", "tie_value"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ConfigError(f"resolution.{name} must be within [0, 1]; found {value}")

    def to_json_dict(self) -> dict[str, Any]:
        """JSON form: None fields left out."""
        out: dict[str, Any] = {"source": self.source, "price": self.price}
        for name in (
            "symbol",
            "interval",
            "average_secs",
            "discrete_every",
            "neither_value",
            "tie_value",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resolution:
        """Build from the JSON form, checked strictly (``contract_schema.RESOLUTION_FIELDS``:
        types, ranges; unknown keys are an error naming the known ones)."""
        from levercast.models.contract_schema import _check_object

        _check_object(data, RESOLUTION_FIELDS, "resolution")
        values = dict(data)
        for name in ("neither_value", "tie_value"):
            if values.get(name) is not None:
                values[name] = float(values[name])
        if values.get("average_secs") is not None:
            values["average_secs"] = int(values["average_secs"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Contract:
    """A validated contract (see module docstring for the event each kind names).

    Raises
    ------
    ConfigError
        Naming the field and the value: end not after start, strike <= 0, lower >= upper,
        threshold <= 0 (or move threshold >= 1), missing or irrelevant fields, naive times.
    """

    kind: Kind
    asset: str
    start: datetime
    end: datetime | None
    resolution: Resolution = field(default_factory=Resolution)
    direction: str | None = None
    strike_usd: float | None = None
    lower_usd: float | None = None
    upper_usd: float | None = None
    threshold: float | None = None
    side: str | None = None
    monitoring: Monitoring | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _enum(Kind, self.kind, "kind"))
        if self.monitoring is not None:
            object.__setattr__(self, "monitoring", _enum(Monitoring, self.monitoring, "monitoring"))
        if not isinstance(self.asset, str) or not self.asset.isalnum():
            raise ConfigError(f"asset must be a ticker such as BTC; found {self.asset!r}")
        object.__setattr__(self, "asset", self.asset.upper())
        object.__setattr__(self, "start", parse_utc(self.start, name="start"))
        if self.end is not None:
            object.__setattr__(self, "end", parse_utc(self.end, name="end"))
        for name in ("strike_usd", "lower_usd", "upper_usd", "threshold"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Real)
            ):
                raise ConfigError(f"{name} must be a number; found {value!r}")
        self._check_fields()
        self._check_values()

    # -- validation ---------------------------------------------------------------------------
    def _check_fields(self) -> None:
        allowed = _FIELDS_BY_KIND[self.kind]
        for name in _OPTIONAL_FIELDS:
            if name not in allowed and getattr(self, name) is not None:
                raise ConfigError(
                    f"{name} is not used by kind {self.kind.value}; found {getattr(self, name)!r}"
                )
        # A kind without a monitoring choice accepts its own rule as printed by to_json_dict
        # (first_of prints "continuous"), so the §3 form round-trips (the forward log).
        default = Monitoring.CONTINUOUS if self.kind is Kind.FIRST_OF else Monitoring.TERMINAL
        if (
            self.monitoring is not None
            and "monitoring" not in allowed
            and self.monitoring is not default
        ):
            raise ConfigError(
                f"monitoring must be {default.value} (or null) for kind {self.kind.value}; "
                f"found {self.monitoring.value!r}"
            )
        required = {
            Kind.TOUCH: ("strike_usd",),
            Kind.CLOSE_ABOVE: ("strike_usd",),
            Kind.CLOSE_BELOW: ("strike_usd",),
            Kind.RANGE: ("lower_usd", "upper_usd"),
            Kind.FIRST_OF: ("lower_usd", "upper_usd"),
            Kind.MOVE: ("threshold",),
            Kind.LIQUIDATIONS_ABOVE: ("threshold", "side"),
            Kind.UP_DOWN: (),
        }[self.kind]
        for name in required:
            if getattr(self, name) is None:
                raise ConfigError(f"{name} is required for kind {self.kind.value}; found null")
        if self.end is None and self.kind is not Kind.FIRST_OF:
            raise ConfigError(f"end is required for kind {self.kind.value}; found null")

    def _check_values(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ConfigError(
                f"end must be after start; found start={format_utc(self.start)}, "
                f"end={format_utc(self.end)}"
            )
        if self.end is not None and self.end - self.start > MAX_WINDOW:
            raise ConfigError(
                f"end must be at most {MAX_WINDOW.days} days after start; found "
                f"start={format_utc(self.start)}, end={format_utc(self.end)}"
            )
        for name in ("strike_usd", "lower_usd", "upper_usd"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0 < value <= MAX_PRICE_USD):
                raise ConfigError(
                    f"{name} must be a positive price in USD at most {MAX_PRICE_USD:g}; "
                    f"found {value}"
                )
        if (
            self.lower_usd is not None
            and self.upper_usd is not None
            and (self.lower_usd >= self.upper_usd)
        ):
            raise ConfigError(
                f"lower_usd must be below upper_usd; found lower_usd={self.lower_usd}, "
                f"upper_usd={self.upper_usd}"
            )
        if self.threshold is not None:
            if not (math.isfinite(self.threshold) and self.threshold > 0):
                raise ConfigError(f"threshold must be positive; found {self.threshold}")
            if self.kind is Kind.MOVE and self.threshold > MAX_MOVE_FRACTION:
                raise ConfigError(
                    f"threshold of a move must be a fraction at most {MAX_MOVE_FRACTION:g} "
                    f"(0.05 = 5%); found {self.threshold}"
                )
            if self.kind is Kind.LIQUIDATIONS_ABOVE and self.threshold > MAX_LIQUIDATIONS_USD:
                raise ConfigError(
                    f"threshold of liquidations_above must be at most "
                    f"{MAX_LIQUIDATIONS_USD:g} USD; found {self.threshold}"
                )
            if self.kind is Kind.MOVE and self.threshold >= 1.0 and self.direction == "down":
                raise ConfigError(
                    f"threshold of a down move must be a fraction below 1 (0.05 = 5%); "
                    f"found {self.threshold}"
                )
        if self.direction is not None and self.direction not in ("up", "down"):
            raise ConfigError(f"direction must be 'up', 'down' or null; found {self.direction!r}")
        if self.side is not None and self.side not in ("long", "short", "total"):
            raise ConfigError(f"side must be 'long', 'short' or 'total'; found {self.side!r}")

    # -- derived ------------------------------------------------------------------------------
    @property
    def monitoring_rule(self) -> Monitoring:
        """The effective monitoring (defaults applied)."""
        if self.monitoring is not None:
            return self.monitoring
        if self.kind in (Kind.TOUCH, Kind.FIRST_OF):
            return Monitoring.CONTINUOUS
        return Monitoring.TERMINAL

    @property
    def neither_value(self) -> float:
        """first_of: YES payoff when no barrier is hit by end (default 0.5)."""
        value = self.resolution.neither_value
        return 0.5 if value is None else value

    @property
    def horizon_hours(self) -> float | None:
        """Window length in hours (None for an open-ended first_of)."""
        if self.end is None:
            return None
        return (self.end - self.start).total_seconds() / 3600.0

    def with_direction(self, direction: str) -> Contract:
        """A copy with ``direction`` set (resolves a partial touch spec; a touch's default
        resolution price follows: ``high`` for up, ``low`` for down)."""
        resolution = self.resolution
        if self.kind is Kind.TOUCH and resolution.price in ("high", "low"):
            resolution = replace(resolution, price="high" if direction == "up" else "low")
        return replace(self, direction=direction, resolution=resolution)

    def describe(self) -> str:
        """The contract in words for people, e.g. 'BTC touches $60,000 (down) by 2026-01-31
        05:00 UTC' (the JSON form keeps ISO-8601 times)."""
        a, end = self.asset, utc_text(self.end) if self.end else "no deadline"
        money = "${:,.0f}".format
        k = self.kind
        if k is Kind.TOUCH:
            way = f" ({self.direction})" if self.direction else ""
            return f"{a} touches {money(self.strike_usd)}{way} by {end}"
        if k is Kind.CLOSE_ABOVE:
            return f"{a} above {money(self.strike_usd)} at {end}"
        if k is Kind.CLOSE_BELOW:
            return f"{a} below {money(self.strike_usd)} at {end}"
        if k is Kind.RANGE:
            return f"{a} in [{money(self.lower_usd)}, {money(self.upper_usd)}) at {end}"
        if k is Kind.UP_DOWN:
            return f"{a} up from {utc_text(self.start)} to {end}"
        if k is Kind.FIRST_OF:
            return f"{a} hits {money(self.upper_usd)} before {money(self.lower_usd)} ({end})"
        if k is Kind.MOVE:
            way = self.direction or "either way"
            return f"{a} moves {self.threshold:.1%} ({way}, {self.monitoring_rule}) by {end}"
        return f"{a} {self.side} liquidations above {money(self.threshold)} by {end}"

    # -- JSON ---------------------------------------------------------------------------------
    def to_json_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §3 object."""
        return {
            "kind": self.kind.value,
            "asset": self.asset,
            "direction": self.direction,
            "strike_usd": self.strike_usd,
            "lower_usd": self.lower_usd,
            "upper_usd": self.upper_usd,
            "threshold": self.threshold,
            "side": self.side,
            "monitoring": self.monitoring_rule.value if self.kind in PRICE_KINDS else None,
            "start": format_utc(self.start),
            "end": format_utc(self.end) if self.end is not None else None,
            "resolution": self.resolution.to_json_dict(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, at: datetime | None = None) -> Contract:
        """Build a contract from its JSON form; omitted fields take the documented defaults.

        Parameters
        ----------
        data
            The §3 object (partial allowed).
        at
            The decision time, the default ``start``.
        """
        check_contract_json(data)
        kind = _enum(Kind, data["kind"], "kind")
        start = data.get("start")
        if start is None:
            if at is None:
                raise ConfigError("start is required when no decision time (--at) is given")
            start = at
        values: dict[str, float] = {}
        for name in ("strike_usd", "lower_usd", "upper_usd", "threshold"):
            value = data.get(name)
            if value is not None:
                values[name] = float(value)  # a strict number (check_contract_json)
        resolution = _default_resolution(kind, str(data["asset"]).upper(), data.get("direction"))
        if data.get("resolution") is not None:
            given = data["resolution"]
            if not isinstance(given, dict):
                raise ConfigError(f"resolution must be an object; found {given!r}")
            resolution = Resolution.from_json({**resolution.to_json_dict(), **given})
        return cls(
            kind=kind,
            asset=str(data["asset"]),
            start=parse_utc(start, name="start"),
            end=parse_utc(data["end"], name="end") if data.get("end") is not None else None,
            resolution=resolution,
            direction=data.get("direction"),
            side=data.get("side"),
            monitoring=data.get("monitoring"),
            **values,
        )

    @classmethod
    def from_json_text(cls, text: str, *, at: datetime | None = None) -> Contract:
        """``from_json`` of a JSON text, decoded with bounds (size, depth, no NaN/Infinity;
        ``contract_schema.loads_contract``): the entry point for text from the command line."""
        return cls.from_json(loads_contract(text), at=at)


def _default_resolution(kind: Kind, asset: str, direction: str | None) -> Resolution:
    if kind is Kind.LIQUIDATIONS_ABOVE:
        return Resolution(source="coinglass", price="close", symbol=asset, interval="1h")
    price = "close"
    if kind is Kind.TOUCH:
        price = "low" if direction == "down" else "high"
    if kind is Kind.FIRST_OF:
        return Resolution(price="close", symbol=f"{asset}USDT", neither_value=0.5)
    if kind is Kind.UP_DOWN:
        return Resolution(price="close", symbol=f"{asset}USDT", tie_value=1.0)
    return Resolution(price=price, symbol=f"{asset}USDT")


def _enum(cls: Any, value: Any, name: str) -> Any:
    try:
        return cls(value)
    except ValueError as e:
        raise ConfigError(f"{name} must be one of {[m.value for m in cls]}; found {value!r}") from e
