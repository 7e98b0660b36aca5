"""Backtests, evaluation, MLflow tracking, reports, the scanner and the CLI.

Public names are re-exported lazily (PEP 562) so importing the CLI pulls in no heavy library.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "main": "levercast.experiments.cli.main",
    "label_contracts": "levercast.experiments.labels.outcomes",
    "realised_outcome": "levercast.experiments.labels.outcomes",
    "run_grid": "levercast.experiments.parallel",
    "RunRecord": "levercast.experiments.tracking",
    "log_run": "levercast.experiments.tracking",
    "fetch": "levercast.experiments.ingest.fetch",
    "record": "levercast.experiments.ingest.record",
    "fetch_markets": "levercast.experiments.ingest.venues",
    "record_books": "levercast.experiments.ingest.venues",
    "make_clients": "levercast.experiments.ingest.venues",
    "scan": "levercast.experiments.scanning.scan",
    "ScanRow": "levercast.experiments.scanning.rows",
    "ScanResult": "levercast.experiments.scanning.rows",
    "KellyCaps": "levercast.experiments.scanning.rows",
    "apply_caps": "levercast.experiments.scanning.scan",
    "append_forecasts": "levercast.experiments.evaluation.forward_log",
    "read_forecasts": "levercast.experiments.evaluation.forward_log",
    "build_report": "levercast.experiments.reporting.report",
    "write_report": "levercast.experiments.reporting.report",
    "build_heatmap": "levercast.experiments.reporting.heatmap",
    "plot_reliability": "levercast.experiments.reporting.plots",
    "run_schedule": "levercast.experiments.reporting.schedule",
    "prune_reports": "levercast.experiments.reporting.schedule",
    "fit_default": "levercast.experiments.learning.fitting",
    "fit_liquidation_model": "levercast.experiments.learning.fitting",
    "load_or_fit": "levercast.experiments.learning.fitting",
    "pricer_for": "levercast.experiments.learning.pricers",
    "assemble_training_set": "levercast.experiments.learning.training_set",
    "liquidation_sums": "levercast.experiments.labels.liquidations",
    "backtest_task": "levercast.experiments.backtest.run",
    "BacktestConfig": "levercast.experiments.backtest.run",
    "BacktestResult": "levercast.experiments.backtest.run",
    "run_backtest": "levercast.experiments.backtest.run",
    "EvaluationResult": "levercast.experiments.evaluation.evaluate",
    "run_evaluate": "levercast.experiments.evaluation.evaluate",
    "score_forward_log": "levercast.experiments.evaluation.evaluate",
    "fit_blend_prior": "levercast.experiments.evaluation.evaluate",
    "BlendPrior": "levercast.experiments.evaluation.blend",
    "load_prior": "levercast.experiments.evaluation.blend",
    "online_blend": "levercast.experiments.evaluation.blend",
    "TradingRule": "levercast.experiments.evaluation.trading",
    "simulate_trading": "levercast.experiments.evaluation.trading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
