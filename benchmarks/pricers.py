"""Pricer benchmark: closed-form throughput and Monte Carlo speed.

Targets (issue 3, issue 22): closed forms >= 5e6 contracts/s for every kind, the mixed-kind batch
and first_of included (QuantLib's one-touch engine priced 4.4e4/s on this machine); Monte Carlo
1e5 paths x 168 hourly steps < 1 s. Throughputs are the best of a few runs on 1e6 random
contracts (a loaded machine lowers them: compare with ``touch_per_s`` of the same run). Also
times one cold and one warm ``price_contract`` on the dataset (``$LEVERCAST_DATA`` or
``../shared/data``) when present.

Run: ``.venv/bin/python benchmarks/pricers.py``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# ``features`` package: drop it so the installed packages are imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from levercast.models.pricing import closed_form as cf
from levercast.models.pricing.gbm import gbm_probabilities
from levercast.models.pricing.montecarlo import PathEvent, simulate_event

N = 1_000_000
# every kind through the batch API (move: terminal, the default, and continuous)
KINDS = ("touch", "close_above", "close_below", "range", "up_down", "first_of", "move")
KINDS += ("move_continuous",)


def _best(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _closed_form() -> dict[str, float]:
    rng = np.random.default_rng(0)
    spot = rng.uniform(50_000, 120_000, N)
    strike = spot * rng.uniform(0.7, 1.3, N)
    vol = rng.uniform(0.3, 1.0, N)
    t = rng.uniform(1 / 8760, 90 / 365, N)
    up = strike > spot
    lower, upper = spot * 0.9, spot * 1.1
    kinds = np.array(["touch", "close_above", "range", "first_of", "move"])[rng.integers(0, 5, N)]

    def batch(kind: str) -> Callable[[], Any]:
        """All N contracts of one kind through the batch API (the backtests' path)."""
        monitoring = "continuous" if kind == "move_continuous" else ""
        return lambda: gbm_probabilities(
            kind.removesuffix("_continuous"),
            spot,
            vol,
            t,
            strike_usd=strike,
            lower_usd=lower,
            upper_usd=upper,
            threshold=0.05,
            monitoring=monitoring,
        )

    out = {
        "touch_per_s": N / _best(lambda: cf.prob_touch(spot, strike, vol, t, up=up)),
        "touch_drift_per_s": N
        / _best(lambda: cf.prob_touch(spot, strike, vol, t, up=up, log_drift=-0.5 * vol**2)),
        "close_above_per_s": N / _best(lambda: cf.prob_close_above(spot, strike, vol, t)),
        "first_of_per_s": N / _best(lambda: cf.prob_double_barrier(spot, lower, upper, vol, t)),
        **{f"gbm_{kind}_per_s": N / _best(batch(kind), repeat=3) for kind in KINDS},
        "batch_mixed_kinds_per_s": N
        / _best(
            lambda: gbm_probabilities(
                kinds,
                spot,
                vol,
                t,
                strike_usd=strike,
                lower_usd=lower,
                upper_usd=upper,
                threshold=0.05,
            ),
            repeat=3,
        ),
    }
    return {k: round(v) for k, v in out.items()}


def _monte_carlo() -> dict[str, float]:
    event = PathEvent(upper=math.log(1.05), path=True)
    kwargs = {"vol_annual": 0.55, "window_years": 168 / 8760, "n_steps": 168, "n_paths": 100_000}
    normal = _best(lambda: simulate_event(event, **kwargs), repeat=3)
    pool = np.random.default_rng(1).standard_t(4, 8760)
    pool = (pool - pool.mean()) / pool.std()
    boot = _best(
        lambda: simulate_event(event, innovations="bootstrap", standardized_returns=pool, **kwargs),
        repeat=3,
    )
    garch = _best(lambda: simulate_event(event, innovations="garch", **kwargs), repeat=3)
    return {
        "mc_1e5x168_normal_s": round(normal, 3),
        "mc_1e5x168_bootstrap_s": round(boot, 3),
        "mc_1e5x168_garch_s": round(garch, 3),
    }


def _price_contract() -> dict[str, float] | None:
    env = os.environ.get("LEVERCAST_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (root / "candles.parquet").exists():
        return None
    from levercast.features.dataset.store import Store
    from levercast.features.timeutil import parse_utc
    from levercast.models.contracts import Contract
    from levercast.models.pricing.price import price_contract
    from levercast.models.pricing.pricers import BUILTIN_PRICERS

    at = parse_utc("2025-06-01T00:00Z")
    spec = {"kind": "touch", "asset": "BTC", "strike_usd": 100_000, "end": "2025-06-08T00:00Z"}
    contract = Contract.from_json(spec, at=at)
    store = Store(root)
    t0 = time.perf_counter()
    gbm, mc_pricer = BUILTIN_PRICERS["gbm"], BUILTIN_PRICERS["mc"]
    price_contract(contract, store.at(at), pricer=gbm)
    cold = time.perf_counter() - t0
    warm = _best(lambda: price_contract(contract, store.at(at), pricer=gbm), repeat=5)
    mc = _best(lambda: price_contract(contract, store.at(at), pricer=mc_pricer), repeat=2)
    return {
        "price_gbm_cold_s": round(cold, 3),
        "price_gbm_warm_s": round(warm, 4),
        "price_mc_warm_s": round(mc, 3),
    }


def main() -> None:
    """Print the benchmark JSON."""
    result: dict[str, Any] = {
        **_closed_form(),
        "closed_form_target_per_s": 5e6,
        **_monte_carlo(),
        "mc_target_s": 1.0,
    }
    priced = _price_contract()
    if priced is not None:
        result.update(priced)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
