"""Realised liquidation volumes: window sums of the whole ``liquidations`` table (labels).

This reads the future on purpose, like ``experiments.labels.outcomes``: it labels training
windows of the liquidation-volume model. Pricing never calls it; a pricer sums the rows known at
its decision time with the same ``features.liquidation_windows.window_sums``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.dataset.store import Store
from levercast.features.liquidation_windows import liquidation_buckets, window_sums

__all__ = ["liquidation_buckets_of", "liquidation_sums"]


def liquidation_buckets_of(store: Store, asset: str) -> pd.DataFrame:
    """The asset's buckets of the whole table (empty when the store has none)."""
    if not store.has("liquidations"):
        return liquidation_buckets(pd.DataFrame(), asset)
    return liquidation_buckets(store.read("liquidations"), asset)


def liquidation_sums(
    store: Store,
    asset: str,
    start: pd.DatetimeIndex,
    end: pd.DatetimeIndex,
    side: Sequence[str] | np.ndarray,
) -> FloatArray:
    """USD liquidated of ``side`` in each window ``[start, end)`` (NaN outside the table span)."""
    return window_sums(liquidation_buckets_of(store, asset), start, end, side)
