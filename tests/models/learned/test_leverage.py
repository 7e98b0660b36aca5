"""Contract-relative leverage features: hand cases, mirror symmetry, truncation."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.dataset.store import Store
from levercast.features.frame.frame import compute_feature_frame
from levercast.features.liqmap.contract_maps import SnapshotMaps, snapshot_maps
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.learned.leverage import (
    LEVERAGE_FEATURES,
    ORIENTED_FEATURES,
    SCALAR_INPUTS,
    barrier_geometry,
    key_index,
    leverage_features,
)
from levercast.models.pricing.market_state import market_inputs
from tests.conftest import make_dataset

T = pd.Timestamp("2026-01-01T00:00Z")
BPS = 10.0
STEP = math.log1p(BPS / 1e4)
SPOT_BIN = 11_000
SPOT = math.exp((SPOT_BIN + 0.5) * STEP)  # at a bin centre: the map mirrors bin onto bin
OI = 2e10


def _maps(long_bins: dict[int, float], short_bins: dict[int, float], clusters=()) -> SnapshotMaps:
    """One snapshot at T; ``clusters`` as (side, log centre, mass)."""
    bins = [*long_bins, *short_bins, SPOT_BIN]
    lo, hi = min(bins), max(bins)
    long_m, short_m = np.zeros(hi - lo + 1), np.zeros(hi - lo + 1)
    for b, v in long_bins.items():
        long_m[b - lo] = v
    for b, v in short_bins.items():
        short_m[b - lo] = v
    cl = sorted(clusters, key=lambda c: c[0])
    return SnapshotMaps(
        asset=np.array(["BTC"], dtype=object),
        t_ns=np.array([T.value], dtype=np.int64),
        has_map=np.array([True]),
        reasons=np.array([None], dtype=object),
        bin_bps=BPS,
        spot_usd=np.array([SPOT]),
        anchor_oi_usd=np.array([OI]),
        first_bin=np.array([lo], dtype=np.int64),
        offsets=np.array([0, len(long_m)], dtype=np.int64),
        long_mass_usd=long_m,
        short_mass_usd=short_m,
        cluster_row=np.zeros(len(cl), dtype=np.int64),
        cluster_side=np.array([c[0] for c in cl], dtype=np.int64),
        cluster_log_usd=np.array([c[1] for c in cl], dtype=float),
        cluster_mass_usd=np.array([c[2] for c in cl], dtype=float),
    )


def _mirror(maps: SnapshotMaps) -> SnapshotMaps:
    """The map reflected around spot in log price, long <-> short."""
    width = maps.widths[0]
    last = maps.first_bin[0] + width - 1
    log_spot = math.log(SPOT)
    order = np.lexsort((np.arange(len(maps.cluster_side)), 1 - maps.cluster_side))
    return SnapshotMaps(
        asset=maps.asset,
        t_ns=maps.t_ns,
        has_map=maps.has_map,
        reasons=maps.reasons,
        bin_bps=BPS,
        spot_usd=maps.spot_usd,
        anchor_oi_usd=maps.anchor_oi_usd,
        first_bin=np.array([2 * SPOT_BIN - last], dtype=np.int64),
        offsets=maps.offsets,
        long_mass_usd=maps.short_mass_usd[::-1].copy(),
        short_mass_usd=maps.long_mass_usd[::-1].copy(),
        cluster_row=maps.cluster_row,
        cluster_side=(1 - maps.cluster_side)[order],
        cluster_log_usd=(2 * log_spot - maps.cluster_log_usd)[order],
        cluster_mass_usd=maps.cluster_mass_usd[order],
    )


def _scalars(sign: float = 1.0, **values: float) -> pd.DataFrame:
    base = {name: 0.0 for name in SCALAR_INPUTS}
    base.update(
        oi_dominance_score=0.3,
        funding_rate_8h=2e-4,
        liq_skew_24h=0.4,
        liq_skew_7d=-0.2,
        liq_total_usd_24h=3e8,
        liq_total_usd_7d=2e9,
        elr=0.2,
        oi_change_30d=0.4,
        price_change_30d=0.15,
        leverage_reset_30d=0.0,
    )
    base.update(values)
    for name in ("oi_dominance_score", "funding_rate_8h", "liq_skew_24h", "liq_skew_7d"):
        base[name] *= sign
    return pd.DataFrame({"asset": ["BTC"], "ts": [T], **{k: [v] for k, v in base.items()}})


def _rows(specs: list[dict]) -> pd.DataFrame:
    base = {
        "asset": "BTC",
        "t": T,
        "horizon_hours": 72.0,
        "spot_usd": SPOT,
        "vol_annual": 0.6,
        "direction": "",
        "strike_usd": np.nan,
        "lower_usd": np.nan,
        "upper_usd": np.nan,
        "threshold": np.nan,
    }
    return pd.DataFrame([{**base, **s} for s in specs])


def test_three_billion_of_shorts_five_percent_above_tilt_up_not_down():
    short_bin = SPOT_BIN + round(math.log(1.05) / STEP)
    maps = _maps(
        {SPOT_BIN - 40: 2e8},
        {short_bin: 3e9},
        [(0, math.log(SPOT * 0.96), 2e8), (1, (short_bin + 0.5) * STEP, 3e9)],
    )
    rows = _rows(
        [
            {"kind": "touch", "direction": "up", "strike_usd": SPOT * 1.07},
            {"kind": "touch", "direction": "down", "strike_usd": SPOT / 1.07},
        ]
    )
    f = leverage_features(rows, maps, _scalars())
    up, down = f.iloc[0], f.iloc[1]
    assert up["lev_mass_to_strike_usd"] == pytest.approx(3e9)
    assert down["lev_mass_to_strike_usd"] == pytest.approx(2e8)
    assert up["lev_mass_to_strike_oi"] == pytest.approx(3e9 / OI)
    u = 0.6 * math.sqrt(72 / 8760)
    near = (short_bin - SPOT_BIN) * STEP / u  # the cluster centre is its bin's centre
    assert up["lev_near_cluster_dist_vol"] == pytest.approx(near, rel=1e-9)
    assert down["lev_near_cluster_dist_vol"] == pytest.approx(-math.log(0.96) / u, rel=1e-6)
    assert up["lev_opp_big_cluster_dist_vol"] == down["lev_big_cluster_dist_vol"]
    assert up["lev_mass_ratio_log"] == pytest.approx(math.log1p(3e9) - math.log1p(2e8))
    assert down["lev_mass_ratio_log"] == pytest.approx(-up["lev_mass_ratio_log"])
    # dominance +0.3 (longs crowded): a down move liquidates longs, so it is + for the down touch
    assert up["lev_dominance"] == -0.3 and down["lev_dominance"] == 0.3
    assert up["lev_funding"] == -2e-4 and down["lev_liq_skew_24h"] == 0.4
    assert up["lev_oi_build_30d"] == pytest.approx(0.4 - 0.15)
    assert up["lev_liq_24h_oi"] == pytest.approx(3e8 / OI)


def test_mass_is_spread_evenly_over_each_bin():
    maps = _maps({}, {SPOT_BIN + 10: 1e9})
    inside = math.exp((SPOT_BIN + 10.25) * STEP)  # a quarter into the bin
    rows = _rows([{"kind": "close_above", "strike_usd": inside}])
    f = leverage_features(rows, maps, _scalars())
    assert f.loc[0, "lev_mass_to_strike_usd"] == pytest.approx(0.25e9)


def test_two_sided_rows_have_only_two_sided_features():
    maps = _maps({SPOT_BIN - 30: 1e9}, {SPOT_BIN + 30: 2e9})
    rows = _rows(
        [
            {"kind": "range", "lower_usd": SPOT * 0.97, "upper_usd": SPOT * 1.02},
            {"kind": "move", "threshold": 0.05},
        ]
    )
    f = leverage_features(rows, maps, _scalars())
    assert f[list(ORIENTED_FEATURES)].isna().all().all()
    two_sided = [n for n in LEVERAGE_FEATURES if n not in ORIENTED_FEATURES]
    assert (
        f[two_sided].drop(columns=["lev_elr_change_7d", "lev_elr_change_30d"]).notna().all().all()
    )


def test_orientation_by_kind():
    rows = _rows(
        [
            {"kind": "close_above", "strike_usd": SPOT * 0.9},
            {"kind": "close_above", "strike_usd": SPOT},
            {"kind": "close_below", "strike_usd": SPOT},
            {"kind": "close_below", "strike_usd": SPOT * 1.1},
            {"kind": "touch", "direction": "down", "strike_usd": SPOT * 0.9},
            {"kind": "move", "direction": "down", "threshold": 0.1},
            {"kind": "up_down"},
            {"kind": "first_of", "lower_usd": SPOT * 0.9, "upper_usd": SPOT * 1.2},
            {"kind": "range", "lower_usd": SPOT * 0.9, "upper_usd": SPOT * 1.2},
        ]
    )
    s, k, _ = barrier_geometry(rows)
    np.testing.assert_array_equal(s[:8], [-1, 1, -1, 1, -1, -1, 1, 1])
    assert np.isnan(s[8])
    assert k[5] == pytest.approx(math.log(0.9)) and k[7] == pytest.approx(math.log(1.2))


def test_rows_without_a_map_get_nan_map_features():
    maps = _maps({SPOT_BIN - 30: 1e9}, {})
    rows = _rows([{"kind": "touch", "direction": "up", "strike_usd": SPOT * 1.1}])
    rows["t"] = T + pd.Timedelta(hours=1)
    f = leverage_features(rows, maps, _scalars())
    assert np.isnan(f.loc[0, "lev_mass_to_strike_usd"]) and np.isnan(f.loc[0, "lev_dominance"])


def test_key_index_matches_a_dictionary_lookup():
    rng = np.random.default_rng(0)
    keys_asset = np.array(["BTC", "ETH", "BTC", "SOL"], dtype=object)
    keys_t = np.array([5, 5, 9, 1], dtype=np.int64)
    rows_asset = rng.choice(["BTC", "ETH", "SOL", "XRP"], 50).astype(object)
    rows_t = rng.choice([1, 5, 9, 11], 50).astype(np.int64)
    got = key_index(rows_asset, rows_t, keys_asset, keys_t)
    table = {(a, t): i for i, (a, t) in enumerate(zip(keys_asset, keys_t, strict=True))}
    want = [table.get((a, t), -1) for a, t in zip(rows_asset, rows_t, strict=True)]
    assert got.tolist() == want


def _random_map(seed: int) -> SnapshotMaps:
    rng = np.random.default_rng(seed)
    long_bins = {
        SPOT_BIN - int(j): float(m)
        for j, m in zip(rng.integers(1, 300, 60), rng.gamma(1, 1e7, 60), strict=True)
    }
    short_bins = {
        SPOT_BIN + int(j): float(m)
        for j, m in zip(rng.integers(1, 300, 60), rng.gamma(1, 1e7, 60), strict=True)
    }
    clusters = [
        (0, math.log(SPOT) - float(x), float(m))
        for x, m in zip(rng.uniform(0.001, 0.3, 3), rng.gamma(1, 1e8, 3), strict=True)
    ] + [
        (1, math.log(SPOT) + float(x), float(m))
        for x, m in zip(rng.uniform(0.001, 0.3, 2), rng.gamma(1, 1e8, 2), strict=True)
    ]
    return _maps(long_bins, short_bins, clusters)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    log_k=st.floats(0.0005, 0.4),
    hours=st.sampled_from([1.0, 24.0, 168.0, 720.0]),
    kind=st.sampled_from(["touch", "close_above", "close_above_itm", "move"]),
)
def test_mirror_symmetry(seed, log_k, hours, kind):
    """An up contract at K on a map = the down contract at S^2/K on the mirrored map."""
    maps = _random_map(seed)
    up_k, down_k = SPOT * math.exp(log_k), SPOT * math.exp(-log_k)
    if kind == "touch":
        pair = [
            {"kind": "touch", "direction": "up", "strike_usd": up_k},
            {"kind": "touch", "direction": "down", "strike_usd": down_k},
        ]
    elif kind == "close_above":
        pair = [
            {"kind": "close_above", "strike_usd": up_k},
            {"kind": "close_below", "strike_usd": down_k},
        ]
    elif kind == "close_above_itm":
        pair = [
            {"kind": "close_above", "strike_usd": down_k},
            {"kind": "close_below", "strike_usd": up_k},
        ]
    else:
        x = math.expm1(log_k)
        pair = [
            {"kind": "move", "direction": "up", "threshold": x},
            {"kind": "move", "direction": "down", "threshold": x / (1 + x)},
        ]
    rows = _rows(pair).assign(horizon_hours=hours)
    plain = leverage_features(rows.iloc[[0]], maps, _scalars(1.0))
    mirrored = leverage_features(rows.iloc[[1]], _mirror(maps), _scalars(-1.0))
    a, b = plain.to_numpy()[0], mirrored.to_numpy()[0]
    assert np.isnan(a).tolist() == np.isnan(b).tolist()
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-6)


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> Store:
    return Store(make_dataset(tmp_path_factory.mktemp("lev") / "data", seed=5, hours=24 * 20))


def _features_at(source, store_for_spot, t: pd.Timestamp) -> pd.DataFrame:
    times = pd.DatetimeIndex([t])
    rows = contract_grid(market_inputs(store_for_spot, "BTC", times), horizons_hours=(4.0, 72.0))
    maps = snapshot_maps(source, "BTC", times)
    frame = compute_feature_frame(source, "BTC", times, names=list(SCALAR_INPUTS)).frame
    frame["asset"] = frame["asset"].astype(str)
    return leverage_features(rows, maps, frame)


@pytest.mark.parametrize("cut", ["2024-01-12T05:00Z", "2024-01-16T00:00Z"])
def test_truncation_every_feature(synthetic_store, tmp_path, cut):
    t = pd.Timestamp(cut)
    root = tmp_path / "cut"
    shutil.copytree(synthetic_store.root, root)
    for table in ("candles", "open_interest", "funding", "liquidations", "exchange_reserves"):
        frame = pd.read_parquet(root / f"{table}.parquet")
        frame[frame["available_at"] <= t].to_parquet(root / f"{table}.parquet", index=False)
    cut_store = Store(root)
    full = _features_at(synthetic_store, synthetic_store, t)
    part = _features_at(cut_store, synthetic_store, t)
    view = _features_at(synthetic_store.at(t), synthetic_store, t)
    pd.testing.assert_frame_equal(full, part)
    pd.testing.assert_frame_equal(full, view)
    assert full[["lev_mass_to_strike_oi", "lev_dominance", "lev_liq_24h_oi"]].notna().any().all()
