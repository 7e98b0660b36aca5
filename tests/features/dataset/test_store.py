from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from levercast.features.dataset.schema import TABLES
from levercast.features.dataset.store import LOCK_NAME, Store
from levercast.features.errors import ConfigError, DataError
from tests.conftest import make_candles


def _bytes(root):
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.parquet"))}


@pytest.mark.parametrize("table", [t for t in TABLES if t not in {"ratios", "books"}])
def test_round_trip_every_table(synthetic_data, tmp_path, table):
    src = Store(synthetic_data)
    frame = src.read(table)
    dst = Store(tmp_path / "copy")
    with dst.writer() as w:
        assert w.upsert(table, frame) == len(frame)
    back = Store(tmp_path / "copy").read(table)
    pd.testing.assert_frame_equal(back, frame)


def test_round_trip_optional_tables(tmp_path):
    ts = pd.date_range("2025-01-01T00:00Z", periods=3, freq="1h")
    ratios = pd.DataFrame(
        {
            "venue": "binance",
            "asset": "BTC",
            "ts": ts,
            "available_at": ts,
            "metric": "top_position_ratio",
            "value": [1.1, 1.2, 0.9],
        }
    )
    books = pd.DataFrame(
        {
            "venue": "polymarket",
            "market_id": "m",
            "outcome": "Yes",
            "ts": ts,
            "available_at": ts,
            "side": ["bid", "ask", "bid"],
            "price": [0.4, 0.6, 0.41],
            "size": [10.0, 5.0, 3.0],
        }
    )
    store = Store(tmp_path)
    assert store.read("ratios").empty  # optional and absent: empty, no error
    with store.writer() as w:
        w.upsert("ratios", ratios)
        w.upsert("books", books)
    assert len(Store(tmp_path).read("ratios")) == 3
    assert len(Store(tmp_path).read("books")) == 3


def test_as_of_at_bar_boundaries(synthetic_data):
    store = Store(synthetic_data)
    candles = store.read("candles")
    first_close = candles["available_at"].iloc[0]
    t = first_close + pd.Timedelta("5h")
    got = store.as_of("candles", t, venue="binance-usdm", asset="BTC", interval="1h")
    assert got["available_at"].max() == t  # the bar closing exactly at t is known at t
    assert (got["available_at"] <= t).all()
    assert len(got) == 6
    just_before = store.as_of("candles", t - pd.Timedelta("1ns"), venue="binance-usdm")
    assert len(just_before) == 5
    window = store.as_of("candles", t, since=t - pd.Timedelta("2h"), venue="binance-usdm")
    assert list(window["available_at"]) == [t - pd.Timedelta("1h"), t]
    assert store.as_of("candles", first_close - pd.Timedelta("1s")).empty


def test_as_of_rejects_naive_time(synthetic_data):
    with pytest.raises(ConfigError, match="t must be tz-aware"):
        Store(synthetic_data).as_of("candles", pd.Timestamp("2024-01-02"))


def test_markets_as_of_hides_resolution_until_resolved(tmp_path, synthetic_data):
    store = Store(synthetic_data)
    markets = store.read("markets").copy()
    resolved = pd.Timestamp("2024-01-10T00:00Z")
    markets["resolved_at"] = resolved
    markets["winning_outcome"] = pd.array(["Yes"], dtype="string")
    with store.writer() as w:
        w.upsert("markets", markets)
    before = store.markets_as_of(resolved - pd.Timedelta("1s"))
    after = store.markets_as_of(resolved)
    assert before["winning_outcome"].isna().all() and before["resolved_at"].isna().all()
    assert after["winning_outcome"].iloc[0] == "Yes"


def test_idempotent_rewrite_leaves_bytes_unchanged(synthetic_data):
    store = Store(synthetic_data)
    before = _bytes(synthetic_data)
    with store.writer() as w:
        assert w.upsert("candles", store.read("candles")) == 0
    assert _bytes(synthetic_data) == before


def test_upsert_replaces_on_key_and_appends(synthetic_data):
    store = Store(synthetic_data)
    candles = store.read("candles")
    changed = candles.iloc[:2].copy()
    changed["close"] = changed["close"] + 1.0
    new = make_candles(start=str(candles["ts"].max() + pd.Timedelta("1h")), hours=3)
    with store.writer() as w:
        n = w.upsert("candles", pd.concat([changed, new]))
    assert n == 5
    after = store.read("candles")
    assert len(after) == len(candles) + 3
    assert after["close"].iloc[0] == pytest.approx(candles["close"].iloc[0] + 1.0)


def test_rejected_batch_leaves_store_unchanged(synthetic_data):
    store = Store(synthetic_data)
    before = _bytes(synthetic_data)
    bad = store.read("candles").iloc[:3].assign(volume_base=-5.0)
    with pytest.raises(DataError, match="volume_base must be >= 0"), store.writer() as w:
        w.upsert("candles", bad)
    assert _bytes(synthetic_data) == before
    assert not (synthetic_data / LOCK_NAME).exists()


SLOW_WRITER = """
import sys, pandas as pd
from levercast.features.dataset.store import Store
store = Store(sys.argv[1])
frame = store.read("candles")
big = pd.concat([frame] * 2000, ignore_index=True)
big["ts"] = pd.date_range("1990-01-01T00:00Z", periods=len(big), freq="1h")
big["available_at"] = big["ts"] + pd.Timedelta("1h")
with store.writer() as w:
    print("started", flush=True)
    w.upsert("candles", big)
"""

HOLD_LOCK = """
import sys
from levercast.features.dataset.store import Store
with Store(sys.argv[1]).writer():
    print("started", flush=True)
    sys.stdin.readline()
"""


def _spawn(code, root):
    return subprocess.Popen(
        [sys.executable, "-c", code, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_write_killed_midway_leaves_previous_file(synthetic_data):
    before = _bytes(synthetic_data)
    proc = _spawn(SLOW_WRITER, synthetic_data)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL  # killed before it could finish
    assert _bytes(synthetic_data) == before  # the old file is intact and unchanged
    store = Store(synthetic_data)
    assert len(store.read("candles")) > 0
    # the dead writer's stale lock does not block the next writer
    with store.writer() as w:
        assert w.upsert("candles", store.read("candles")) == 0


def test_second_concurrent_writer_is_refused(synthetic_data):
    proc = _spawn(HOLD_LOCK, synthetic_data)
    try:
        assert proc.stdout.readline().strip() == "started"
        with pytest.raises(DataError, match=r"another levercast writer holds .*\.levercast\.lock"):
            with Store(synthetic_data).writer():
                pass
    finally:
        proc.communicate("\n", timeout=20)
    assert not (synthetic_data / LOCK_NAME).exists()


def test_folder_of_parts_is_read(tmp_path):
    frame = make_candles(hours=10)
    folder = tmp_path / "candles"
    folder.mkdir()
    frame.iloc[:5].to_parquet(folder / "part-0.parquet", index=False)
    frame.iloc[5:].to_parquet(folder / "part-1.parquet", index=False)
    assert len(Store(tmp_path).read("candles")) == 10


def test_fingerprint_changes_with_content(synthetic_data):
    a = Store(synthetic_data).fingerprint()
    store = Store(synthetic_data)
    with store.writer() as w:
        w.upsert("candles", store.read("candles").iloc[:1].assign(close=1.0))
    assert Store(synthetic_data).fingerprint() != a
