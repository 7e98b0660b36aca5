"""Snapshot maps for the contract-relative features: same map as the catalogue, point in time."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.liqmap.clusters import liqmap_features
from levercast.features.liqmap.contract_maps import SnapshotMaps, snapshot_maps
from tests.conftest import make_dataset

CUTS = ("2024-01-12T05:00Z", "2024-01-16T00:00Z")
TABLES = ("candles", "open_interest", "funding", "liquidations", "exchange_reserves")


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> Store:
    return Store(make_dataset(tmp_path_factory.mktemp("maps") / "data", seed=3, hours=24 * 20))


def _snapshot(maps: SnapshotMaps, i: int) -> dict[str, object]:
    sl = slice(maps.offsets[i], maps.offsets[i + 1])
    rows = maps.cluster_row == i
    return {
        "has": bool(maps.has_map[i]),
        "spot": float(maps.spot_usd[i]),
        "oi": float(maps.anchor_oi_usd[i]),
        "first": int(maps.first_bin[i]),
        "long": maps.long_mass_usd[sl].tolist(),
        "short": maps.short_mass_usd[sl].tolist(),
        "clusters": list(
            zip(
                maps.cluster_side[rows].tolist(),
                maps.cluster_log_usd[rows].tolist(),
                maps.cluster_mass_usd[rows].tolist(),
                strict=True,
            )
        ),
    }


def _cut_store(store: Store, root, t: pd.Timestamp) -> Store:
    shutil.copytree(store.root, root)
    for table in TABLES:
        frame = pd.read_parquet(root / f"{table}.parquet")
        frame[frame["available_at"] <= t].to_parquet(root / f"{table}.parquet", index=False)
    return Store(root)


@pytest.mark.parametrize("cut", CUTS)
def test_truncation_snapshot_equals_cut_store_and_view(synthetic_store, tmp_path, cut):
    t = pd.Timestamp(cut)
    cut_store = _cut_store(synthetic_store, tmp_path / "cut", t)
    times = pd.DatetimeIndex([t - pd.Timedelta(hours=30), t - pd.Timedelta(hours=5), t])
    full = snapshot_maps(synthetic_store, "BTC", times)
    part = snapshot_maps(cut_store, "BTC", times)
    for i, at in enumerate(times):
        view = snapshot_maps(synthetic_store.at(at), "BTC", pd.DatetimeIndex([at]))
        assert _snapshot(full, i) == _snapshot(part, i) == _snapshot(view, 0)
        assert full.has_map[i]


def test_clusters_are_those_of_the_features_command(synthetic_store):
    t = pd.Timestamp("2024-01-15T00:00Z")
    maps = snapshot_maps(synthetic_store, "BTC", pd.DatetimeIndex([t]))
    _, _, clusters = liqmap_features(synthetic_store.at(t), "BTC")
    ours = [
        ("long" if side == 0 else "short", math.exp(c), m)
        for side, c, m in zip(
            maps.cluster_side, maps.cluster_log_usd, maps.cluster_mass_usd, strict=True
        )
    ]
    theirs = [(c["side"], c["center_usd"], c["mass_usd"]) for c in clusters]
    assert len(ours) == len(theirs) > 0
    for (s1, c1, m1), (s2, c2, m2) in zip(ours, theirs, strict=True):
        assert s1 == s2 and c1 == pytest.approx(c2, rel=1e-12) and m1 == pytest.approx(m2)


def test_a_time_without_bars_has_no_map_and_a_reason(synthetic_store):
    early = pd.Timestamp("2023-06-01T00:00Z")
    maps = snapshot_maps(synthetic_store, "BTC", pd.DatetimeIndex([early]))
    assert not maps.has_map[0] and maps.widths[0] == 0 and len(maps.cluster_row) == 0
    assert "no rows for BTC known at t" in str(maps.reasons[0])


def test_concat_and_locate(synthetic_store):
    times = pd.date_range("2024-01-10T00:00Z", periods=3, freq="6h")
    a = snapshot_maps(synthetic_store, "BTC", times[:2])
    b = snapshot_maps(synthetic_store, "BTC", times[2:])
    both = SnapshotMaps.concat([a, b])
    whole = snapshot_maps(synthetic_store, "BTC", times)
    for i in range(3):
        assert _snapshot(both, i) == _snapshot(whole, i)
    found = both.locate(
        np.array(["BTC", "BTC", "ETH"]), np.asarray(times.as_unit("ns").asi8)[[2, 0, 0]]
    )
    assert found.tolist() == [2, 0, -1]


def test_bad_arguments_are_named(synthetic_store):
    with pytest.raises(ConfigError, match="times must be unique"):
        snapshot_maps(synthetic_store, "BTC", pd.DatetimeIndex(["2024-01-10T00:00Z"] * 2))
    with pytest.raises(ConfigError, match="top_n must be >= 1"):
        snapshot_maps(synthetic_store, "BTC", pd.DatetimeIndex(["2024-01-10T00:00Z"]), top_n=0)
    with pytest.raises(ConfigError, match="tz-aware"):
        snapshot_maps(synthetic_store, "BTC", pd.DatetimeIndex([pd.Timestamp("2024-01-10")]))
