"""Contract specs, pricers, learned models, calibration and probabilistic scores.

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "Contract": "levercast.models.contracts",
    "Kind": "levercast.models.contracts",
    "Monitoring": "levercast.models.contracts",
    "Resolution": "levercast.models.contracts",
    "Forecast": "levercast.models.pricing.price",
    "Pricer": "levercast.models.pricing.price",
    "FunctionPricer": "levercast.models.pricing.price",
    "PricingRequest": "levercast.models.pricing.price",
    "price_contract": "levercast.models.pricing.price",
    "BUILTIN_PRICERS": "levercast.models.pricing.pricers",
    "FittedForecaster": "levercast.models.learned.forecaster",
    "fit_forecaster": "levercast.models.learned.forecaster",
    "LearnedPricer": "levercast.models.learned.pricer",
    "LiquidationVolumeModel": "levercast.models.learned.liquidation_volume",
    "TrainingConfig": "levercast.models.learned.design",
    "TrainingSet": "levercast.models.learned.design",
    "walk_forward_splits": "levercast.models.learned.splits",
    "logit": "levercast.models.probability",
    "expit": "levercast.models.probability",
    "gbm_probabilities": "levercast.models.pricing.gbm",
    "gbm_vol_at": "levercast.models.pricing.gbm",
    "VolEstimate": "levercast.models.pricing.volatility",
    "estimate_vol": "levercast.models.pricing.volatility",
    "ewma_vol": "levercast.models.pricing.volatility",
    "har_vol": "levercast.models.pricing.volatility",
    "PathEvent": "levercast.models.pricing.montecarlo",
    "MonteCarloResult": "levercast.models.pricing.montecarlo",
    "simulate_event": "levercast.models.pricing.montecarlo",
    "prob_touch": "levercast.models.pricing.closed_form",
    "prob_close_above": "levercast.models.pricing.closed_form",
    "prob_close_below": "levercast.models.pricing.closed_form",
    "prob_range": "levercast.models.pricing.closed_form",
    "prob_double_barrier": "levercast.models.pricing.closed_form",
    "prob_move_terminal": "levercast.models.pricing.closed_form",
    "prob_excursion": "levercast.models.pricing.closed_form",
    "bgk_shift": "levercast.models.pricing.closed_form",
    "MarketState": "levercast.models.pricing.market_state",
    "resolve_market_state": "levercast.models.pricing.market_state",
    "brier_loss": "levercast.models.scoring",
    "log_loss": "levercast.models.scoring",
    "expected_calibration_error": "levercast.models.scoring",
    "reliability_curve": "levercast.models.scoring",
    "brier_decomposition": "levercast.models.scoring",
    "block_bootstrap_skill": "levercast.models.scoring",
    "SkillEstimate": "levercast.models.scoring",
    "TimeCalibratedClassifier": "levercast.models.learned.estimators",
    "QuantileRegressorSet": "levercast.models.learned.estimators",
    "lightgbm_classifier": "levercast.models.learned.estimators",
    "logistic_classifier": "levercast.models.learned.estimators",
    "contract_grid": "levercast.models.learned.contract_grid",
    "market_inputs": "levercast.models.pricing.market_state",
    "to_contracts": "levercast.models.learned.contract_grid",
    "Z_GRID": "levercast.models.learned.contract_grid",
    "GRID_KINDS": "levercast.models.learned.contract_grid",
    "enforce_consistency": "levercast.models.consistency",
    "consistency_violations": "levercast.models.consistency",
    "monotone_ladder": "levercast.models.consistency",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
