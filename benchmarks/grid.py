"""Grid benchmark: the same backtest grid serially, with joblib and on a local Dask cluster.

Grid: assets x kinds x horizons cells of ``gbm`` backtests over three months (BTC, ETH x
touch/close_above/move x 1h/24h): 12 tasks. Prints wall time per engine, speed-up over serial,
overhead per task, and whether every engine returned identical results.
Run: ``.venv/bin/python benchmarks/grid.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks._common import data_dir
from levercast.experiments.backtest.run import backtest_task
from levercast.experiments.parallel import run_grid


def main() -> None:
    """Print the benchmark JSON."""
    data = str(data_dir())
    tasks = [
        {
            "data": data,
            "asset": asset,
            "start": "2025-06-01T00:00Z",
            "end": "2025-09-01T00:00Z",
            "kinds": (kind,),
            "horizons": (h,),
            "models": ("gbm",),
            "seed": 0,
        }
        for asset in ("BTC", "ETH")
        for kind in ("touch", "close_above", "move")
        for h in ("1h", "24h")
    ]
    out: dict[str, object] = {"tasks": len(tasks), "cpus": 2}
    results = {}
    for engine in ("serial", "joblib", "dask"):
        started = time.perf_counter()
        try:
            results[engine] = run_grid(
                backtest_task, tasks, engine=engine, n_jobs=2, progress=False
            )
        except Exception as e:  # report an engine that cannot run here, keep the others
            out[f"{engine}_error"] = f"{type(e).__name__}: {e}"
            continue
        out[f"{engine}_wall_s"] = round(time.perf_counter() - started, 2)
    serial = out.get("serial_wall_s")
    for engine in ("joblib", "dask"):
        wall = out.get(f"{engine}_wall_s")
        if isinstance(serial, float) and isinstance(wall, float):
            out[f"{engine}_speedup"] = round(serial / wall, 2)
            out[f"{engine}_overhead_per_task_s"] = round((wall - serial / 2) / len(tasks), 3)
    out["identical_results"] = all(r == results.get("serial") for r in results.values())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
