"""The pricer a command asks for by name: built in, or learned around a usable fit.

Light on purpose: choosing ``gbm`` imports no scikit-learn or LightGBM; the fitting code is
imported only when a learned model is asked for, and a learned pricer finds (or makes) its fit
only when a contract needs it (``OnDemandPricer``): an event the path to date already settled is
answered without any fit. The learned answer's ``warnings`` end with which fit answered
(``experiments.learning.fitting``: reused and its cut, or fitted now).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final, cast

import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, ForecastError
from levercast.models.contracts import Kind
from levercast.models.pricing.price import Forecast, Pricer, PricingRequest
from levercast.models.pricing.pricers import BUILTIN_PRICERS

if TYPE_CHECKING:
    from levercast.experiments.learning.fitting import BuiltPricer
    from levercast.features.dataset.store import StoreView
    from levercast.models.contracts import Contract
    from levercast.models.learned.forecaster import FittedForecaster

__all__ = [
    "LEARNED_MODELS",
    "MARKET_AWARE",
    "MODEL_NAMES",
    "OnDemandPricer",
    "price_contracts",
    "price_each",
    "pricer_for",
]

LEARNED_MODELS: Final = ("learned", "default", "default_vol")
MARKET_AWARE: Final = "market_aware"
MODEL_NAMES: Final = (*BUILTIN_PRICERS, *LEARNED_MODELS, MARKET_AWARE)


class OnDemandPricer:
    """A learned pricer built on the first contract that needs it.

    Parameters
    ----------
    name
        ``learned``, ``default`` or ``default_vol``.
    build
        Finds or makes the fit and wraps it (``experiments.learning.fitting.build_pricer``).
    """

    __slots__ = ("_build", "_built", "name")

    def __init__(self, name: str, build: Callable[[], BuiltPricer]) -> None:
        if name not in LEARNED_MODELS:
            raise ConfigError(f"name must be one of {list(LEARNED_MODELS)}; found {name!r}")
        self.name = name
        self._build = build
        self._built: BuiltPricer | None = None

    def refusal(self, kind: Kind) -> str | None:
        """Every kind is accepted (``gbm`` or the climatology answers outside the model)."""
        return None

    @property
    def built(self) -> BuiltPricer:
        """The pricer and its notes (built now if not yet)."""
        if self._built is None:
            self._built = self._build()
        return self._built

    @property
    def fitted(self) -> FittedForecaster | None:
        """The fit that answered so far (None before the first learned answer, or without a
        fit)."""
        return None if self._built is None else self._built.fitted

    def price(self, request: PricingRequest) -> Forecast:
        """The learned pricer's answer, its warnings followed by which fit answered."""
        return self.price_many([request])[0]

    def price_many(self, requests: Sequence[PricingRequest]) -> list[Forecast]:
        """``price`` of each request, one model call per (asset, decision time)
        (``LearnedPricer.price_many``)."""
        built = self.built
        answers = built.pricer.price_many(requests)
        if not built.notes:
            return answers
        return [replace(a, warnings=(*a.warnings, *built.notes)) for a in answers]


class _Deferred:
    """A pricer that answers nothing yet: it records each request ``price_contract`` hands it
    (after the checks, market state and path-to-date answers of ``price_contract``) so that
    ``price_contracts`` can price them in one batch."""

    __slots__ = ("_inner", "name", "requests")

    def __init__(self, inner: Pricer) -> None:
        self._inner = inner
        self.name = inner.name
        self.requests: list[PricingRequest] = []

    def refusal(self, kind: Kind) -> str | None:
        return self._inner.refusal(kind)

    def price(self, request: PricingRequest) -> Forecast:
        self.requests.append(request)
        return _PENDING


_PENDING: Final = cast("Forecast", object())


def price_contracts(
    contracts: Sequence[Contract], view: StoreView, *, pricer: Pricer
) -> list[Forecast]:
    """``price_contract(c, view, pricer=pricer)`` for each contract, in order, value for value;
    a learned pricer (``OnDemandPricer``, ``LearnedPricer``) answers every contract in one model
    call per (asset, decision time) instead of one call per contract (issue 22: a report's strike
    ladder); any other pricer is called once per contract. Errors are those of
    ``price_contract`` for the first contract that raises."""
    from levercast.models.pricing.price import price_contract

    batch = getattr(pricer, "price_many", None)  # the learned pricers (no import of them here)
    if batch is None:
        return [price_contract(c, view, pricer=pricer) for c in contracts]
    deferred = _Deferred(pricer)
    out = [price_contract(c, view, pricer=deferred) for c in contracts]
    answers = iter(batch(deferred.requests) if deferred.requests else [])
    return [next(answers) if forecast is _PENDING else forecast for forecast in out]


def price_each(
    contracts: Sequence[Contract], view: StoreView, *, pricer: Pricer
) -> list[Forecast | ForecastError]:
    """As ``price_contracts``, with each contract's error in its place instead of raised: a
    contract ``price_contract`` refuses (unsupported kind, no data) is that error, the others are
    answered, a learned pricer's in one model call per (asset, decision time). An error of that
    one call is the answer of every contract it was to answer (the scanner: one refused market
    never hides the others)."""
    from levercast.models.pricing.price import price_contract

    batch = getattr(pricer, "price_many", None)
    target = pricer if batch is None else _Deferred(pricer)
    out: list[Forecast | ForecastError] = []
    for contract in contracts:
        asked = len(target.requests) if isinstance(target, _Deferred) else 0
        try:
            out.append(price_contract(contract, view, pricer=target))
        except ForecastError as e:
            if isinstance(target, _Deferred):
                del target.requests[asked:]  # a request made before the error is not answered
            out.append(e)
    if batch is None or not isinstance(target, _Deferred) or not target.requests:
        return out
    try:
        answers: list[Forecast | ForecastError] = list(batch(target.requests))
    except ForecastError as e:
        answers = [e] * len(target.requests)
    pending = iter(answers)
    return [next(pending) if forecast is _PENDING else forecast for forecast in out]


def pricer_for(
    name: str,
    store: Store,
    *,
    asset: str,
    at: pd.Timestamp,
    kind: Kind | None = None,
) -> Pricer:
    """The pricer called ``name``; a learned one is fitted (or loaded) for ``asset`` at ``at``
    when its first contract needs it.

    ``kind`` (the contract's) narrows a learned fit to what answers that kind
    (``experiments.learning.fitting.question_config``): a ``liquidations_above`` question fits
    only the cheap liquidation-volume model (asset ``ALL`` does the same), a range under
    ``default`` needs no fit. Without ``kind`` the full configuration is fitted (many kinds).

    Raises
    ------
    ConfigError
        Unknown model name, or ``market_aware``: it combines our model with the market's own
        price, which a contract alone does not carry (``evaluate`` and ``scan`` build it from
        the quotes).
    """
    if name == MARKET_AWARE:
        raise ConfigError(
            "market_aware needs the market's price: use evaluate/scan (price and report "
            "price a contract without a quote)"
        )
    if name in BUILTIN_PRICERS:
        return BUILTIN_PRICERS[name]
    if name in LEARNED_MODELS:
        from levercast.features.liquidation_windows import ALL_ASSETS

        if asset == ALL_ASSETS:
            kind = Kind.LIQUIDATIONS_ABOVE
        stamp = pd.Timestamp(at)

        def build() -> BuiltPricer:
            from levercast.experiments.learning.fitting import build_pricer

            return build_pricer(name, store, asset=asset, at=stamp, kind=kind)

        return OnDemandPricer(name, build)
    raise ConfigError(f"model must be one of {list(MODEL_NAMES)}; found {name!r}")
