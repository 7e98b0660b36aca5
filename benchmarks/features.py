"""Feature-frame benchmark: 3 years of hourly decision times for BTC and ETH.

Targets: the frame (issue 5) < 60 s on 2 cores for both assets together; the contract-relative
leverage features (issue 16, ``models.learned.leverage``) of 3 years of BTC+ETH grid contracts
with decisions every 4 h (about 3 M contract rows: maps, frame scalars and the features) < 60 s.
Run: ``.venv/bin/python benchmarks/features.py``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# This script is named like the ``features`` package: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
_spec = importlib.util.spec_from_file_location("_bench_common", _HERE / "_common.py")
assert _spec is not None and _spec.loader is not None
_common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_common)
data_dir = _common.data_dir


def main() -> None:
    """Print the benchmark JSON."""
    path = data_dir()
    import numpy as np
    import pandas as pd

    from levercast.features.dataset.store import Store
    from levercast.features.frame.frame import compute_feature_frame

    store = Store(path)
    end = pd.Timestamp("2026-02-28T00:00Z")
    times = pd.date_range(end - pd.Timedelta(days=3 * 365), end, freq="1h")
    t0 = time.perf_counter()
    for table in ("candles", "open_interest", "funding", "liquidations", "exchange_reserves"):
        store.read(table)
    load_s = time.perf_counter() - t0
    from levercast.features.frame.registry import feature_specs

    modules: dict[str, list[str]] = {}
    for spec in feature_specs():
        modules.setdefault(spec.builder.__module__, []).append(spec.name)
    out: dict[str, object] = {"dataset": str(path), "decision_times": len(times)}
    own = {
        "levercast.features.builders.signals",
        "levercast.features.builders.elr",
        "levercast.features.builders.dominance",
    }
    totals = {"own": 0.0, "all": 0.0}
    for asset in ("BTC", "ETH"):
        for module, names in modules.items():
            t1 = time.perf_counter()
            result = compute_feature_frame(store, asset, times, names=names)
            elapsed = time.perf_counter() - t1
            values = result.frame.drop(columns=["asset", "ts"]).to_numpy(dtype=float)
            out[f"{asset}:{module}_s"] = round(elapsed, 3)
            out[f"{asset}:{module}_features"] = values.shape[1]
            out[f"{asset}:{module}_non_null_share"] = round(float(np.isfinite(values).mean()), 4)
            totals["all"] += elapsed
            totals["own"] += elapsed if module in own else 0.0
    out["load_s"] = round(load_s, 3)
    out["frame_signals_elr_dominance_s"] = round(totals["own"], 3)
    out["frame_all_registered_s"] = round(totals["all"], 3)
    out["target_s"] = 60.0
    out.update(_contract_features(store, end))
    print(json.dumps(out))


def _contract_features(store: object, end: object) -> dict[str, object]:
    """Contract-relative leverage features of the 4-hourly BTC+ETH grid over 3 years."""
    import numpy as np
    import pandas as pd

    from levercast.experiments.learning.training_set import leverage_inputs
    from levercast.models.learned.contract_grid import contract_grid
    from levercast.models.learned.leverage import leverage_features
    from levercast.models.pricing.market_state import market_inputs

    times = pd.date_range(end - pd.Timedelta(days=3 * 365), end, freq="4h")
    t0 = time.perf_counter()
    inputs = pd.concat([market_inputs(store, a, times) for a in ("BTC", "ETH")])
    grid = contract_grid(inputs.reset_index(drop=True))
    grid_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    frame, maps = leverage_inputs(store, grid[["asset", "t"]].drop_duplicates())
    inputs_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    values = leverage_features(grid, maps, frame)
    features_s = time.perf_counter() - t2
    return {
        "contract_rows": len(grid),
        "contract_decisions": len(times) * 2,
        "contract_grid_build_s": round(grid_s, 3),
        "contract_maps_and_scalars_s": round(inputs_s, 3),
        "contract_features_s": round(features_s, 3),
        "contract_total_s": round(inputs_s + features_s, 3),
        "contract_features": values.shape[1],
        "contract_non_null_share": round(float(np.isfinite(values.to_numpy()).mean()), 4),
        "contract_target_s": 60.0,
    }


if __name__ == "__main__":
    main()
