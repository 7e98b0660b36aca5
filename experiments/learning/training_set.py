"""Training sets of the learned models: grid contracts, point-in-time features, realised labels.

``assemble_training_set(store, assets=..., cut=..., config=...)``:

1. decision times every ``config.decision_every_hours`` over ``config.history_days`` up to the
   training ``cut`` (the last decision time);
2. spot, ``gbm`` vol (``models.pricing.market_state.market_inputs``) and the contract grid
   (``models.learned.contract_grid``);
3. labels only through ``experiments.labels.outcomes.label_frame`` (the single outcome reader,
   on the grid frame itself: no ``Contract`` object per row); a row is kept only when its
   outcome is known and resolved by ``cut + purge`` (every window ends by then since
   ``purge >= the longest horizon``), so a model fitted on the set may be used at any
   ``T >= cut + purge`` (INTERFACE.md §5);
4. the volatility features of the feature frame at each (asset, t) (``features.frame.frame``,
   point in time), with ``config.use_leverage`` the contract-relative leverage features of each row
   (``models.learned.leverage`` on the maps of ``features.liqmap.contract_maps`` and the frame's
   scalars, both point in time), and the selection and design of ``models.learned.design``.

``leverage_inputs(source, keys)`` gives the same point-in-time inputs (frame scalars and maps) for
prediction: ``FittedForecaster.predict(rows, features, maps)``.

Rows whose ``gbm`` probability is NaN are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from levercast.experiments.labels.outcomes import label_frame
from levercast.features.dataset.store import PointInTime, Store
from levercast.features.errors import DataError
from levercast.features.frame.registry import feature_specs
from levercast.features.liqmap.contract_maps import SnapshotMaps, snapshot_maps
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.learned.design import (
    BASE_FEATURES,
    TrainingConfig,
    TrainingSet,
    contract_design,
    decision_times,
    design_matrix,
    select_features,
)
from levercast.models.learned.leverage import LEVERAGE_FEATURES, SCALAR_INPUTS, leverage_features
from levercast.models.pricing.market_state import market_inputs

__all__ = [
    "assemble_training_set",
    "features_for",
    "label_grid",
    "leverage_inputs",
    "maps_for",
]


def features_for(
    source: PointInTime, keys: pd.DataFrame, names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Feature frame rows (``asset, ts`` + features) for the unique (asset, t) of ``keys``.

    ``names`` restricts the computation to those registered features (default: all).
    """
    from levercast.features.frame.frame import compute_feature_frame

    known = {spec.name for spec in feature_specs()}
    wanted = None if names is None else [n for n in names if n in known]
    pieces = []
    for asset, group in keys.groupby("asset", sort=True):
        times = pd.DatetimeIndex(group["t"].drop_duplicates().sort_values())
        pieces.append(compute_feature_frame(source, str(asset), times, names=wanted).frame)
    if not pieces:
        return pd.DataFrame(columns=["asset", "ts"])
    out = pd.concat(pieces, ignore_index=True)
    out["asset"] = out["asset"].astype(str)
    return out


def maps_for(source: PointInTime, keys: pd.DataFrame) -> SnapshotMaps:
    """Point-in-time liquidation maps (``features.liqmap.contract_maps``) at the unique
    (asset, t) of ``keys``."""
    pieces = []
    for asset, group in keys.groupby("asset", sort=True):
        times = pd.DatetimeIndex(group["t"].drop_duplicates().sort_values())
        pieces.append(snapshot_maps(source, str(asset), times))
    return SnapshotMaps.concat(pieces)


def leverage_inputs(
    source: PointInTime, keys: pd.DataFrame, names: Sequence[str] = ()
) -> tuple[pd.DataFrame, SnapshotMaps]:
    """Frame rows with ``names`` and the leverage scalars, and the maps, at the (asset, t) of
    ``keys``: what ``FittedForecaster.predict`` reads for a fit using leverage features."""
    wanted = list(dict.fromkeys([*names, *SCALAR_INPUTS]))
    return features_for(source, keys, wanted), maps_for(source, keys)


def assemble_training_set(
    store: Store,
    *,
    assets: Sequence[str],
    cut: pd.Timestamp,
    config: TrainingConfig,
    seed: int = 0,
) -> TrainingSet:
    """The labelled, time-ordered training set of the learned models (module docstring).

    Raises
    ------
    DataError
        When no grid contract can be labelled before ``cut + purge``.
    """
    times = decision_times(
        cut, every_hours=config.decision_every_hours, history_days=config.history_days
    )
    inputs = pd.concat([market_inputs(store, a, times) for a in assets], ignore_index=True)
    grid = contract_grid(
        inputs, horizons_hours=config.horizons_hours, kinds=config.kinds, z_grid=config.z_grid
    )
    outcomes = label_grid(store, grid)
    label_cut = cut + config.purge
    resolved = outcomes["resolved_at"]
    ok = outcomes["y"].notna().to_numpy() & (grid["end"] <= label_cut).to_numpy()
    ok &= (resolved.isna() | (resolved <= label_cut)).to_numpy()
    frame = grid.loc[ok].copy()
    frame["y"] = outcomes.loc[ok, "y"].to_numpy()
    design = contract_design(frame)
    frame = pd.concat([frame, design], axis=1)
    frame = frame[np.isfinite(frame["prob_gbm"].to_numpy())]
    frame = _split_half_labels(frame)
    if frame.empty:
        raise DataError(
            f"no grid contract of {list(assets)} could be labelled before {label_cut} (cut + purge)"
        )
    if len(frame) > config.max_rows:
        keep = np.sort(
            np.random.default_rng(seed).choice(len(frame), config.max_rows, replace=False)
        )
        frame = frame.iloc[keep]
    frame = frame.sort_values(["t", "asset"], kind="stable").reset_index(drop=True)
    keys = frame[["asset", "t"]]
    features = features_for(store, keys, BASE_FEATURES)
    kept, excluded = select_features(features, cut, config)
    excluded.update(
        {
            spec.name: "asset-level feature, not a design column: leverage enters through the "
            "contract-relative features (models.learned.leverage)"
            for spec in feature_specs()
            if spec.name not in BASE_FEATURES and spec.name not in excluded
        }
    )
    leverage = None
    if config.use_leverage:
        scalars, maps = leverage_inputs(store, keys)
        values = leverage_features(frame, maps, scalars)
        probe = values.assign(asset=frame["asset"], ts=frame["t"])
        chosen, dropped = select_features(probe, cut, config)
        excluded.update(dropped)
        leverage = values[chosen]
    else:
        excluded.update(
            {name: "leverage feature left out (use_leverage=False)" for name in LEVERAGE_FEATURES}
        )
    X = design_matrix(frame, features, kept, leverage)
    used = tuple(leverage.columns) if leverage is not None else ()
    return TrainingSet(frame, X, tuple(kept), excluded, int((~ok).sum()), used)


def _split_half_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows labelled strictly between 0 and 1 (a first_of with no barrier hit pays 0.5) become
    one row labelled 0 and one labelled 1: the mean label is kept for a binary classifier."""
    y = frame["y"].to_numpy(float)
    half = (y > 0) & (y < 1)
    if not half.any():
        return frame
    low, high = frame[half].assign(y=0.0), frame[half].assign(y=1.0)
    return pd.concat([frame[~half], low, high]).sort_index(kind="stable")


def label_grid(store: Store, grid: pd.DataFrame) -> pd.DataFrame:
    """Outcomes of grid rows: ``y`` (NaN when unknown), ``resolved_at`` (NaT when unknown).

    ``label_frame`` reads the grid's columns directly; it gives what ``label_contracts`` gives
    for ``to_contracts(grid)`` row by row (``tests/experiments/labels/test_label_frame.py``),
    without building one ``Contract`` per row (113,610 rows: 0.2 s instead of 6.6 s).
    """
    return label_frame(store, grid)[["y", "resolved_at"]]
