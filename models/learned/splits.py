"""Purged walk-forward splits over decision times (expanding window, as in skfolio's WalkForward).

Rows decided in ``[origin + k every, origin + (k + 1) every)`` form test segment ``k``; the model
that serves them is trained on contracts decided at or before ``cut_k = origin + k every -
purge``. The purge exists because a training label is only known when its window ends: with
``purge`` at least the longest contract horizon, every training contract has resolved before the
first decision its model serves, so no label from the test period leaks into training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from levercast.features._typing import IntArray
from levercast.features.errors import ConfigError

__all__ = ["WalkForwardSplit", "walk_forward_splits"]


@dataclass(frozen=True, slots=True, eq=False)
class WalkForwardSplit:
    """One test segment and the training cut that serves it.

    Attributes
    ----------
    cut
        Last decision time of the training contracts.
    start, end
        The segment's decision times ``[start, end)``.
    rows
        Positions (into the times given) of the rows in the segment, increasing.
    """

    cut: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp
    rows: IntArray


def walk_forward_splits(
    times: pd.DatetimeIndex | pd.Series,
    *,
    origin: pd.Timestamp,
    every: pd.Timedelta,
    purge: pd.Timedelta,
) -> list[WalkForwardSplit]:
    """The non-empty test segments of ``times`` with their purged training cuts.

    Parameters
    ----------
    times
        Decision times of the rows to predict (tz-aware, any order).
    origin
        Start of segment 0 (no row may precede it).
    every
        Segment length (how often the model is refitted).
    purge
        Gap between a training cut and the segment it serves (at least the longest horizon).

    Raises
    ------
    ConfigError
        Non-positive ``every``, negative ``purge``, naive times or a row before ``origin``.
    """
    every, purge, origin = pd.Timedelta(every), pd.Timedelta(purge), pd.Timestamp(origin)
    if every <= pd.Timedelta(0):
        raise ConfigError(f"every must be a positive duration; found {every}")
    if purge < pd.Timedelta(0):
        raise ConfigError(f"purge must be >= 0; found {purge}")
    index = pd.DatetimeIndex(times)
    if origin.tzinfo is None or (len(index) and index.tz is None):
        raise ConfigError("times and origin must be tz-aware UTC; found naive values")
    if len(index) and index.min() < origin:
        raise ConfigError(f"times must be at or after origin {origin}; found {index.min()}")
    segment = np.asarray((index - origin) // every, dtype=np.int64)
    out = []
    for k in np.unique(segment):
        start = origin + int(k) * every
        out.append(
            WalkForwardSplit(
                cut=start - purge,
                start=start,
                end=start + every,
                rows=np.flatnonzero(segment == k).astype(np.int64),
            )
        )
    return out
