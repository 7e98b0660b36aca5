"""levercast: calibrated probabilities for crypto prediction-market questions.

The installed package has four layers, imported one way (``features -> models -> markets ->
experiments``): ``levercast.features`` (the point-in-time dataset, sources, feature builders),
``levercast.models`` (contracts, pricers, learned models), ``levercast.markets`` (venues, the
question parser, fees, odds) and ``levercast.experiments`` (backtests, evaluation, reports, the
scanner, the CLI).

The Python API (``levercast.experiments.api``) is re-exported here for notebooks::

    import levercast as lc
    ds = lc.Dataset("../shared/data")
    lc.price("Will Bitcoin dip to $60,000 in February?", at="2026-02-10T00:00Z", data=ds).prob

``Dataset``, ``price``, ``ask``, ``parse``, ``backtest``, ``evaluate``, ``forecaster``,
``contracts_frame``, ``model_inputs`` and the result types ``PriceResult``, ``AskResult``.

Public names are re-exported lazily (PEP 562), so ``import levercast`` imports no pandas.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_API = "levercast.experiments.api"
_EXPORTS: dict[str, str] = {
    "Dataset": _API,
    "price": _API,
    "ask": _API,
    "parse": _API,
    "backtest": _API,
    "evaluate": _API,
    "forecaster": _API,
    "contracts_frame": _API,
    "model_inputs": _API,
    "PriceResult": "levercast.experiments.answers",
    "AskResult": "levercast.experiments.answers",
    "Store": "levercast.features.dataset.store",
    "StoreView": "levercast.features.dataset.store",
    "Contract": "levercast.models.contracts",
    "Forecast": "levercast.models.pricing.price",
    "price_contract": "levercast.models.pricing.price",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'levercast' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
