from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pandas as pd
import pytest

from levercast.features.dataset.schema import TABLES
from levercast.features.dataset.store import LOCK_NAME, LOCK_TIMEOUT_ENV, Store
from levercast.features.errors import ConfigError, DataError
from tests.conftest import make_candles, make_dataset


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


@pytest.mark.parametrize(
    "filters",
    [
        {"venue": "binance-usdm"},
        {"venue": "binance-usdm", "asset": "ETH", "interval": "1h"},
        {"asset": "BTC"},
        {"venue": "no-such-venue"},
        {"asset": "BTC", "interval": "4h"},
    ],
)
def test_as_of_filters_equal_a_plain_mask_and_follow_writes(synthetic_data, tmp_path, filters):
    import shutil

    root = tmp_path / "filtered"
    shutil.copytree(synthetic_data, root)
    store = Store(root)
    t = store.read("candles")["available_at"].max()

    def plain(frame):
        keep = pd.Series(True, index=frame.index)
        for column, value in filters.items():
            keep &= (frame[column] == value).fillna(False)
        return frame[keep].reset_index(drop=True)

    got = store.as_of("candles", t, **filters)
    pd.testing.assert_frame_equal(got, plain(store.read("candles")))
    extra = store.read("candles").tail(1).copy()  # a new venue after a write: codes renewed
    extra["venue"] = "no-such-venue"
    with store.writer() as w:
        w.upsert("candles", extra)
    again = store.as_of("candles", t, **filters)
    pd.testing.assert_frame_equal(again, plain(store.read("candles")))
    assert ("no-such-venue" in filters.values()) == (len(again) == 1)


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
    with store.writer(timeout_secs=0):  # the lock was released (its file may remain)
        pass


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
    # the kernel released the dead writer's lock: the next writer gets in at once
    with store.writer(timeout_secs=0) as w:
        assert w.upsert("candles", store.read("candles")) == 0
    assert not list(synthetic_data.glob(".*.tmp"))  # and its temp file is gone


def test_second_writer_waits_then_fails_naming_the_lock(synthetic_data):
    proc = _spawn(HOLD_LOCK, synthetic_data)
    try:
        assert proc.stdout.readline().strip() == "started"
        started = time.monotonic()
        with pytest.raises(
            DataError, match=r"another levercast writer holds .*\.levercast\.lock; waited 0\.5 s"
        ):
            with Store(synthetic_data).writer(timeout_secs=0.5):
                pass
        assert 0.5 <= time.monotonic() - started < 5
    finally:
        proc.communicate("\n", timeout=20)
    with Store(synthetic_data).writer(timeout_secs=0):
        pass


def test_second_writer_enters_when_the_first_finishes_within_the_timeout(synthetic_data):
    proc = _spawn(HOLD_LOCK, synthetic_data)
    assert proc.stdout.readline().strip() == "started"

    def finish():
        proc.stdin.write("\n")
        proc.stdin.flush()

    timer = threading.Timer(0.5, finish)
    timer.start()
    try:
        started = time.monotonic()
        with Store(synthetic_data).writer(timeout_secs=30):
            waited = time.monotonic() - started
    finally:
        timer.cancel()
        proc.communicate(timeout=20)
    assert 0.3 < waited < 10


@pytest.mark.parametrize("content", ["", "0", "999999999", "not a pid"], ids=repr)
def test_a_leftover_lock_file_neither_blocks_nor_lets_two_writers_in(synthetic_data, content):
    (synthetic_data / LOCK_NAME).write_text(content)  # e.g. left by a crash or an old version
    with Store(synthetic_data).writer(timeout_secs=0):  # its mere existence does not block
        pass
    (synthetic_data / LOCK_NAME).write_text(content)
    proc = _spawn(HOLD_LOCK, synthetic_data)
    try:
        assert proc.stdout.readline().strip() == "started"
        with pytest.raises(DataError, match="another levercast writer holds"):
            with Store(synthetic_data).writer(timeout_secs=0.2):
                pass
    finally:
        proc.communicate("\n", timeout=20)


def test_nested_writer_fails_at_once(synthetic_data):
    store = Store(synthetic_data)
    with store.writer():
        started = time.monotonic()
        with pytest.raises(DataError, match="already held by this thread"):
            with Store(synthetic_data).writer(timeout_secs=30):
                pass
        assert time.monotonic() - started < 1


def test_writer_is_unusable_after_its_block(synthetic_data):
    store = Store(synthetic_data)
    with store.writer() as w:
        pass
    with pytest.raises(DataError, match="block has ended"):
        w.upsert("candles", store.read("candles"))


@pytest.mark.parametrize(
    ("value", "match"),
    [("-1", "found '-1'"), ("abc", "found 'abc'"), ("inf", "found 'inf'"), ("nan", "nan")],
    ids=["negative", "text", "inf", "nan"],
)
def test_lock_timeout_from_env_is_validated(synthetic_data, monkeypatch, value, match):
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, value)
    with pytest.raises(ConfigError, match=rf"{LOCK_TIMEOUT_ENV} must be a finite .*{match}"):
        with Store(synthetic_data).writer():
            pass


def test_lock_timeout_argument_is_validated(synthetic_data):
    with pytest.raises(ConfigError, match="timeout_secs must be a finite number"):
        with Store(synthetic_data).writer(timeout_secs=-1):
            pass


def test_upsert_merges_into_the_table_on_disk_not_a_stale_read(synthetic_data):
    """The lost-update repro: a table read before the network phase, another writer in between."""
    mine = Store(synthetic_data)
    stale = mine.read("candles")  # read (and cached) before "fetching"
    end = stale["ts"].max()
    theirs = make_candles(start=str(end + pd.Timedelta("1h")), hours=5, seed=1)
    other = Store(synthetic_data)
    with other.writer() as w:
        assert w.upsert("candles", theirs) == 5
    ours = make_candles(start=str(end + pd.Timedelta("6h")), hours=4, seed=2)
    with mine.writer() as w:
        assert w.upsert("candles", ours) == 4
    after = Store(synthetic_data).read("candles")
    assert len(after) == len(stale) + 9


def test_orphan_temp_files_are_removed_by_the_next_writer(synthetic_data):
    orphan = synthetic_data / ".candles.deadbeef.tmp"
    orphan.write_bytes(b"half a parquet file")
    unrelated = synthetic_data / "notes.tmp"
    unrelated.write_text("not ours")
    with Store(synthetic_data).writer():
        pass
    assert not orphan.exists()
    assert unrelated.exists()


def test_rewrite_keeps_the_file_mode(synthetic_data):
    target = synthetic_data / "candles.parquet"
    target.chmod(0o640)
    store = Store(synthetic_data)
    with store.writer() as w:
        assert w.upsert("candles", store.read("candles").iloc[:1].assign(close=1.0)) == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_new_table_file_honours_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        with Store(tmp_path).writer() as w:
            w.upsert("candles", make_candles(hours=3))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "candles.parquet").stat().st_mode) == 0o640


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


def test_rows_of_a_block_are_a_view_with_the_rows_of_the_mask():
    """A slice's rows: the same frame as ``frame[keep]`` whether they are one block (returned
    as a view, nothing copied) or scattered."""
    import numpy as np

    from levercast.features.dataset.store import _rows_of

    frame = pd.DataFrame(
        {
            "venue": pd.array(["a", "a", "b", "b", "b", "c"], dtype="string"),
            "x": np.arange(6.0),
        }
    )
    for keep in (
        np.array([0, 0, 1, 1, 1, 0], dtype=bool),
        np.array([1, 0, 1, 0, 0, 1], dtype=bool),
        np.zeros(6, dtype=bool),
        np.ones(6, dtype=bool),
    ):
        got = _rows_of(frame, keep)
        pd.testing.assert_frame_equal(got, frame[keep])
    block = _rows_of(frame, np.array([0, 0, 1, 1, 1, 0], dtype=bool))
    assert np.shares_memory(block["x"].to_numpy(), frame["x"].to_numpy())


def test_a_store_pickles_as_its_directory(tmp_path):
    import pickle

    from tests.conftest import make_dataset

    store = Store(make_dataset(tmp_path / "data", hours=48))
    before = store.read("funding")
    store.at(pd.Timestamp("2024-01-02T00:00Z"))  # a view, under the views' lock
    copy = pickle.loads(pickle.dumps(store))
    assert copy.root == store.root and copy._tables == {}
    pd.testing.assert_frame_equal(copy.read("funding"), before)
    assert len(pickle.dumps(store)) < 1000  # the cached frames stay behind


def test_an_upsert_keeps_the_rows_readers_quarantine(tmp_path):
    """A stored row that breaks a sanity rule is hidden from readers, not deleted by the next
    write: the writer merges into the table as stored (it was merged into the filtered read,
    which dropped the row from disk)."""
    import warnings

    from levercast.features.dataset.sanity import QuarantineWarning

    def rows(hour: int, rate: float) -> pd.DataFrame:
        ts = pd.DatetimeIndex([pd.Timestamp("2024-01-01T00:00Z") + pd.Timedelta(hours=hour)])
        return pd.DataFrame(
            {"venue": "v", "asset": "A", "ts": ts, "available_at": ts, "rate": rate,
             "interval_hours": 8}
        )  # fmt: skip

    store = Store(tmp_path / "data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuarantineWarning)
        with store.writer() as w:
            assert w.upsert("funding", rows(0, 0.5)) == 1  # |rate| > 0.1: quarantined on read
        with store.writer() as w:
            assert w.upsert("funding", rows(1, 0.0001)) == 1
        assert len(pd.read_parquet(tmp_path / "data" / "funding.parquet")) == 2
        fresh = Store(tmp_path / "data")
        assert fresh.read("funding")["rate"].tolist() == [0.0001]
        assert sum(fresh.quarantined("funding").values()) == 1
        with store.writer() as w:  # a corrected value replaces it on its key
            assert w.upsert("funding", rows(0, 0.0002)) == 1
        assert Store(tmp_path / "data").read("funding")["rate"].tolist() == [0.0002, 0.0001]


@dataclass(frozen=True)
class _Rows:
    """A derived value that is the count of rows (a causal derivation by definition)."""

    n: int

    def prefix(self, n_rows: int) -> _Rows:
        return _Rows(n_rows)


_DERIVED: list[int] = []  # the row count of every derivation made


def _rows_of(frame: pd.DataFrame) -> _Rows:
    _DERIVED.append(len(frame))
    return _Rows(len(frame))


def test_derived_as_of_derives_once_per_slice_and_cuts_to_the_rows_known(tmp_path):
    store = Store(make_dataset(tmp_path))
    _DERIVED.clear()
    where = {"venue": "binance-usdm", "interval": "1h"}
    arrivals = store.read("candles")["available_at"].sort_values().unique()
    times = pd.DatetimeIndex(arrivals[[5, 50, 500]])
    for t in times:
        known = store.as_of("candles", t, **where)
        assert store.derived_as_of("candles", t, _rows_of, **where) == _Rows(len(known))
    assert [len(store.as_of("candles", arrivals[-1], **where))] == _DERIVED  # one, on all rows
    before = times[0] - pd.Timedelta(days=365)
    assert store.derived_as_of("candles", before, _rows_of, **where) is None
    view = store.at(times[1])
    known = store.as_of("candles", times[0], **where)
    assert view.derived_as_of("candles", times[0], _rows_of, **where) == _Rows(len(known))
    with pytest.raises(ConfigError, match="look-ahead"):
        view.derived_as_of("candles", times[2], _rows_of, **where)
    store.invalidate("candles")
    store.derived_as_of("candles", times[2], _rows_of, **where)
    assert len(_DERIVED) == 2  # a write drops what was derived from the old rows
