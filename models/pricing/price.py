"""Price a contract at a decision time: the ``Pricer`` protocol and the ``Forecast`` result.

``price_contract(contract, view, pricer=...)`` resolves what every pricer shares (the touch
direction of a partial spec, spot and path-to-date from ``models.pricing.market_state``,
outcomes already decided by the path), then asks the ``pricer`` it is given. There is no
registry and no wiring by strings: the built-in pricers are the immutable mapping
``models.pricing.pricers.BUILTIN_PRICERS`` (``gbm``, ``gbm-har``, ``gbm-iv``, ``mc``,
``mc-garch``); the learned ones (``models.learned.pricer.LearnedPricer``) are built by the code
that holds a fit and passed in the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError, DataError, UnsupportedContract
from levercast.features.timeutil import format_utc
from levercast.models.contracts import Contract, Kind
from levercast.models.pricing.market_state import MarketState, resolve_market_state, settled_prob

__all__ = [
    "Forecast",
    "FunctionPricer",
    "Pricer",
    "PricingRequest",
    "price_contract",
]

_PROB_TOL: Final = 1e-9


@dataclass(frozen=True, slots=True)
class Forecast:
    """A probability for a contract at a time, with its band and the inputs behind it.

    Attributes
    ----------
    contract
        The contract priced (a partial touch's direction filled in).
    at
        Decision time (tz-aware UTC).
    prob, prob_lo, prob_hi
        Probability of the event the contract names and its band (``prob_lo <= prob <= prob_hi``).
    model
        The model that produced ``prob`` (a fallback is named in ``warnings``).
    components
        Named sub-probabilities (e.g. ``upper_first``, ``neither``), each in [0, 1].
    inputs
        Spot, venue, spot time, vol and the other inputs used (JSON-able values).
    warnings
        Fallbacks and caveats, as sentences.
    """

    contract: Contract
    at: datetime
    prob: float
    prob_lo: float
    prob_hi: float
    model: str
    components: Mapping[str, float] = field(default_factory=dict)
    inputs: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ConfigError(f"at must be tz-aware UTC; found naive {self.at.isoformat()}")
        probs = {"prob": self.prob, "prob_lo": self.prob_lo, "prob_hi": self.prob_hi}
        probs.update({f"components[{k}]": v for k, v in self.components.items()})
        for name, value in probs.items():
            if not (math.isfinite(value) and -_PROB_TOL <= value <= 1 + _PROB_TOL):
                raise ConfigError(f"{name} must be within [0, 1]; found {value}")
        if not self.prob_lo - _PROB_TOL <= self.prob <= self.prob_hi + _PROB_TOL:
            raise ConfigError(
                f"prob must lie in [prob_lo, prob_hi]; found {self.prob_lo} <= {self.prob} "
                f"<= {self.prob_hi} failing"
            )
        object.__setattr__(self, "components", dict(self.components))
        object.__setattr__(self, "inputs", dict(self.inputs))

    def to_json_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §4 ``price`` object."""

        def clip(p: float) -> float:
            return min(max(float(p), 0.0), 1.0)

        return {
            "contract": self.contract.to_json_dict(),
            "at": format_utc(self.at),
            "prob": clip(self.prob),
            "prob_lo": clip(self.prob_lo),
            "prob_hi": clip(self.prob_hi),
            "model": self.model,
            "components": {k: clip(v) for k, v in self.components.items()},
            "inputs": dict(self.inputs),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class PricingRequest:
    """Everything a pricer receives.

    Attributes
    ----------
    contract
        The contract, direction resolved.
    view
        The store at the decision time (``view.t``).
    state
        Spot and path-to-date.
    seed
        Random seed for stochastic models.
    paths
        Monte Carlo paths (None: the model's default).
    model
        The name of the pricer asked (``gbm-har`` and ``gbm-iv`` choose their vol by it).
    """

    contract: Contract
    view: StoreView
    state: MarketState
    seed: int = 0
    paths: int | None = None
    model: str = "gbm"

    @property
    def at(self) -> datetime:
        """The decision time."""
        return self.state.at


PriceFunction = Callable[[PricingRequest], Forecast]


class Pricer(Protocol):
    """Anything that prices a contract at a decision time.

    ``name`` is what the answer reports as its ``model``; ``refusal(kind)`` says why a kind is
    not priced (None when it is); ``price`` answers from the request's view only.
    """

    @property
    def name(self) -> str:
        """The model name reported in the forecast."""
        ...

    def refusal(self, kind: Kind) -> str | None:
        """Why ``kind`` is not priced, or None."""
        ...

    def price(self, request: PricingRequest) -> Forecast:
        """The forecast of ``request.contract`` at ``request.view.t``."""
        ...


@dataclass(frozen=True, slots=True)
class FunctionPricer:
    """A pricer made of a pricing function and the kinds it refuses (with the reason)."""

    name: str
    function: PriceFunction
    unsupported: Mapping[Kind, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("name must be a non-empty model name; found ''")

    def refusal(self, kind: Kind) -> str | None:
        """The reason ``kind`` is refused, or None."""
        return self.unsupported.get(kind)

    def price(self, request: PricingRequest) -> Forecast:
        """Call the pricing function."""
        return self.function(request)


def _resolve_direction(contract: Contract, state: MarketState) -> Contract:
    if contract.kind is not Kind.TOUCH or contract.direction is not None:
        return contract
    assert contract.strike_usd is not None
    reference = state.start_price_usd if state.window_begun else state.spot_usd
    assert reference is not None
    return contract.with_direction("up" if contract.strike_usd > reference else "down")


def _liquidation_state(contract: Contract, view: StoreView) -> MarketState:
    """A liquidation question needs no price: the asset's state when it has candles, else an
    unpriced one (asset ``ALL``, or a coin with liquidations but no candles)."""
    try:
        return resolve_market_state(contract, view)
    except DataError:
        return MarketState.without_price(view.t.to_pydatetime())


def price_contract(
    contract: Contract,
    view: StoreView,
    *,
    pricer: Pricer,
    seed: int = 0,
    paths: int | None = None,
) -> Forecast:
    """Probability of ``contract``'s event at ``view.t`` by ``pricer``.

    Parameters
    ----------
    contract
        The contract (a partial touch without direction takes ``up`` when the strike is above
        spot at T, or above the start price when the window began earlier).
    view
        The store fixed at the decision time.
    pricer
        The pricer (``BUILTIN_PRICERS[name]``, or a ``LearnedPricer`` around a fit).
    seed, paths
        Passed to stochastic models.

    Raises
    ------
    ConfigError
        ``paths`` not positive, or a decision time at or after the contract end.
    UnsupportedContract
        The pricer refuses this kind (e.g. ``liquidations_above`` for gbm/mc).
    DataError
        No fresh spot source at T.
    """
    refused = pricer.refusal(contract.kind)
    if refused is not None:
        raise UnsupportedContract(refused)
    if paths is not None and paths <= 0:
        raise ConfigError(f"paths must be a positive number of Monte Carlo paths; found {paths}")
    at = view.t.to_pydatetime()
    if contract.end is not None and at >= contract.end:
        raise ConfigError(
            f"at must be before the contract end; found at={format_utc(at)}, "
            f"end={format_utc(contract.end)}"
        )
    if contract.kind is Kind.LIQUIDATIONS_ABOVE:
        state = _liquidation_state(contract, view)
    else:
        state = resolve_market_state(contract, view)
    contract = _resolve_direction(contract, state)
    settled = settled_prob(contract, state)
    if settled is not None:
        return Forecast(
            contract=contract,
            at=at,
            prob=settled,
            prob_lo=settled,
            prob_hi=settled,
            model=pricer.name,
            components={"path_to_date": settled},
            inputs=state.inputs(),
            warnings=(*state.warnings, "outcome already decided by the path to date"),
        )
    request = PricingRequest(contract, view, state, seed=seed, paths=paths, model=pricer.name)
    return pricer.price(request)
