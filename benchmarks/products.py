"""The two daily products: a live-mode scan of 500 open markets served by stub clients (network
excluded; store tables already in memory: target < 1 s) and a report render at a dataset time
(target < 10 s). Prints one JSON object."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Running this file puts benchmarks/ first on sys.path, where benchmarks/features.py would shadow
# the features package: drop that entry and put the repository root first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks._common import data_dir
from levercast.experiments.reporting.report import build_report, write_report
from levercast.experiments.scanning.scan import scan
from levercast.features.dataset.store import Store
from levercast.markets.types import BookLevel, OrderBook, VenueMarket

AT = datetime(2025, 11, 10, 12, tzinfo=UTC)
N_MARKETS = 500


class StubClient:
    """A venue with ``n`` open BTC/ETH ladder markets and 5-level books, no network."""

    def __init__(self, venue: str, markets: list[VenueMarket]) -> None:
        self.venue = venue
        self._markets = markets

    def list_markets(self, assets: Any) -> list[VenueMarket]:
        return list(self._markets)

    def order_book(self, market: VenueMarket) -> OrderBook:
        mid = 0.05 + (hash(market.market_id) % 90) / 100
        bids = tuple(BookLevel(round(mid - 0.01 * (i + 1), 3), 50.0) for i in range(5))
        asks = tuple(BookLevel(round(mid + 0.01 * (i + 1), 3), 50.0) for i in range(5))
        return OrderBook(self.venue, market.market_id, market.outcomes[0], AT, bids, asks)


def _markets(n: int) -> list[VenueMarket]:
    out = []
    templates = (
        ("Bitcoin", 106_000.0, 500.0, "Will Bitcoin reach ${:,.0f} in December?"),
        ("Bitcoin", 106_000.0, 500.0, "Will Bitcoin dip to ${:,.0f} in December?"),
        ("Ethereum", 3_600.0, 20.0, "Will Ethereum reach ${:,.0f} in December?"),
        ("Ethereum", 3_600.0, 20.0, "Will the price of Ethereum be above ${:,.0f} on December 31?"),
    )
    created = AT - timedelta(days=2)
    for i in range(n):
        _, spot, step, title = templates[i % len(templates)]
        k = i // len(templates) + 1
        strike = spot + k * step if "dip" not in title else spot - k * step
        out.append(
            VenueMarket("polymarket", f"bench-{i}", title.format(strike), created_at=created)
        )
    return out


def main() -> None:
    """Time the scan (cold, then warm) and the report render (cold, then warm)."""
    store = Store(data_dir())
    clients = {"polymarket": StubClient("polymarket", _markets(N_MARKETS))}
    kwargs: dict[str, Any] = {
        "clients": clients,
        "venues": "polymarket",
        "fetch": False,
        "now": lambda: AT,
        "model": "gbm",
    }
    t0 = time.perf_counter()
    first = scan(store, **kwargs)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = scan(store, **kwargs)
    warm = time.perf_counter() - t0
    report_times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(2):
            t0 = time.perf_counter()
            report = build_report(Store(data_dir()), at=AT, assets=["BTC", "ETH"], model="gbm")
            write_report(report, Path(tmp), stamp=AT)
            report_times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "scan_markets": N_MARKETS,
                "scan_rows_priced": len(second.rows),
                "scan_unsupported": sum(first.unsupported.values()),
                "scan_cold_s": round(cold, 3),
                "scan_cached_s": round(warm, 3),
                "scan_target_s": 1.0,
                "report_render_first_s": round(report_times[0], 3),
                "report_render_again_s": round(report_times[1], 3),
                "report_plots": report.plots,
                "report_target_s": 10.0,
            }
        )
    )


if __name__ == "__main__":
    main()
