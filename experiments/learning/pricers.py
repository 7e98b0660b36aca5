"""The pricer a command asks for by name: built in, or learned around a usable fit.

Light on purpose: choosing ``gbm`` imports no scikit-learn or LightGBM; the fitting code is
imported only when a learned model is asked for.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.liquidation_windows import ALL_ASSETS
from levercast.models.contracts import Kind
from levercast.models.pricing.price import Pricer
from levercast.models.pricing.pricers import BUILTIN_PRICERS

__all__ = ["LEARNED_MODELS", "MARKET_AWARE", "MODEL_NAMES", "pricer_for"]

LEARNED_MODELS: Final = ("learned", "default", "default_vol")
MARKET_AWARE: Final = "market_aware"
MODEL_NAMES: Final = (*BUILTIN_PRICERS, *LEARNED_MODELS, MARKET_AWARE)


def pricer_for(
    name: str,
    store: Store,
    *,
    asset: str,
    at: pd.Timestamp,
    kind: Kind | None = None,
) -> Pricer:
    """The pricer called ``name``; a learned one is fitted (or loaded) for ``asset`` at ``at``.

    ``kind`` (the contract's) lets a ``liquidations_above`` question fit only the cheap
    liquidation-volume model; asset ``ALL`` (a liquidation-only asset) does the same.

    Raises
    ------
    ConfigError
        Unknown model name, or ``market_aware``: it combines our model with the market's own
        price, which a contract alone does not carry (``evaluate`` and ``scan`` build it from
        the quotes).
    """
    if name == MARKET_AWARE:
        raise ConfigError(
            "market_aware needs the market's price: use evaluate/scan/ask (price and report "
            "price a contract without a quote)"
        )
    if name in BUILTIN_PRICERS:
        return BUILTIN_PRICERS[name]
    if name in LEARNED_MODELS:
        from levercast.experiments.learning import fitting

        if kind is Kind.LIQUIDATIONS_ABOVE or asset == ALL_ASSETS:
            return fitting.liquidation_pricer(name, store, asset=asset, at=pd.Timestamp(at))
        return fitting.learned_pricer(name, store, asset=asset, at=pd.Timestamp(at))
    raise ConfigError(f"model must be one of {list(MODEL_NAMES)}; found {name!r}")
