"""``Store.read`` and ``Store.as_of`` against plain pandas references (the fast read path)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.schema import TABLES, validate_table
from levercast.features.dataset.store import Store
from tests.conftest import make_candles


def _write_unsorted(root, frame: pd.DataFrame, seed: int) -> Store:
    """A table file written by another tool: rows in any order."""
    root.mkdir(parents=True, exist_ok=True)
    shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    shuffled.to_parquet(root / "candles.parquet", index=False)
    return Store(root)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_read_and_as_of_match_a_plain_filter_and_sort(tmp_path, seed):
    candles = pd.concat(
        [
            make_candles(seed=seed, hours=48, venue="binance-usdm"),
            make_candles(seed=seed + 1, hours=48, venue="bybit", interval="30m"),
            make_candles(seed=seed + 2, hours=24, venue="bybit", asset="ETH"),
        ],
        ignore_index=True,
    )
    store = _write_unsorted(tmp_path / "d", candles, seed)
    key = list(TABLES["candles"].key)
    expected = validate_table("candles", pd.read_parquet(tmp_path / "d" / "candles.parquet"))
    expected = expected.sort_values(key, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(store.read("candles"), expected)
    t = pd.Timestamp("2024-01-02T05:30Z")
    for filters in ({}, {"venue": "bybit"}, {"venue": "bybit", "interval": "30m"}, {"asset": "X"}):
        ref = expected
        for column, value in filters.items():
            ref = ref[ref[column] == value]
        ref = ref.sort_values(["available_at", "ts"], kind="stable")
        ref = ref[ref["available_at"] <= t].reset_index(drop=True)
        got = store.as_of("candles", t, **filters).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, ref)


def test_one_view_per_instant_until_a_write(tmp_path):
    """``Store.at`` hands out the same view (and memo) for the same instant, in any time zone,
    for the last few instants; a write drops them, so no memo outlives the data it came from."""
    import pandas as pd

    from levercast.features.dataset.store import VIEWS_KEPT, Store
    from tests.conftest import make_dataset

    store = Store(make_dataset(tmp_path / "d", hours=48))
    t = pd.Timestamp("2024-01-02T00:00Z")
    view = store.at(t)
    assert store.at(t.tz_convert("America/New_York")) is view
    for h in range(1, VIEWS_KEPT + 1):
        store.at(t + pd.Timedelta(hours=h))
    assert store.at(t) is not view  # pushed out by VIEWS_KEPT later instants
    again = store.at(t)
    store.invalidate("candles")
    assert store.at(t) is not again


def test_the_file_reader_gives_what_pandas_reads(tmp_path):
    """``_read_parquet`` (pyarrow's file reader) and ``pd.read_parquet`` give the same frame
    for every table of a dataset, files written by the store and by pandas (nulls, booleans,
    absent optional columns, text with and without pandas' metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from levercast.features.dataset.store import _read_parquet
    from tests.conftest import make_dataset

    root = make_dataset(tmp_path / "d", hours=24 * 3)
    store = Store(root)
    paths = [store.path_of(name) for name in store.tables()]
    plain = tmp_path / "plain.parquet"  # no pandas metadata: text read as Arrow strings
    pq.write_table(
        pa.table({"venue": ["a", None], "x": [1.5, None], "ok": [True, None]}), str(plain)
    )
    for path in [*paths, plain]:
        pd.testing.assert_frame_equal(_read_parquet(path), pd.read_parquet(path))


def test_an_in_place_write_into_the_cached_table_raises_and_changes_nothing(tmp_path):
    """The numeric columns of a table read from its file are read-only views of the Arrow
    data: writing into the cached frame fails loudly instead of changing later reads."""
    from tests.conftest import make_dataset

    store = Store(make_dataset(tmp_path / "d", hours=24))
    frame = store.read("candles")
    before = float(frame.loc[0, "open"])
    with pytest.raises(ValueError, match="read-only"):
        frame.loc[0, "open"] = -1.0
    assert float(store.read("candles").loc[0, "open"]) == before
    edited = frame.copy()
    edited.loc[0, "open"] = -1.0  # a copy is the caller's own
    assert float(store.read("candles").loc[0, "open"]) == before
