"""Adjacent-row change masks (``features/dataset/adjacent.py``): one text comparison per
column shared by validation and the sanity rules, the same answer as a plain comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.adjacent import changes


@pytest.mark.parametrize(
    "values",
    [
        pd.array(["a", "a", "b", "b", "b", "c", "a"], dtype="string[pyarrow]"),
        pd.array(["a", None, None, "b"], dtype="string[pyarrow]"),
        pd.array(["x"], dtype="string[pyarrow]"),
        pd.array([], dtype="string[pyarrow]"),
        np.array([1.0, 1.0, np.nan, np.nan, 2.0]),
        np.array(["a", "a", "b"], dtype=object),
        pd.array(pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-02"], utc=True)),
    ],
)
def test_changes_match_a_plain_comparison(values):
    got = changes(values)
    n = len(values)
    expected = [
        bool(pd.isna(values[i]) or pd.isna(values[i + 1]) or values[i] != values[i + 1])
        for i in range(n - 1)
    ]
    assert got.dtype == bool
    assert got.tolist() == expected


def test_a_column_changed_in_place_is_compared_again():
    """The mask is kept per Arrow data: setting a value gives the array new data, so the next
    comparison sees it."""
    values = pd.array(["a", "a", "a"], dtype="string[pyarrow]")
    assert changes(values).tolist() == [False, False]
    assert changes(values) is changes(values)  # kept
    values[1] = "b"
    assert changes(values).tolist() == [True, True]


def test_chunked_columns_compare_across_chunk_boundaries():
    import pyarrow as pa

    data = pa.chunked_array([["a", "a"], ["a", "b"], ["b"]], type=pa.large_string())
    values = pd.arrays.ArrowStringArray(data)
    assert changes(values).tolist() == [False, False, True, False]


def test_a_mask_goes_with_its_column():
    """Masks are kept by weak reference: a dropped column does not stay in memory."""
    import gc

    from levercast.features.dataset import adjacent

    values = pd.array(["a", "b"] * 1000, dtype="string[pyarrow]")
    changes(values)
    key = id(values._pa_array)
    assert key in adjacent._kept
    del values
    gc.collect()
    assert key not in adjacent._kept
