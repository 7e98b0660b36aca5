"""Where adjacent rows of a column differ: one comparison per text column a table read needs.

Reading a table compares adjacent rows of the same text columns twice: validation proves the key
unique by checking the rows are in strictly increasing key order (``schema``), and the sanity
rules find each series' rows, where ``(venue, asset, interval)`` changes (``sanity``). A text
comparison costs ~1 ms per 100k rows (50x an integer one), the largest part of a read's checks,
so the mask of a text column is kept for the last few columns compared, keyed by the column's
immutable Arrow data (a pandas ``ArrowStringArray`` set in place gets new data, hence a new key)."""

from __future__ import annotations

import functools
import threading
import weakref
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["changes"]

_KEEP: Final = 16  # masks kept: every text key column of the largest tables of one read
# id(data) -> (weak reference to the data, its mask): an entry goes when its column does
_kept: dict[int, tuple[weakref.ref[pa.ChunkedArray], np.ndarray]] = {}
_lock = threading.RLock()  # a fit's worker thread may read the store beside the main thread


def changes(values: Any) -> np.ndarray:
    """``values[1:] != values[:-1]`` as a bool array of ``len(values) - 1`` (a null of an
    Arrow-backed column, or a NaN, compares as different from anything, itself included).

    ``values`` is a column's array (``Series.array``) or a numpy array; the mask of an
    Arrow-backed one is computed once and shared (read-only) while the column lives.
    """
    data = getattr(values, "_pa_array", None)
    if not isinstance(data, pa.ChunkedArray):
        return _plain_changes(values)
    key = id(data)
    with _lock:
        hit = _kept.get(key)
        if hit is not None and hit[0]() is data:
            return hit[1]
    mask = _arrow_changes(data)
    mask.flags.writeable = False
    with _lock:
        _kept.pop(key, None)
        _kept[key] = (weakref.ref(data, functools.partial(_forget, key)), mask)
        while len(_kept) > _KEEP:
            del _kept[next(iter(_kept))]
    return mask


def _forget(key: int, _gone: object = None) -> None:
    with _lock:
        hit = _kept.get(key)
        if hit is not None and hit[0]() is None:
            del _kept[key]


def _arrow_changes(data: pa.ChunkedArray) -> np.ndarray:
    n = len(data)
    if n < 2:
        return np.zeros(0, dtype=bool)
    whole = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
    differ = pc.not_equal(whole.slice(0, n - 1), whole.slice(1))
    if differ.null_count:
        differ = differ.fill_null(True)
    return np.asarray(differ.to_numpy(zero_copy_only=False), dtype=bool)


def _plain_changes(values: Any) -> np.ndarray:
    if isinstance(values, pd.arrays.DatetimeArray):
        values = values.asi8
    elif isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    if isinstance(values, np.ndarray) and values.dtype != object:
        return np.asarray(values[1:] != values[:-1], dtype=bool)
    differ = values[1:] != values[:-1]
    if isinstance(differ, pd.api.extensions.ExtensionArray):
        return np.asarray(differ.to_numpy(dtype=bool, na_value=True), dtype=bool)
    return np.asarray(differ, dtype=bool)
