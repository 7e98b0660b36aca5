"""Liquidation-map timings: one snapshot from 72 h of 1 h and of 30 m bars (target < 5 ms), a year
of hourly snapshots (target < 1 s on 2 cores), the heatmap render, validate-map. Prints one JSON."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# features package: drop it and import the repository's packages instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
from benchmarks._common import data_dir
from levercast.features.dataset.store import Store
from levercast.features.liqmap.map import LiqMapParams, build_inputs, crossed_mass, map_snapshot


def _best_ms(fn, repeat: int = 20) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main() -> None:
    store = Store(data_dir())
    at = pd.Timestamp("2026-02-01T00:00Z")
    params72 = LiqMapParams.default(lookback_hours=72.0)
    out: dict[str, float | int] = {}
    for interval in ("1h", "30m"):
        bars = store.as_of(
            "candles",
            at,
            since=at - pd.Timedelta(hours=96),
            venue="binance-usdm",
            asset="BTC",
            interval=interval,
        )
        oi = store.as_of(
            "open_interest", at, since=at - pd.Timedelta(hours=96), venue="bybit", asset="BTC"
        )
        inputs = build_inputs(bars, oi)
        out[f"snapshot_72h_{interval}_ms"] = _best_ms(
            lambda i=inputs: map_snapshot(i, params72, at)
        )
        out[f"snapshot_72h_{interval}_with_build_ms"] = _best_ms(
            lambda b=bars, o=oi: map_snapshot(build_inputs(b, o), params72, at)
        )
    end = pd.Timestamp("2026-03-01T00:00Z")
    start = end - pd.Timedelta(days=365)
    bars = store.as_of(
        "candles",
        end,
        since=start - pd.Timedelta(days=8),
        venue="binance-usdm",
        asset="BTC",
        interval="1h",
    )
    oi = store.as_of(
        "open_interest", end, since=start - pd.Timedelta(days=8), venue="bybit", asset="BTC"
    )
    inputs = build_inputs(bars, oi)
    t_ns = inputs.close_ns[inputs.close_ns > start.value]
    idx = np.searchsorted(inputs.close_ns, t_ns)
    for name, params in (("72h", params72), ("default", LiqMapParams.default())):
        out[f"year_hourly_snapshots_{name}_lookback_ms"] = _best_ms(
            lambda p=params: crossed_mass(
                inputs, p, t_ns, low_usd=inputs.low[idx], high_usd=inputs.high[idx]
            ),
            repeat=3,
        )
    out["year_snapshots"] = len(t_ns)
    from levercast.experiments.reporting.heatmap import build_heatmap

    with tempfile.TemporaryDirectory() as tmp:
        for days in (14, 365):
            t0 = time.perf_counter()
            payload = build_heatmap(
                Store(store.root),  # a cold store, as the CLI command opens it
                "BTC",
                start=end - pd.Timedelta(days=days),
                end=end,
                out=Path(tmp) / "h.png",
            )
            out[f"heatmap_{days}d_render_s"] = time.perf_counter() - t0
            out[f"heatmap_{days}d_bins"] = payload["bins"]
    from levercast.experiments.studies.liquidation_map.fit import score_map

    t0 = time.perf_counter()
    score_map(store, "BTC", start=pd.Timestamp("2025-11-24T00:00Z"), end=end)
    out["validate_map_full_span_s"] = time.perf_counter() - t0
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
