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


def _null_series(kind: str, n: int) -> pd.Series:
    """An all-null column of a kind as pandas fills one (what ``_all_null`` must equal)."""
    if kind == "str":
        return pd.Series([None] * n, dtype=pd.StringDtype())
    dtype = {"time": "datetime64[ns, UTC]", "float": "float64", "bool": "boolean"}[kind]
    fill = {"time": pd.NaT, "float": np.nan}.get(kind, pd.NA)
    return pd.Series(fill, index=pd.RangeIndex(n), dtype=dtype)


@pytest.mark.parametrize("kind", ["str", "time", "float", "bool", "int"])
def test_an_absent_column_is_all_null_in_its_canonical_dtype(kind):
    from levercast.features.dataset.schema import _all_null

    filled = pd.Series(_all_null(kind, 5))
    expected = (
        pd.Series(pd.NA, index=pd.RangeIndex(5), dtype="Int64")
        if kind == "int"
        else _null_series(kind, 5)
    )
    pd.testing.assert_series_equal(filled, expected)
    assert pd.Series(_all_null(kind, 0)).dtype == expected.dtype


@pytest.mark.parametrize("sort_by_key", [False, True])
def test_absent_optional_columns_equal_the_same_columns_given_as_nulls(tmp_path, sort_by_key):
    """Every table with optional columns (markets, liquidations, exchange_reserves): left out,
    they come back as the nulls they would be if the file had them, in the same row order."""
    from tests.conftest import make_dataset

    root = make_dataset(tmp_path / "d", hours=48)
    checked = 0
    for name, spec in TABLES.items():
        path = root / f"{name}.parquet"
        if not spec.optional_columns or not path.exists():
            continue
        raw = pd.read_parquet(path).drop(columns=list(spec.optional_columns), errors="ignore")
        raw = raw.iloc[::-1].reset_index(drop=True)  # not in key order
        given = raw.assign(
            **{c: _null_series(spec.columns[c], len(raw)) for c in spec.optional_columns}
        )
        got = validate_table(name, raw, sort_by_key=sort_by_key)
        pd.testing.assert_frame_equal(got, validate_table(name, given, sort_by_key=sort_by_key))
        checked += 1
    assert checked >= 2
