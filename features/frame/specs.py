"""What the feature frame reads and what a feature is: input specs, feature specs and reasons.

Inputs
    An ``InputSpec`` names one logical input (``price``, ``open_interest``, ``funding``...), the
    table it is read from and its candidate series (venue or source, native interval, extra
    filters) **in order of preference**: widest scope first for open interest and liquidations.
    At each decision time ``t`` the frame picks the first candidate that is fresh at ``t``: its
    last row became available at most ``max staleness`` before ``t`` (default twice the
    candidate's native interval, so one missing bar is tolerated, two are not). An input with
    ``choose="freshest"`` (exchange reserves: one provider per candidate) picks instead, among
    the fresh candidates, the one whose last known row describes the latest ``ts`` (ties: the
    earlier candidate). Either way the choice uses only rows with ``available_at <= t``, never
    how far a series runs past ``t``. A candidate with ``parts`` is the sum of disjoint venues'
    series (``binance+bybit+okx``: the scope of the CoinGlass aggregate, built from the venues'
    own rows). ``INPUTS`` is the read-only catalogue of every input.

Features
    A ``FeatureSpec`` holds name, unit, description, required inputs (a stale or missing required
    input makes the feature NaN with the input's reason), optional inputs (reported, never
    masking), per-input staleness overrides and the builder: ``builder(ctx) -> FeatureColumn``,
    one value and one reason per decision time of ``ctx`` (a
    ``features.frame.inputs.FrameContext``).
    Each builder module lists its specs in a module-level tuple; ``features.frame.registry``
    concatenates them into the catalogue ``FEATURES``.

Reasons
    Every NaN value carries a reason (a string; ``None`` where the value is set). The helpers
    below build, combine and word them.

This module imports nothing of the frame engine: ``features.frame.inputs`` and every builder
import it, so ``FeatureSpec`` is generic in the context type its builder reads instead of naming
``FrameContext`` (which would close the cycle ``specs -> inputs -> specs``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.errors import ConfigError
from levercast.features.timeutil import format_utc

__all__ = [
    "EXCHANGES",
    "INPUTS",
    "LIQUIDATION_INTERVALS",
    "Candidate",
    "FeatureColumn",
    "FeatureSpec",
    "InputSpec",
    "ReasonArray",
    "first_reason",
    "format_ns",
    "format_span",
    "has_no_reason",
    "reason_where",
    "windowed",
]

ReasonArray = npt.NDArray[np.object_]
C = TypeVar("C")  # the context a builder reads: features.frame.inputs.FrameContext

_NS_PER_HOUR: Final = 3_600_000_000_000
_NONE: Final = np.array(None, dtype=object)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One series that can serve an input.

    Attributes
    ----------
    venue
        Value of the table's venue (or source) column.
    native_interval
        Native sampling interval; the default maximum staleness is twice this.
    filters
        Extra equality filters, e.g. ``(("interval", "1h"),)``.
    scope
        Human description of what the series covers (reported in docs, not used in maths).
    parts
        Venues whose rows are summed into this series (disjoint scopes, e.g. three exchanges):
        a row exists at a ``ts`` where every part has a row with a value, its float columns are
        the sums and its ``available_at`` the latest of the parts'. ``venue`` is then the parts
        joined by ``+`` (what ``sources`` reports). Empty: the rows of ``venue`` itself.
    """

    venue: str
    native_interval: pd.Timedelta
    filters: tuple[tuple[str, str], ...] = ()
    scope: str = ""
    parts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.native_interval <= pd.Timedelta(0):
            raise ConfigError(
                f"native_interval must be positive; found {self.native_interval} for {self.venue}"
            )
        if self.parts and (len(self.parts) < 2 or self.venue != "+".join(self.parts)):
            raise ConfigError(
                f"a summed candidate must have 2 or more parts and venue '+'.join(parts); "
                f"found venue={self.venue!r}, parts={self.parts}"
            )


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A logical input read from one table with candidates in order of preference.

    ``choose`` is ``"widest"`` (the first fresh candidate) or ``"freshest"`` (the fresh candidate
    whose last known row has the latest ``ts``; see the module docstring).
    """

    name: str
    table: str
    value_column: str
    candidates: tuple[Candidate, ...]
    venue_column: str = "venue"
    description: str = ""
    choose: Literal["widest", "freshest"] = "widest"

    def __post_init__(self) -> None:
        if self.choose not in ("widest", "freshest"):
            raise ConfigError(
                f"choose must be 'widest' or 'freshest'; found {self.choose!r} for {self.name}"
            )


def _h(hours: float) -> pd.Timedelta:
    return pd.Timedelta(hours=hours)


_HOURLY_CANDLES: Final = (("interval", "1h"),)
# The exchanges whose own series levercast fetches and records, widest first (by open interest).
EXCHANGES: Final = ("binance", "bybit", "okx")
# Bucket widths ``levercast record liquidations --every`` writes (coarsest first).
LIQUIDATION_INTERVALS: Final = ("1h", "30m", "15m", "5m")
_ALL_EXCHANGES: Final = "+".join(EXCHANGES)
_EXCHANGE_SCOPE: Final = {
    "binance": "Binance USD-M only",
    "bybit": "Bybit USDT perpetual only",
    "okx": "OKX USDT swap only",
}


def _summed(interval: pd.Timedelta, filters: tuple[tuple[str, str], ...] = ()) -> Candidate:
    return Candidate(
        _ALL_EXCHANGES,
        interval,
        filters,
        "Binance+Bybit+OKX summed from the venues' own series",
        parts=EXCHANGES,
    )


def _recorded(venues: tuple[str, ...]) -> tuple[Candidate, ...]:
    """Recorder buckets of ``venues`` (a venue, or the sum of all three), one per bucket width."""
    out = []
    for interval in LIQUIDATION_INTERVALS:
        filters = (("interval", interval),)
        if len(venues) > 1:
            out.append(_summed(pd.Timedelta(interval), filters))
        else:
            scope = f"{_EXCHANGE_SCOPE[venues[0]]}, recorded {interval} buckets (lower bounds)"
            out.append(Candidate(venues[0], pd.Timedelta(interval), filters, scope))
    return tuple(out)


def _account_ratio(venue: str) -> Candidate:
    return Candidate(venue, _h(1), (("metric", "global_account_ratio"),), _EXCHANGE_SCOPE[venue])


def _liquidation_input(venue: str) -> InputSpec:
    return InputSpec(
        f"liquidations_{venue}",
        "liquidations",
        "long_usd",
        _recorded((venue,)),
        description=f"{venue} long/short liquidations as recorded from its stream (USD, lower "
        "bounds)",
    )


INPUTS: Final[Mapping[str, InputSpec]] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            InputSpec(
                "price",
                "candles",
                "close",
                (
                    Candidate("binance-usdm", _h(1), _HOURLY_CANDLES, "Binance USD-M perpetual"),
                    Candidate("bitget-usdtm", _h(1), _HOURLY_CANDLES, "Bitget USDT-M perpetual"),
                    Candidate("binance-spot", _h(1), _HOURLY_CANDLES, "Binance spot"),
                    Candidate("deribit", _h(1), _HOURLY_CANDLES, "Deribit perpetual"),
                ),
                description="1h bar close (USD); zero-volume bars are placeholders and dropped",
            ),
            InputSpec(
                "open_interest",
                "open_interest",
                "oi_usd",
                (
                    Candidate("all-exchanges", _h(24), scope="all exchanges (daily)"),
                    Candidate("aggregate", _h(1), scope="Binance+Bybit+OKX aggregate (hourly)"),
                    _summed(_h(1)),
                    *(Candidate(v, _h(1), scope=_EXCHANGE_SCOPE[v]) for v in EXCHANGES),
                ),
                description="open interest in USD, widest scope fresh at t (overlapping scopes "
                "are never summed; the three exchanges' own series are, as one wider candidate)",
            ),
            InputSpec(
                "open_interest_flow",
                "open_interest",
                "oi_usd",
                (
                    Candidate("aggregate", _h(1), scope="Binance+Bybit+OKX aggregate (hourly)"),
                    _summed(_h(1)),
                    *(Candidate(v, _h(1), scope=_EXCHANGE_SCOPE[v]) for v in EXCHANGES),
                ),
                description="hourly open interest for per-bar changes (widest hourly scope)",
            ),
            InputSpec(
                "funding",
                "funding",
                "rate",
                (Candidate("binance", _h(8), scope="Binance USD-M"),),
                description="funding rate per 8h interval (decimal)",
            ),
            InputSpec(
                "liquidations",
                "liquidations",
                "long_usd",
                (
                    Candidate("aggregate", _h(1), (("interval", "1h"),), "CoinGlass aggregate"),
                    *_recorded(EXCHANGES),
                    *(c for v in EXCHANGES for c in _recorded((v,))),
                ),
                description="long/short liquidations (USD), widest scope fresh at t: the "
                "CoinGlass aggregate, else the recorded streams of the three exchanges summed, "
                "else one exchange's",
            ),
            *(_liquidation_input(v) for v in EXCHANGES),
            InputSpec(
                "exchange_reserves",
                "exchange_reserves",
                "reserve_base",
                (
                    Candidate("cryptoquant-style", _h(24), scope="all exchanges (dataset)"),
                    Candidate("cryptoquant", _h(24), scope="all exchanges (CryptoQuant API)"),
                    Candidate("glassnode", _h(24), scope="all exchanges (Glassnode API)"),
                    Candidate("csv", _h(24), scope="a CSV file ($LEVERCAST_RESERVES_CSV)"),
                    Candidate(
                        "defillama",
                        _h(24),
                        scope="Binance+OKX+Bybit wallets as attributed by DefiLlama, "
                        "available from the fetch time",
                    ),
                ),
                venue_column="source",
                description="coins held on exchange wallets, daily, from the provider freshest "
                "at t",
                choose="freshest",
            ),
            InputSpec(
                "top_trader_ratio",
                "ratios",
                "value",
                # Metric names as features/sources writes them (binance REST and archive).
                (Candidate("binance", _h(1), (("metric", "top_position_ratio"),)),),
                description="top-trader long/short POSITION ratio (optional ratios table)",
            ),
            InputSpec(
                "taker_ratio",
                "ratios",
                "value",
                (
                    Candidate("binance", _h(1), (("metric", "taker_buy_sell_ratio_1h"),)),
                    Candidate(
                        "binance",
                        pd.Timedelta(minutes=5),
                        (("metric", "taker_buy_sell_ratio_5m"),),
                    ),
                ),
                description="taker buy/sell volume ratio over the bucket (optional ratios table)",
            ),
            InputSpec(
                "account_ratio",
                "ratios",
                "value",
                tuple(_account_ratio(v) for v in EXCHANGES),
                description="long/short ACCOUNT ratio of all accounts (head counts; optional "
                "ratios table)",
            ),
        )
    }
)


# -- reasons ---------------------------------------------------------------------------------
def has_no_reason(reasons: ReasonArray) -> npt.NDArray[np.bool_]:
    """Element-wise ``reason is None``."""
    return np.asarray(np.equal(reasons, _NONE), dtype=bool)


def reason_where(mask: npt.NDArray[np.bool_], text: str) -> ReasonArray:
    """An object array holding ``text`` where ``mask`` and None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[np.asarray(mask, dtype=bool)] = text
    return out


def first_reason(*arrays: ReasonArray) -> ReasonArray:
    """Element-wise first non-None reason among the arrays."""
    out = np.full(len(arrays[0]), None, dtype=object)
    for arr in arrays:
        empty = has_no_reason(out)
        out[empty] = arr[empty]
    return out


def format_ns(ns: int) -> str:
    """UTC ISO-8601 text of an integer-nanosecond time (whole seconds), for reasons."""
    whole = int(ns) - int(ns) % 10**9
    return format_utc(pd.Timestamp(whole, tz="UTC").to_pydatetime())


def format_span(ns: int) -> str:
    """``30d``, ``24h``, ``90m`` for a span in nanoseconds, for reasons."""
    hours = ns / _NS_PER_HOUR
    if hours >= 24 and hours % 24 == 0:
        return f"{int(hours // 24)}d"
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)}h"
    return f"{ns / 60e9:g}m"


# -- features --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FeatureColumn:
    """Values of one feature at the context's decision times, with a reason wherever NaN."""

    values: FloatArray
    reasons: ReasonArray

    @classmethod
    def build(cls, values: Any, reasons: Any, *, fallback: str = "not computable") -> FeatureColumn:
        """Normalise: float64 values, NaN wherever a reason is given, a reason wherever NaN.

        Infinite values become NaN; a NaN without a reason gets ``fallback``.
        """
        vals = np.asarray(values, dtype=np.float64).copy()
        vals[~np.isfinite(vals)] = np.nan
        why = np.asarray(reasons, dtype=object).copy()
        if why.shape != vals.shape:
            why = np.full(vals.shape, None, dtype=object)
        vals[~has_no_reason(why)] = np.nan
        unexplained = np.isnan(vals) & has_no_reason(why)
        why[unexplained] = fallback
        return cls(vals, why)


def windowed(fn: Callable[[C, int], FeatureColumn], window_ns: int) -> Callable[[C], FeatureColumn]:
    """A builder calling ``fn(ctx, window_ns)`` (one function, several windows)."""

    def build(ctx: C) -> FeatureColumn:
        return fn(ctx, window_ns)

    build.__qualname__ = f"{fn.__qualname__}[{window_ns}]"
    build.__module__ = fn.__module__
    return build


@dataclass(frozen=True, slots=True)
class FeatureSpec(Generic[C]):
    """One feature of the catalogue.

    Generic in the context ``C`` its builder reads (``FeatureSpec[FrameContext]`` in
    annotations); construct it unsubscripted, ``FeatureSpec(name, ...)``, and let the builder
    fix ``C``.

    Attributes
    ----------
    name
        Column name (unit in the name where not obvious).
    unit
        ``usd``, ``fraction``, ``ratio``, ``score[-1,1]``, ``prob``, ``flag``, ``annualised``...
    description
        What it measures and how (the recipe).
    inputs
        Required inputs (keys of ``INPUTS``): stale or missing -> NaN with the input's reason.
    builder
        ``builder(ctx) -> FeatureColumn``.
    optional_inputs
        Inputs used when present; reported in ``sources`` but never masking the feature.
    max_staleness
        ``(input, Timedelta)`` overrides of the default (twice the native interval); they may only
        tighten the default, since selection already drops candidates beyond it.
    """

    name: str
    unit: str
    description: str
    inputs: tuple[str, ...]
    builder: Callable[[C], FeatureColumn] = field(compare=False)
    optional_inputs: tuple[str, ...] = ()
    max_staleness: tuple[tuple[str, pd.Timedelta], ...] = ()

    def __post_init__(self) -> None:
        unknown = [i for i in (*self.inputs, *self.optional_inputs) if i not in INPUTS]
        if unknown:
            raise ConfigError(
                f"inputs of feature {self.name!r} must be names of INPUTS {sorted(INPUTS)}; "
                f"found {unknown}"
            )

    @property
    def required_tables(self) -> tuple[str, ...]:
        """Tables the required inputs read."""
        return tuple(dict.fromkeys(INPUTS[i].table for i in self.inputs))

    def staleness_override(self, input_name: str) -> pd.Timedelta | None:
        """The override for ``input_name``, if any."""
        for name, limit in self.max_staleness:
            if name == input_name:
                return limit
        return None
