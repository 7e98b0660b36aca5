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
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from levercast.experiments.labels.outcomes import label_frame
from levercast.features.dataset.store import PointInTime, Store
from levercast.features.errors import ConfigError, DataError
from levercast.features.frame.registry import feature_specs
from levercast.features.liqmap.contract_maps import SnapshotMaps, snapshot_maps
from levercast.models.learned.contract_grid import GRID_COLUMNS, contract_grid
from levercast.models.learned.design import (
    BASE_FEATURES,
    CONTRACT_COLUMNS,
    TrainingConfig,
    TrainingSet,
    contract_design,
    decision_times,
    design_matrix,
    select_features,
)
from levercast.models.learned.leverage import (
    LEVERAGE_FEATURES,
    SCALAR_INPUTS,
    key_index,
    leverage_features,
)
from levercast.models.pricing.market_state import market_inputs

__all__ = [
    "KeyedInputs",
    "TrainingPool",
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
    pool = TrainingPool.build(store, assets=assets, cuts=[cut], config=config)
    return pool.training_set(cut, config=config, seed=seed)


@dataclass(frozen=True, slots=True, eq=False)
class KeyedInputs:
    """Point-in-time inputs at a set of (asset, t), computed once, taken by subsets.

    ``frame(keys, names)`` is ``features_for(source, keys, names)`` and ``maps_at(keys)`` is
    ``maps_for(source, keys)`` for any ``keys`` among those computed, value for value: each row
    of the feature frame and each snapshot depends only on its own (asset, t) (point in time), so
    computing them over more times and taking a subset changes nothing
    (``tests/experiments/learning/test_training_set.py``).

    Attributes
    ----------
    features
        ``asset, ts`` + features (catalogue order), per asset in increasing time.
    maps
        The snapshots of the same keys (None when not computed).
    """

    features: pd.DataFrame
    maps: SnapshotMaps | None

    @classmethod
    def compute(
        cls, source: PointInTime, keys: pd.DataFrame, names: Sequence[str], *, maps: bool
    ) -> KeyedInputs:
        """Frame rows with ``names`` (and the maps when ``maps``) at the (asset, t) of ``keys``."""
        return cls(features_for(source, keys, names), maps_for(source, keys) if maps else None)

    def _positions(self, keys: pd.DataFrame, asset: np.ndarray, t_ns: np.ndarray) -> np.ndarray:
        wanted = _unique_keys(keys)
        at = key_index(
            wanted["asset"].to_numpy(object),
            _ns(wanted["t"]),
            asset,
            t_ns,
        )
        if (at < 0).any():
            raise ConfigError(
                f"keys must be among the precomputed (asset, t); found {int((at < 0).sum())} not"
            )
        return at

    def frame(self, keys: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        """``features_for(source, keys, names)`` taken from the computed rows."""
        known = set(names)
        columns = ["asset", "ts", *[c for c in self.features.columns[2:] if c in known]]
        missing = [n for n in names if n not in self.features.columns and n in _catalogue()]
        if missing:
            raise ConfigError(f"names must be among the computed features; missing {missing}")
        if keys.empty:
            return pd.DataFrame(columns=["asset", "ts"])
        at = self._positions(
            keys, self.features["asset"].to_numpy(object), _ns(self.features["ts"])
        )
        return self.features.iloc[at][columns].reset_index(drop=True)

    def maps_at(self, keys: pd.DataFrame) -> SnapshotMaps:
        """``maps_for(source, keys)`` taken from the computed snapshots."""
        if self.maps is None:
            raise ConfigError("maps were not computed for these inputs (maps=False)")
        if keys.empty:
            return SnapshotMaps.empty(self.maps.bin_bps)
        return _take_maps(self.maps, self._positions(keys, self.maps.asset, self.maps.t_ns))

    def leverage_inputs(
        self, keys: pd.DataFrame, names: Sequence[str] = ()
    ) -> tuple[pd.DataFrame, SnapshotMaps]:
        """``leverage_inputs(source, keys, names)`` taken from the computed inputs."""
        wanted = list(dict.fromkeys([*names, *SCALAR_INPUTS]))
        return self.frame(keys, wanted), self.maps_at(keys)


@dataclass(frozen=True, slots=True, eq=False)
class TrainingPool:
    """What the training sets of several cuts share, computed once (walk-forward refits).

    The decision times of every cut (``decision_times``: each cut's grid is a subset of the
    union when the cuts are whole steps apart), their market inputs, contract grid, labels
    (``label_grid``), contract design and point-in-time inputs (``KeyedInputs``).
    ``training_set(cut)`` takes the rows of one cut and applies the per-cut steps of
    ``assemble_training_set`` (the label cut ``cut + purge``, the seeded subsample, feature
    selection before the cut, the leverage features of the cut's own rows and maps): the result
    is the set ``assemble_training_set`` builds for that cut alone, value for value.
    Labels are read once per row: a row's outcome does not depend on the cut (only whether it
    is resolved by ``cut + purge`` does).
    """

    store: Store
    assets: tuple[str, ...]
    config: TrainingConfig
    times: pd.DatetimeIndex
    grid: pd.DataFrame
    inputs: KeyedInputs

    @classmethod
    def build(
        cls,
        store: Store,
        *,
        assets: Sequence[str],
        cuts: Sequence[pd.Timestamp],
        config: TrainingConfig,
        leverage: bool | None = None,
    ) -> TrainingPool:
        """The shared part of the training sets of ``cuts`` (``leverage``: compute the maps;
        default ``config.use_leverage``)."""
        times = _union_times(cuts, config)
        inputs = pd.concat([market_inputs(store, a, times) for a in assets], ignore_index=True)
        grid = contract_grid(
            inputs, horizons_hours=config.horizons_hours, kinds=config.kinds, z_grid=config.z_grid
        )
        outcomes = label_grid(store, grid)
        grid = pd.concat([grid, outcomes, contract_design(grid)], axis=1)
        with_maps = config.use_leverage if leverage is None else leverage
        names = [*BASE_FEATURES, *SCALAR_INPUTS] if with_maps else list(BASE_FEATURES)
        keyed = KeyedInputs.compute(store, grid[["asset", "t"]], names, maps=with_maps)
        return cls(store, tuple(assets), config, times, grid, keyed)

    def covers(self, cut: pd.Timestamp, config: TrainingConfig) -> bool:
        """Whether ``training_set(cut, config=config)`` can be taken from this pool."""
        if _grid_settings(config) != _grid_settings(self.config):
            return False
        if config.use_leverage and self.inputs.maps is None:
            return False
        return bool(_decisions(pd.Timestamp(cut), config).isin(self.times).all())

    def training_set(
        self, cut: pd.Timestamp, *, config: TrainingConfig | None = None, seed: int = 0
    ) -> TrainingSet:
        """The training set of ``cut`` (see the class docstring).

        Raises
        ------
        ConfigError
            When the pool does not cover ``cut`` with ``config`` (``covers``).
        DataError
            When no grid contract can be labelled before ``cut + purge``.
        """
        config = config or self.config
        cut = pd.Timestamp(cut)
        if not self.covers(cut, config):
            raise ConfigError(
                f"cut must be one the pool was built for (decision times and grid settings); "
                f"found {cut.isoformat()}"
            )
        times = _decisions(cut, config)
        grid = self.grid.loc[self.grid["t"].isin(times).to_numpy()].reset_index(drop=True)
        label_cut = cut + config.purge
        resolved = grid["resolved_at"]
        ok = grid["y"].notna().to_numpy() & (grid["end"] <= label_cut).to_numpy()
        ok &= (resolved.isna() | (resolved <= label_cut)).to_numpy()
        frame = grid.loc[ok, [*GRID_COLUMNS, "y", *_DESIGN_COLUMNS]]
        frame = frame[np.isfinite(frame["prob_gbm"].to_numpy())]
        frame = _split_half_labels(frame)
        if frame.empty:
            raise DataError(
                f"no grid contract of {list(self.assets)} could be labelled before {label_cut} "
                "(cut + purge)"
            )
        if len(frame) > config.max_rows:
            # the documented, seeded subsample (TrainingConfig.max_rows), time order kept
            keep = np.sort(
                np.random.default_rng(seed).choice(len(frame), config.max_rows, replace=False)
            )
            frame = frame.iloc[keep]
        frame = frame.sort_values(["t", "asset"], kind="stable").reset_index(drop=True)
        keys = frame[["asset", "t"]]
        features = self.inputs.frame(keys, BASE_FEATURES)
        kept, excluded = select_features(features, cut, config)
        excluded.update(
            {
                spec.name: "asset-level feature, not a design column: leverage enters through "
                "the contract-relative features (models.learned.leverage)"
                for spec in feature_specs()
                if spec.name not in BASE_FEATURES and spec.name not in excluded
            }
        )
        leverage = None
        if config.use_leverage:
            scalars, maps = self.inputs.leverage_inputs(keys)
            values = leverage_features(frame, maps, scalars)
            probe = values.assign(asset=frame["asset"], ts=frame["t"])
            chosen, dropped = select_features(probe, cut, config)
            excluded.update(dropped)
            leverage = values[chosen]
        else:
            excluded.update(
                {
                    name: "leverage feature left out (use_leverage=False)"
                    for name in LEVERAGE_FEATURES
                }
            )
        X = design_matrix(frame, features, kept, leverage)
        used = tuple(leverage.columns) if leverage is not None else ()
        return TrainingSet(frame, X, tuple(kept), excluded, int((~ok).sum()), used)


_DESIGN_COLUMNS: Final = ("prob_gbm", *CONTRACT_COLUMNS)


def _grid_settings(config: TrainingConfig) -> tuple[object, ...]:
    return (
        config.decision_every_hours,
        config.history_days,
        tuple(config.horizons_hours),
        tuple(config.kinds),
        tuple(config.z_grid),
    )


def _decisions(cut: pd.Timestamp, config: TrainingConfig) -> pd.DatetimeIndex:
    return decision_times(
        cut, every_hours=config.decision_every_hours, history_days=config.history_days
    )


def _union_times(cuts: Sequence[pd.Timestamp], config: TrainingConfig) -> pd.DatetimeIndex:
    if not cuts:
        raise ConfigError("cuts must list at least one training cut; found none")
    union = _decisions(pd.Timestamp(cuts[0]), config)
    for cut in cuts[1:]:
        union = union.union(_decisions(pd.Timestamp(cut), config))
    return union.sort_values()


def _catalogue() -> set[str]:
    return {spec.name for spec in feature_specs()}


def _ns(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(values).tz_convert("UTC").as_unit("ns").asi8)


def _unique_keys(keys: pd.DataFrame) -> pd.DataFrame:
    """The unique (asset, t) of ``keys`` in the order ``features_for`` and ``maps_for`` give
    them: by asset, then increasing time."""
    pieces = []
    for asset, group in keys.groupby("asset", sort=True):
        times = pd.DatetimeIndex(group["t"].drop_duplicates().sort_values())
        pieces.append(pd.DataFrame({"asset": str(asset), "t": times}))
    return pd.concat(pieces, ignore_index=True)


def _take_maps(maps: SnapshotMaps, at: np.ndarray) -> SnapshotMaps:
    """The snapshots ``at`` (increasing positions) of ``maps``, as ``snapshot_maps`` would have
    built them for those (asset, t) alone."""
    widths = np.diff(maps.offsets)[at]
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
    bins = np.repeat(maps.offsets[at] - offsets[:-1], widths) + np.arange(offsets[-1])
    position = np.full(len(maps), -1, dtype=np.int64)
    position[at] = np.arange(len(at))
    clusters = position[maps.cluster_row] >= 0
    return SnapshotMaps(
        asset=maps.asset[at],
        t_ns=maps.t_ns[at],
        has_map=maps.has_map[at],
        reasons=maps.reasons[at],
        bin_bps=maps.bin_bps,
        spot_usd=maps.spot_usd[at],
        anchor_oi_usd=maps.anchor_oi_usd[at],
        first_bin=maps.first_bin[at],
        offsets=offsets,
        long_mass_usd=maps.long_mass_usd[bins],
        short_mass_usd=maps.short_mass_usd[bins],
        cluster_row=position[maps.cluster_row[clusters]],
        cluster_side=maps.cluster_side[clusters],
        cluster_log_usd=maps.cluster_log_usd[clusters],
        cluster_mass_usd=maps.cluster_mass_usd[clusters],
    )


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
