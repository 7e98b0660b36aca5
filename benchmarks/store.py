"""Store benchmark: full load of the dataset and a 72 h as-of slice of 1 h candles.

Targets (issue 2): full load < 2 s; 72 h slice < 2 ms after load.
Run: ``.venv/bin/python benchmarks/store.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# features package: drop it and import the repository's packages instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks._common import data_dir


def main() -> None:
    """Print the benchmark JSON."""
    path = data_dir()
    t0 = time.perf_counter()
    import pandas as pd

    from levercast.features.dataset.store import Store

    t_import = time.perf_counter() - t0
    store = Store(path)
    t1 = time.perf_counter()
    rows = {name: len(store.read(name)) for name in store.tables()}
    load_s = time.perf_counter() - t1
    t = pd.Timestamp("2025-06-01T12:00Z")
    since = t - pd.Timedelta("72h")
    store.as_of("candles", t, since=since, venue="binance-usdm", asset="BTC", interval="1h")
    n = 2000
    t2 = time.perf_counter()
    for i in range(n):
        at = t + pd.Timedelta(hours=i % 500)
        store.as_of(
            "candles",
            at,
            since=at - pd.Timedelta("72h"),
            venue="binance-usdm",
            asset="BTC",
            interval="1h",
        )
    slice_ms = (time.perf_counter() - t2) / n * 1e3
    print(
        json.dumps(
            {
                "dataset": str(path),
                "tables": rows,
                "import_s": round(t_import, 3),
                "full_load_s": round(load_s, 3),
                "full_load_target_s": 2.0,
                "asof_72h_1h_candles_ms": round(slice_ms, 4),
                "asof_target_ms": 2.0,
            }
        )
    )


if __name__ == "__main__":
    main()
