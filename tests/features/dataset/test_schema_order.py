"""Validation of tables already in key order (the store's fast path) and of any other input give
the same tables and the same refusals as the plain rules: a duplicate key is found whatever the
row order, and ``sort_by_key`` equals a stable sort by key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.dataset.schema import TABLES, validate_table
from levercast.features.errors import DataError
from tests.conftest import make_candles


def _candles(seed: int) -> pd.DataFrame:
    frames = [
        make_candles(seed=seed, hours=30, venue="binance-usdm"),
        make_candles(seed=seed + 1, hours=20, venue="bybit", asset="ETH"),
        make_candles(seed=seed + 2, hours=10, venue="bybit", interval="30m"),
    ]
    return pd.concat(frames, ignore_index=True)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    shuffle=st.booleans(),
    duplicate=st.sampled_from([None, "same", "ts-only"]),
)
def test_fast_path_agrees_with_duplicated_and_sort(seed, shuffle, duplicate):
    rng = np.random.default_rng(seed)
    raw = _candles(seed)
    raw = raw.sort_values(list(TABLES["candles"].key), kind="stable").reset_index(drop=True)
    if duplicate == "same":  # an exact key repeated next to itself
        i = int(rng.integers(0, len(raw)))
        raw = pd.concat([raw.iloc[: i + 1], raw.iloc[i:]], ignore_index=True)
    elif duplicate == "ts-only":  # same ts, other venue: not a duplicate
        raw.loc[len(raw) - 1, "ts"] = raw.loc[0, "ts"]
        raw.loc[len(raw) - 1, "available_at"] = raw.loc[0, "available_at"]
    if shuffle:
        raw = raw.iloc[rng.permutation(len(raw))].reset_index(drop=True)
    key = list(TABLES["candles"].key)
    if raw.duplicated(key).any():
        with pytest.raises(DataError, match="must be unique; found duplicate key"):
            validate_table("candles", raw, sort_by_key=True)
        return
    got = validate_table("candles", raw, sort_by_key=True)
    plain = validate_table("candles", raw)
    pd.testing.assert_frame_equal(plain, raw.astype(plain.dtypes.to_dict()))
    expected = plain.sort_values(key, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


def test_duplicate_message_names_the_first_row_of_the_input_order():
    raw = _candles(3)
    raw = pd.concat([raw, raw.iloc[[7]]], ignore_index=True)  # row 7 repeated at the end
    with pytest.raises(DataError, match=r"found duplicate key .*'binance-usdm'.* \(2 rows\)"):
        validate_table("candles", raw)


def test_conversions_keep_the_rules_and_canonical_dtypes():
    raw = _candles(4)
    raw["venue"] = raw["venue"].astype(object)
    raw["ts"] = raw["ts"].dt.tz_convert("Europe/Paris").astype("datetime64[us, Europe/Paris]")
    raw["open"] = raw["open"].astype("float32")
    out = validate_table("candles", raw)
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]" and out["ts"].dt.tz is not None
    assert out["venue"].dtype == pd.StringDtype() and out["open"].dtype == np.float64
    assert (out["ts"] == _candles(4)["ts"]).all()


def test_result_does_not_alias_the_input():
    raw = _candles(5)
    before = raw.copy()
    out = validate_table("candles", raw)
    out.loc[0, "open"] = -1.0
    out.loc[1, "ts"] = pd.Timestamp("2000-01-01T00:00Z")
    pd.testing.assert_frame_equal(raw, before)
    raw.loc[2, "close"] = -5.0
    assert out.loc[2, "close"] != -5.0
