"""Shared fixtures: the shared dataset (skips cleanly when absent) and one seeded generator of
synthetic point-in-time tables (STYLE G18).

It also refuses, for the whole test session, to load ``features``, ``models``, ``markets`` or
``experiments`` as top-level modules: the code lives in ``levercast.<layer>``, and run from the
repository root a bare ``import features`` would load a second copy of a layer (with its own
module state) beside the installed one.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

if TYPE_CHECKING:
    from levercast.models.learned.design import TrainingConfig

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
REPO_HOME = Path(__file__).resolve().parents[1] / ".levercast"
# $LEVERCAST_HOME defaults to the user's data directory (INTERFACE.md §2): tests keep their fits
# and caches in the repository instead (tests that need a clean home set their own).
os.environ.setdefault("LEVERCAST_HOME", str(REPO_HOME))

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "tests" / "resources"
BARE_LAYERS = frozenset({"features", "models", "markets", "experiments"})


class BareLayerImport(importlib.abc.MetaPathFinder):
    """Fails any import of a layer as a top-level module (see the module docstring)."""

    def find_spec(self, fullname, path=None, target=None):
        if path is None and fullname in BARE_LAYERS:
            raise ImportError(
                f"{fullname!r} imported as a top-level module: import levercast.{fullname} "
                "instead (a bare layer would be a second copy of the package)"
            )
        return None


if not any(isinstance(f, BareLayerImport) for f in sys.meta_path):
    sys.meta_path.insert(0, BareLayerImport())


def shared_data_dir() -> Path | None:
    """``$LEVERCAST_DATA`` or ``../shared/data`` when it holds the dataset, else None."""
    env = os.environ.get("LEVERCAST_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for path in candidates:
        if (path / "candles.parquet").exists():
            return path
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("shared dataset not found (set LEVERCAST_DATA or place ../shared/data)")
    return path


@pytest.fixture(scope="session")
def shared_store(shared_data):
    from levercast.features.dataset.store import Store

    return Store(shared_data)


def make_candles(
    *,
    seed: int = 0,
    start: str = "2024-01-01T00:00Z",
    hours: int = 24 * 30,
    venue: str = "binance-usdm",
    asset: str = "BTC",
    interval: str = "1h",
    spot: float = 50_000.0,
    vol_annual: float = 0.6,
) -> pd.DataFrame:
    """Synthetic GBM candles in the dataset format (ts = bar open, available_at = bar close)."""
    rng = np.random.default_rng(seed)
    step = pd.Timedelta(interval)
    n = int(hours * pd.Timedelta("1h") / step)
    sigma = vol_annual * np.sqrt(step / pd.Timedelta(days=365))
    log_ret = rng.normal(-0.5 * sigma**2, sigma, n)
    close = spot * np.exp(np.cumsum(log_ret))
    open_ = np.concatenate([[spot], close[:-1]])
    wiggle = np.abs(rng.normal(0, sigma / 2, n))
    high = np.maximum(open_, close) * np.exp(wiggle)
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, sigma / 2, n)))
    ts = pd.date_range(pd.Timestamp(start), periods=n, freq=step)
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": asset,
            "interval": interval,
            "ts": ts,
            "available_at": ts + step,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume_base": rng.uniform(100, 1000, n),
        }
    )


def small_training_config(**fields: object) -> TrainingConfig:
    """A forecaster configuration small enough for a unit test on ``make_dataset`` data: decisions
    every 12 h, horizons 1/4/24 h, 5 days of history required, 3-day staleness, 20 rows per
    leaf; ``fields`` set the rest (history, trees, rows, leverage) as each test needs."""
    from levercast.models.learned.design import TrainingConfig

    base: dict[str, object] = {
        "decision_every_hours": 12.0,
        "horizons_hours": (1.0, 4.0, 24.0),
        "min_history_days": 5.0,
        "stale_days": 3.0,
        "min_child_samples": 20,
    }
    return TrainingConfig(**{**base, **fields})


def make_dataset(root: Path, *, seed: int = 0, hours: int = 24 * 30) -> Path:
    """A small synthetic dataset with every required table, written as Parquet."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    candles = make_candles(seed=seed, hours=hours)
    candles.to_parquet(root / "candles.parquet", index=False)
    ts = candles["ts"]
    oi_base = 80_000 * np.exp(np.cumsum(rng.normal(0, 0.01, len(ts))))
    pd.DataFrame(
        {
            "venue": "bybit",
            "asset": "BTC",
            "ts": ts,
            "available_at": ts + pd.Timedelta("1h"),
            "oi_base": oi_base,
            "oi_usd": oi_base * candles["close"].to_numpy(),
        }
    ).to_parquet(root / "open_interest.parquet", index=False)
    fts = pd.date_range(ts.iloc[0], ts.iloc[-1], freq="8h")
    pd.DataFrame(
        {
            "venue": "binance",
            "asset": "BTC",
            "ts": fts,
            "available_at": fts,
            "rate": rng.normal(1e-4, 5e-5, len(fts)),
            "interval_hours": np.int64(8),
        }
    ).to_parquet(root / "funding.parquet", index=False)
    pd.DataFrame(
        {
            "venue": "aggregate",
            "asset": "BTC",
            "interval": "1h",
            "ts": ts,
            "available_at": ts + pd.Timedelta("1h"),
            "long_usd": rng.gamma(1.0, 1e6, len(ts)),
            "short_usd": rng.gamma(1.0, 8e5, len(ts)),
        }
    ).to_parquet(root / "liquidations.parquet", index=False)
    dts = pd.date_range(ts.iloc[0].floor("D"), ts.iloc[-1].floor("D"), freq="1D")
    pd.DataFrame(
        {
            "source": "cryptoquant-style",
            "asset": "BTC",
            "ts": dts,
            "available_at": dts + pd.Timedelta("1D"),
            "reserve_base": 2.4e6 + rng.normal(0, 1e3, len(dts)),
        }
    ).to_parquet(root / "exchange_reserves.parquet", index=False)
    pd.DataFrame(
        {
            "source": "deribit-dvol",
            "asset": "BTC",
            "ts": ts,
            "available_at": ts + pd.Timedelta("1h"),
            "iv": 0.55 + rng.normal(0, 0.01, len(ts)),
        }
    ).to_parquet(root / "implied_vol.parquet", index=False)
    markets = pd.DataFrame(
        {
            "venue": ["polymarket"],
            "market_id": ["m1"],
            "condition_id": ["0xabc"],
            "question": ["Will Bitcoin reach $60,000 in January?"],
            "event_title": [None],
            "slug": [None],
            "rules": [""],
            "outcomes": ["Yes|No"],
            "token_ids": ["1|2"],
            "created_at": [ts.iloc[0]],
            "end_date": [ts.iloc[-1]],
            "resolved_at": pd.Series([pd.NaT], dtype="datetime64[ns, UTC]"),
            "winning_outcome": [None],
            "family": ["btc-test"],
        }
    )
    for c in [
        "venue",
        "market_id",
        "condition_id",
        "question",
        "event_title",
        "slug",
        "rules",
        "outcomes",
        "token_ids",
        "winning_outcome",
        "family",
    ]:
        markets[c] = markets[c].astype("string")
    markets.to_parquet(root / "markets.parquet", index=False)
    pts = ts.iloc[::24]
    pd.DataFrame(
        {
            "venue": "polymarket",
            "market_id": "m1",
            "outcome": "Yes",
            "ts": pts,
            "available_at": pts,
            "price": rng.uniform(0.1, 0.9, len(pts)),
            "kind": "daily_close",
        }
    ).to_parquet(root / "market_prices.parquet", index=False)
    return root


@pytest.fixture
def synthetic_data(tmp_path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture
def httpserver():
    """A fresh local HTTP server per test (pytest-httpserver's default is one per session).

    A client thread left running by one test (a timed-out request, a venue scanned in the
    background) can otherwise reach the next test's handlers on the shared port and consume its
    one-shot responses; a new port per test isolates them.
    """
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()
