"""The built-in pricers, by name: an immutable mapping, not a registry.

``gbm`` (closed forms, EWMA vol), ``gbm-har`` and ``gbm-iv`` (HAR / implied-vol inputs),
``mc`` (filtered-bootstrap Monte Carlo) and ``mc-garch`` (GARCH-t shocks). None of them prices
``liquidations_above`` (they model prices, not liquidation volume). The learned pricers live in
``models.learned.pricer`` and need a fit, so they are built by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from levercast.models.contracts import Kind
from levercast.models.pricing.gbm import price_gbm
from levercast.models.pricing.montecarlo import price_mc
from levercast.models.pricing.price import FunctionPricer, Pricer

__all__ = ["BUILTIN_PRICERS", "GBM"]

_LIQUIDATIONS: Final = (
    "liquidations_above is priced by the liquidation-volume model, not by the price-path models "
    "gbm/mc (they model prices, not liquidation volume)"
)
_NO_LIQ: Final = MappingProxyType({Kind.LIQUIDATIONS_ABOVE: _LIQUIDATIONS})

GBM: Final = FunctionPricer("gbm", price_gbm, _NO_LIQ)
BUILTIN_PRICERS: Final[Mapping[str, Pricer]] = MappingProxyType(
    {
        "gbm": GBM,
        "gbm-har": FunctionPricer("gbm-har", price_gbm, _NO_LIQ),
        "gbm-iv": FunctionPricer("gbm-iv", price_gbm, _NO_LIQ),
        "mc": FunctionPricer("mc", price_mc, _NO_LIQ),
        "mc-garch": FunctionPricer("mc-garch", price_mc, _NO_LIQ),
    }
)
