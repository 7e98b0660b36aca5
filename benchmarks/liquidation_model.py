"""Liquidation-model benchmark: the cold fit behind a ``liquidations_above`` question.

Target (issue 16): ``fit_liquidation_model`` on every labelled window of the dataset (BTC, and
``ALL``) in < 10 s on 2 cores; also times a cold ``load_or_fit_liquidations`` into an empty
``$LEVERCAST_HOME`` and one priced question. Prints one JSON object.

Run: ``.venv/bin/python benchmarks/liquidation_model.py`` (dataset from ``$LEVERCAST_DATA`` or
``../shared/data``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# ``features`` package: drop it so the installed packages are imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import pandas as pd

from benchmarks._common import data_dir


def main() -> None:
    os.environ["LEVERCAST_HOME"] = tempfile.mkdtemp(prefix="levercast-bench-")
    from levercast.experiments.learning.fitting import liquidation_pricer
    from levercast.experiments.learning.liquidations import (
        fit_liquidation_model,
        load_or_fit_liquidations,
    )
    from levercast.features.dataset.store import Store
    from levercast.models.contracts import Contract, Kind, Resolution
    from levercast.models.pricing.price import price_contract

    store = Store(data_dir())
    at = pd.Timestamp("2026-02-27T00:00Z")
    cut = (at - pd.Timedelta(hours=168)).floor("D")
    out: dict[str, object] = {"dataset": str(data_dir()), "cut": cut.isoformat()}
    for asset in ("BTC", "ALL"):
        t0 = time.perf_counter()
        model = fit_liquidation_model(store, assets=(asset,), cut=cut)
        out[f"fit_{asset}_s"] = round(time.perf_counter() - t0, 2)
        out[f"fit_{asset}_windows"] = None if model is None else model.n_rows
    t0 = time.perf_counter()
    load_or_fit_liquidations(store, asset="BTC", at=at)
    out["cold_load_or_fit_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    pricer = liquidation_pricer("default", store, asset="BTC", at=at)
    contract = Contract(
        Kind.LIQUIDATIONS_ABOVE,
        "BTC",
        at.to_pydatetime(),
        (at + pd.Timedelta(hours=4)).to_pydatetime(),
        Resolution(source="coinglass", price="close", symbol="BTC", interval="1h"),
        threshold=20_000_000.0,
        side="long",
    )
    forecast = price_contract(contract, store.at(at), pricer=pricer)
    out["cached_price_s"] = round(time.perf_counter() - t0, 2)
    out["prob_long_above_20m_4h"] = round(forecast.prob, 4)
    out["fit_target_s"] = 10.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
