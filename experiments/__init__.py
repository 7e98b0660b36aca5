"""Backtests, evaluation, MLflow tracking, reports, the scanner and the CLI.

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "main": "experiments.cli",
    "label_contracts": "experiments.outcomes",
    "realised_outcome": "experiments.outcomes",
    "run_grid": "experiments.grid",
    "RunRecord": "experiments.tracking",
    "log_run": "experiments.tracking",
    "fetch": "experiments.fetching",
    "record": "experiments.fetching",
    "fetch_markets": "experiments.venue_fetch",
    "record_books": "experiments.venue_fetch",
    "make_clients": "experiments.venue_fetch",
    "scan": "experiments.scanner",
    "ScanRow": "experiments.scanner_rows",
    "ScanResult": "experiments.scanner_rows",
    "KellyCaps": "experiments.scanner_rows",
    "apply_caps": "experiments.scanner",
    "append_forecasts": "experiments.forward_log",
    "read_forecasts": "experiments.forward_log",
    "build_report": "experiments.report",
    "write_report": "experiments.report",
    "FittedForecaster": "experiments.forecaster",
    "fit_default": "experiments.forecaster",
    "load_or_fit": "experiments.forecaster",
    "TrainingConfig": "experiments.training",
    "assemble_training_set": "experiments.training",
    "LiquidationVolumeModel": "experiments.liquidation_volume",
    "fit_liquidation_model": "experiments.liquidation_volume",
    "register_forecast_models": "experiments.forecast_pricing",
    "BacktestConfig": "experiments.backtest",
    "BacktestResult": "experiments.backtest",
    "run_backtest": "experiments.backtest",
    "EvaluationResult": "experiments.evaluate",
    "run_evaluate": "experiments.evaluate",
    "score_forward_log": "experiments.evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
