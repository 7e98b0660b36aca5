"""The feature registry: what each feature is, what it reads and how stale its inputs may be.

Inputs
    An ``InputSpec`` names one logical input (``price``, ``open_interest``, ``funding``...), the
    table it is read from and its candidate series (venue or source, native interval, extra
    filters) **in order of preference**: widest scope first for open interest. At each decision
    time ``t`` the frame picks the first candidate that is fresh at ``t``: its last row became
    available at most ``max staleness`` before ``t`` (default twice the candidate's native
    interval, so one missing bar is tolerated, two are not). The choice uses only rows with
    ``available_at <= t``, never how far a series runs past ``t``.

Features
    A ``FeatureSpec`` holds name, unit, description, required inputs (a stale or missing required
    input makes the feature NaN with the input's reason), optional inputs (reported, never
    masking), per-input staleness overrides and the builder: ``builder(ctx) -> FeatureColumn``,
    one value and one reason per decision time of ``ctx``
    (a ``features.frame.inputs.FrameContext``).

Registration is open: any module calls ``register(spec)`` at import; ``BUILDER_MODULES`` lists the
modules the frame imports (``load_builders``) so their registrations run. Modules missing from
the installation are skipped (``features.liqmap.clusters`` registers the liquidation-map features).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.errors import ConfigError

if TYPE_CHECKING:
    from levercast.features.frame.inputs import FrameContext

__all__ = [
    "BUILDER_MODULES",
    "INPUTS",
    "Candidate",
    "FeatureColumn",
    "FeatureSpec",
    "InputSpec",
    "feature_specs",
    "has_no_reason",
    "load_builders",
    "reason_where",
    "register",
    "register_input",
    "windowed",
]

ReasonArray = npt.NDArray[np.object_]


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
    """

    venue: str
    native_interval: pd.Timedelta
    filters: tuple[tuple[str, str], ...] = ()
    scope: str = ""

    def __post_init__(self) -> None:
        if self.native_interval <= pd.Timedelta(0):
            raise ConfigError(
                f"native_interval must be positive; found {self.native_interval} for {self.venue}"
            )


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A logical input read from one table with candidates in order of preference."""

    name: str
    table: str
    value_column: str
    candidates: tuple[Candidate, ...]
    venue_column: str = "venue"
    description: str = ""


def _h(hours: float) -> pd.Timedelta:
    return pd.Timedelta(hours=hours)


_HOURLY_CANDLES: Final = (("interval", "1h"),)

INPUTS: dict[str, InputSpec] = {
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
                Candidate("bybit", _h(1), scope="Bybit USDT perpetual only (hourly)"),
            ),
            description="open interest in USD, widest scope fresh at t (never summed)",
        ),
        InputSpec(
            "open_interest_flow",
            "open_interest",
            "oi_usd",
            (
                Candidate("aggregate", _h(1), scope="Binance+Bybit+OKX aggregate (hourly)"),
                Candidate("bybit", _h(1), scope="Bybit USDT perpetual only (hourly)"),
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
            (Candidate("aggregate", _h(1), (("interval", "1h"),), "CoinGlass aggregate"),),
            description="hourly long/short liquidations (USD)",
        ),
        InputSpec(
            "exchange_reserves",
            "exchange_reserves",
            "reserve_base",
            (Candidate("cryptoquant-style", _h(24), scope="all exchanges"),),
            venue_column="source",
            description="coins held on exchange wallets, daily, available the next day",
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
                    "binance", pd.Timedelta(minutes=5), (("metric", "taker_buy_sell_ratio_5m"),)
                ),
            ),
            description="taker buy/sell volume ratio over the bucket (optional ratios table)",
        ),
    )
}


def register_input(spec: InputSpec) -> None:
    """Add (or identically re-add) an input; a different spec under a known name is refused."""
    known = INPUTS.get(spec.name)
    if known is not None and known != spec:
        raise ConfigError(f"input name must be unique; found a second spec for {spec.name!r}")
    INPUTS[spec.name] = spec


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


Builder = Callable[["FrameContext"], FeatureColumn]

_NONE: Final = np.array(None, dtype=object)


def has_no_reason(reasons: ReasonArray) -> npt.NDArray[np.bool_]:
    """Element-wise ``reason is None``."""
    return np.asarray(np.equal(reasons, _NONE), dtype=bool)


def reason_where(mask: npt.NDArray[np.bool_], text: str) -> ReasonArray:
    """An object array holding ``text`` where ``mask`` and None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[np.asarray(mask, dtype=bool)] = text
    return out


def windowed(fn: Callable[[FrameContext, int], FeatureColumn], window_ns: int) -> Builder:
    """A builder calling ``fn(ctx, window_ns)`` (one function, several windows)."""

    def build(ctx: FrameContext) -> FeatureColumn:
        return fn(ctx, window_ns)

    build.__qualname__ = f"{fn.__qualname__}[{window_ns}]"
    build.__module__ = fn.__module__
    return build


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One registered feature.

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
    builder: Builder = field(compare=False)
    optional_inputs: tuple[str, ...] = ()
    max_staleness: tuple[tuple[str, pd.Timedelta], ...] = ()

    def __post_init__(self) -> None:
        unknown = [i for i in (*self.inputs, *self.optional_inputs) if i not in INPUTS]
        if unknown:
            raise ConfigError(
                f"inputs of feature {self.name!r} must be registered inputs {sorted(INPUTS)}; "
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


_REGISTRY: dict[str, FeatureSpec] = {}

# Modules whose import registers features; missing modules are skipped.
BUILDER_MODULES: list[str] = [
    "levercast.features.builders.signals",
    "levercast.features.builders.elr",
    "levercast.features.builders.dominance",
    # the liquidation-map features (features.liqmap.map, features.liqmap.snapshots)
    "levercast.features.liqmap.clusters",
]


def register(spec: FeatureSpec) -> FeatureSpec:
    """Register a feature; re-registering the same spec (module reload) is a no-op.

    Raises
    ------
    ConfigError
        If another spec already holds the name.
    """
    known = _REGISTRY.get(spec.name)
    if known is not None and (
        known != spec or known.builder.__qualname__ != spec.builder.__qualname__
    ):
        raise ConfigError(f"feature name must be unique; found a second spec for {spec.name!r}")
    _REGISTRY[spec.name] = spec
    return spec


def load_builders() -> None:
    """Import every module of ``BUILDER_MODULES`` (skipping those not installed)."""
    for module in BUILDER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def feature_specs() -> list[FeatureSpec]:
    """Every registered feature, in registration order (builder modules loaded first)."""
    load_builders()
    return list(_REGISTRY.values())
