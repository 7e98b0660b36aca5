"""Backtest and evaluate benchmark.

Target (issue 8): a BTC year of hourly decisions x 3 kinds (touch, close_above, move) x 3 horizons
(1h, 24h, 7d) x 5 strikes with ``gbm`` and ``default`` in under 2 minutes on 2 cores, walk-forward
retraining (every 30 days) included; also the wall time of ``evaluate`` (``gbm``, and
``default`` with ``--full``). Reads ``$LEVERCAST_DATA`` or ``../shared/data``.

Run: ``.venv/bin/python benchmarks/backtest.py [--full]``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# ``features`` package: drop it so the installed packages are imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from levercast.experiments.backtest.run import BacktestConfig, run_backtest
from levercast.experiments.evaluation.evaluate import run_evaluate
from levercast.features.dataset.store import Store


def data_dir() -> Path:
    """``$LEVERCAST_DATA``, else ``../shared/data``; exits 2 with one line when absent."""
    env = os.environ.get("LEVERCAST_DATA")
    path = Path(env) if env else _HERE.parent.parent / "shared" / "data"
    if not (path / "candles.parquet").exists():
        print(
            f"benchmark needs the dataset: set LEVERCAST_DATA (looked in {path})", file=sys.stderr
        )
        sys.exit(2)
    return path


def _backtest(store: Store, models: tuple[str, ...]) -> dict[str, object]:
    config = BacktestConfig(
        asset="BTC",
        start="2025-01-01T00:00Z",
        end="2025-12-31T23:00Z",
        kinds=("touch", "close_above", "move"),
        horizons=("1h", "24h", "7d"),
        models=models,
        step="1h",
    )
    t0 = time.perf_counter()
    result = run_backtest(store, config)
    secs = time.perf_counter() - t0
    doc = result.to_json_dict()
    return {
        "models": list(doc["models"]),
        "wall_secs": round(secs, 2),
        "contracts": len(result.forecasts),
        "n_forecasts": doc["n_forecasts"],
        "brier": {m: round(v["brier"], 5) for m, v in doc["models"].items()},
        "fallbacks": doc["fallbacks"],
    }


def main() -> None:
    os.environ.setdefault("LEVERCAST_HOME", "/tmp/levercast-bench")
    full = "--full" in sys.argv[1:]
    root = data_dir()
    out: dict[str, object] = {"cpus": os.cpu_count(), "data": str(root)}
    out["backtest_gbm"] = _backtest(Store(root), ("gbm",))
    out["backtest_gbm_default"] = _backtest(Store(root), ("gbm", "default"))
    out["backtest_target_secs"] = 120
    t0 = time.perf_counter()
    doc = run_evaluate(Store(root), model="gbm").to_json_dict()
    out["evaluate_gbm"] = {
        "wall_secs": round(time.perf_counter() - t0, 2),
        "observations": doc["observations"],
    }
    if full:
        t0 = time.perf_counter()
        doc = run_evaluate(Store(root), model="default").to_json_dict()
        out["evaluate_default"] = {
            "wall_secs": round(time.perf_counter() - t0, 2),
            "observations": doc["observations"],
            "model_used": doc["model_used"],
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
