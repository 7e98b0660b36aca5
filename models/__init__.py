"""Contract specs, pricers, learned models, calibration and probabilistic scores.

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Contract": "models.contracts",
    "Kind": "models.contracts",
    "Monitoring": "models.contracts",
    "Resolution": "models.contracts",
    "Forecast": "models.pricing",
    "PricingModel": "models.pricing",
    "PricingRequest": "models.pricing",
    "MODELS": "models.pricing",
    "price_contract": "models.pricing",
    "register_model": "models.pricing",
    "gbm_probabilities": "models.gbm",
    "gbm_vol_at": "models.gbm",
    "VolEstimate": "models.volatility",
    "estimate_vol": "models.volatility",
    "ewma_vol": "models.volatility",
    "har_vol": "models.volatility",
    "PathEvent": "models.montecarlo",
    "MonteCarloResult": "models.montecarlo",
    "simulate_event": "models.montecarlo",
    "prob_touch": "models.closed_form",
    "prob_close_above": "models.closed_form",
    "prob_close_below": "models.closed_form",
    "prob_range": "models.closed_form",
    "prob_double_barrier": "models.closed_form",
    "prob_move_terminal": "models.closed_form",
    "prob_excursion": "models.closed_form",
    "bgk_shift": "models.closed_form",
    "MarketState": "models.spot",
    "resolve_market_state": "models.spot",
    "brier_loss": "models.scoring",
    "log_loss": "models.scoring",
    "expected_calibration_error": "models.scoring",
    "reliability_curve": "models.scoring",
    "brier_decomposition": "models.scoring",
    "block_bootstrap_skill": "models.scoring",
    "SkillEstimate": "models.scoring",
    "TimeCalibratedClassifier": "models.learned",
    "QuantileRegressorSet": "models.learned",
    "lightgbm_classifier": "models.learned",
    "logistic_classifier": "models.learned",
    "contract_grid": "models.contract_grid",
    "market_inputs": "models.contract_grid",
    "to_contracts": "models.contract_grid",
    "Z_GRID": "models.contract_grid",
    "GRID_KINDS": "models.contract_grid",
    "enforce_consistency": "models.consistency",
    "consistency_violations": "models.consistency",
    "monotone_ladder": "models.consistency",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
