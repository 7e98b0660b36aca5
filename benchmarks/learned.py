"""Learned-model benchmark: a 3-year BTC+ETH training run and prediction throughput.

Targets (issue 7): ``fit_default`` on 3 years of BTC+ETH grid contracts with decisions every 4 h
in < 5 min with peak RSS < 4 GB on 2 cores; prediction throughput of
``FittedForecaster.predict`` (frame features and maps precomputed, as a backtest does) in rows/s.
Peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux).

Run: ``.venv/bin/python benchmarks/learned.py`` (dataset from ``$LEVERCAST_DATA`` or
``../shared/data``).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# ``features`` package: drop it so the installed packages are imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import pandas as pd

from benchmarks._common import data_dir
from levercast.experiments.learning.fitting import fit_default
from levercast.experiments.learning.training_set import TrainingConfig, leverage_inputs
from levercast.features.dataset.store import Store
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.pricing.market_state import market_inputs


def main() -> None:
    store = Store(data_dir())
    cut = pd.Timestamp("2025-12-15T00:00Z")
    config = TrainingConfig(decision_every_hours=4.0, history_days=3 * 365.0, max_rows=1_000_000)
    train_times = pd.date_range(cut - pd.Timedelta(days=3 * 365), cut, freq="4h")
    train_inputs = [market_inputs(store, a, train_times) for a in ("BTC", "ETH")]
    n_grid = len(contract_grid(pd.concat(train_inputs), horizons_hours=config.horizons_hours))
    t0 = time.perf_counter()
    fitted = fit_default(store, assets=("BTC", "ETH"), cut=cut, config=config)
    fit_secs = time.perf_counter() - t0
    times = pd.date_range("2026-01-15T00:00Z", "2026-02-27T00:00Z", freq="4h")
    inputs = pd.concat([market_inputs(store, a, times) for a in ("BTC", "ETH")], ignore_index=True)
    grid = contract_grid(inputs, horizons_hours=config.horizons_hours)
    t0 = time.perf_counter()
    features, maps = leverage_inputs(store, grid[["asset", "t"]], fitted.features)
    feature_secs = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitted.predict(grid, features, maps)
    predict_secs = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "train_decisions_every_hours": 4.0,
                "train_history_days": 3 * 365,
                "assets": ["BTC", "ETH"],
                "grid_contracts": int(n_grid),
                "training_rows_used": int(fitted.n_rows),
                "features_used": len(fitted.features),
                "fit_default_secs": round(fit_secs, 1),
                "fit_default_target_secs": 300,
                "peak_rss_mib": round(peak_mib, 0),
                "peak_rss_target_mib": 4096,
                "predict_rows": len(grid),
                "predict_feature_frame_secs": round(feature_secs, 2),
                "predict_secs": round(predict_secs, 2),
                "predict_rows_per_sec": round(len(grid) / predict_secs, 0),
            }
        )
    )


if __name__ == "__main__":
    main()
