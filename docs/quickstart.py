"""levercast from Python: a few answers on the shared dataset.

Run from the repository root::

    .venv/bin/python docs/quickstart.py [DATA_DIR]

``DATA_DIR`` defaults to ``$LEVERCAST_DATA``, else ``../shared/data``; without a dataset there
the script says so and exits 0. ``tests/experiments/test_api.py`` runs it. Fits are cached in
``$LEVERCAST_HOME`` (the first run fits the default forecaster for BTC, about 10-30 s; later runs
reuse the fit).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import levercast as lc

T_FEB = "2026-02-10T00:00Z"
T_JAN = "2026-01-15T00:00Z"


def _data_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    env = os.environ.get("LEVERCAST_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> None:
    """Print a few answers."""
    path = _data_dir()
    if not (path / "candles.parquet").exists():
        print(f"quickstart skipped: no dataset at {path}")
        return
    ds = lc.Dataset(path)  # reuse one Dataset: its tables are read once
    print(f"{ds}: tables {', '.join(ds.tables())}")

    # 1. A question in words, as the model would have answered it at T (data known by T only).
    r = lc.price("Will Bitcoin dip to $60,000 in February?", at=T_FEB, data=ds)
    print(f"P({r.contract.describe()}) = {r.prob:.1%} [{r.band[0]:.1%}, {r.band[1]:.1%}]")
    print(f"  model {r.model}; {r.warnings[-1]}")

    # 2. The parser alone: no dataset needed; the conventions it chose are listed.
    parsed = lc.parse("Will ETH swing more than 5% in the next 24 hours?", at=T_FEB)
    print(f"parsed: {parsed.to_json_dict(include_assumptions=True)}")

    # 3. A market of the dataset: our answer, the market's price, the edge after fees, drivers.
    a = lc.ask("Will Bitcoin reach $100,000 in January?", at=T_JAN, data=ds)
    print(f"P({a.contract.describe()}) = {a.prob:.1%} by {a.model}")
    if a.market is not None and a.market.prob_market is not None:
        print(
            f"  market {a.market.prob_market:.1%} ({a.market.quote_source}); edge "
            f"{a.market.edge:+.3f} per $1 share buying {a.market.side} after a fee of "
            f"{a.market.fee:.4f}"
        )
    for d in a.drivers:
        print(f"  driver {d.name} = {d.value} (median {d.median:.3g}): {d.effect:+.3f}")

    # 4. scikit-learn style: the fitted forecaster's predict_proba on a strike ladder at T.
    fit = lc.forecaster("default", asset="BTC", at=T_JAN, data=ds, kind="touch")
    ladder = [
        {"kind": "close_above", "asset": "BTC", "strike_usd": k, "end": "2026-01-22T00:00Z"}
        for k in (90_000, 95_000, 100_000, 105_000)
    ]
    frame = lc.contracts_frame(ladder, at=T_JAN, data=ds)
    proba = fit.predict_proba(frame, *lc.model_inputs(frame, fit, data=ds))
    for k, p in zip(frame["strike_usd"], proba[:, 1], strict=True):
        print(f"  P(BTC above ${k:,.0f} on 2026-01-22) = {p:.1%}")


if __name__ == "__main__":
    main()
