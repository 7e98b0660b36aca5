"""Question parser and odds timings: titles parsed per second over every market of the dataset
(target >= 5,000/s) and ``compare()`` over 1,000 quotes with 5-level books (target < 50 ms).
Prints one JSON object."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np

# Running this file puts benchmarks/ first on sys.path, where benchmarks/features.py would shadow
# the features package: drop that entry and put the repository root first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from levercast.features.dataset.store import Store
from levercast.features.prices import highest_high
from levercast.markets.dataset import parse_markets, venue_market_from_row
from levercast.markets.fees import PolymarketFees
from levercast.markets.odds import compare
from levercast.markets.questions.parser import Parsed, parse_market
from levercast.markets.types import BookLevel, MarketQuote, OrderBook


def _quotes(n: int, seed: int = 0) -> list[MarketQuote]:
    rng = np.random.default_rng(seed)
    at = datetime(2026, 1, 10, tzinfo=UTC)
    out = []
    for i in range(n):
        mid = float(rng.uniform(0.05, 0.95))
        bids = tuple(BookLevel(round(max(0.001, mid - 0.01 * (k + 1)), 3), 50.0) for k in range(5))
        asks = tuple(BookLevel(round(min(0.999, mid + 0.01 * (k + 1)), 3), 50.0) for k in range(5))
        book = OrderBook("polymarket", f"m{i}", "Yes", at, bids, asks)
        out.append(MarketQuote("polymarket", f"m{i}", at, bids[0].price, asks[0].price, book))
    return out


def data_dir() -> Path:
    """``$LEVERCAST_DATA``, else ``../shared/data``; exits 2 with one line when absent."""
    env = os.environ.get("LEVERCAST_DATA")
    path = Path(env) if env else _HERE.parents[1] / "shared" / "data"
    if not (path / "markets.parquet").exists():
        print(
            f"benchmark needs the dataset: set LEVERCAST_DATA (looked in {path})", file=sys.stderr
        )
        sys.exit(2)
    return path


def main() -> None:
    store = Store(data_dir())
    markets = [venue_market_from_row(r) for r in store.read("markets").to_dict("records")]
    reference = datetime(2025, 1, 1, tzinfo=UTC)
    rounds, best = 5, float("inf")
    results = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        results = [parse_market(m, reference_time=reference) for m in markets]
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    dataset = parse_markets(
        store.read("markets"), store.read("market_prices"), ath_usd=partial(highest_high, store)
    )
    dataset_secs = time.perf_counter() - t0

    quotes = _quotes(1000)
    fees = PolymarketFees(rate=0.07, rebate_rate=0.2)
    rng = np.random.default_rng(1)
    probs = rng.uniform(0.05, 0.95, len(quotes))
    at = quotes[0].observed_at + timedelta(seconds=5)
    compare_best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for prob, quote in zip(probs, quotes, strict=True):
            p = float(prob)
            compare(p, max(0.0, p - 0.05), min(1.0, p + 0.05), quote, fees=fees, size=100, at=at)
        compare_best = min(compare_best, time.perf_counter() - t0)

    price_markets = [d for d in dataset if not d.get("unsupported", "").startswith("not a price")]
    out = {
        "markets": len(markets),
        "titles_per_sec": round(len(markets) / best, 1),
        "titles_per_sec_target": 5000,
        "parsed_fraction_fixed_reference": round(
            sum(isinstance(r, Parsed) for r in results) / len(results), 4
        ),
        "parse_dataset_secs": round(dataset_secs, 3),
        "dataset_price_markets": len(price_markets),
        "dataset_price_markets_parsed": sum("contract" in d for d in price_markets),
        "compare_1000_quotes_ms": round(compare_best * 1e3, 2),
        "compare_target_ms": 50,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
