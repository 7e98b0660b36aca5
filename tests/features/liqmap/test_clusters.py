"""Clusters, distances and the liquidation-map feature set, including the truncation test."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from levercast.features.builders.dominance import long_share_series
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.frame.frame import compute_feature_frame, features_at
from levercast.features.frame.inputs import context_for
from levercast.features.frame.registry import feature_specs
from levercast.features.liqmap.clusters import (
    FEATURE_NAMES,
    MAP_FEATURES,
    MAP_INPUTS,
    SHARE_INPUTS,
    find_clusters,
    hourly_vol,
    liqmap_features,
    long_share_known_at,
    mass_near_spot,
)
from levercast.features.liqmap.map import LiqMap, build_inputs
from tests.conftest import make_dataset

AT = pd.Timestamp("2026-01-01T00:00Z")
STEP = math.log1p(10 / 1e4)


def _map(long_bins: dict[int, float], short_bins: dict[int, float], spot_bin: int) -> LiqMap:
    lo = min([*long_bins, *short_bins, spot_bin])
    hi = max([*long_bins, *short_bins, spot_bin])
    long_m, short_m = np.zeros(hi - lo + 1), np.zeros(hi - lo + 1)
    for b, v in long_bins.items():
        long_m[b - lo] = v
    for b, v in short_bins.items():
        short_m[b - lo] = v
    spot = math.exp((spot_bin + 0.5) * STEP)
    return LiqMap(AT, spot, 10.0, lo, long_m, short_m)


SPOT_BIN = 11_000  # about 59,850 USD


def test_two_dense_bumps_make_two_clusters_ranked_by_mass():
    base = SPOT_BIN
    bumps = {base - 50 + i: 10.0 for i in range(5)} | {base - 20 + i: 30.0 for i in range(3)}
    noise = {base - 100 + 7 * i: 1.0 for i in range(5)}
    m = _map(bumps | noise, {}, base)
    found = find_clusters(m, side="long", top_n=5)
    assert [c["mass_usd"] for c in found] == pytest.approx([90.0, 50.0])
    near, far = found
    edges = m.edges_usd
    assert near["low_usd"] == pytest.approx(edges[base - 20 - m.first_bin])
    assert near["high_usd"] == pytest.approx(edges[base - 17 - m.first_bin])
    centre = math.exp((base - 19 + 0.5) * STEP)  # equal masses: the middle bin's centre
    assert near["center_usd"] == pytest.approx(centre)
    assert near["distance_pct"] == pytest.approx((centre / m.spot_usd - 1) * 100)
    assert far["distance_pct"] < near["distance_pct"] < 0
    assert {c["side"] for c in found} == {"long"}
    assert find_clusters(m, side="long", top_n=1) == found[:1]


def test_empty_side_has_no_clusters_and_bad_arguments_are_named():
    m = _map({SPOT_BIN - 5: 1.0}, {}, SPOT_BIN)
    assert find_clusters(m, side="short") == []
    with pytest.raises(ConfigError, match="side must be"):
        find_clusters(m, side="up")
    with pytest.raises(ConfigError, match="top_n"):
        find_clusters(m, side="long", top_n=0)


def test_mass_near_spot_hand_computed():
    # spot at the centre of SPOT_BIN; +-2% is about +-19.8 bins of 10 bps
    m = _map(
        {SPOT_BIN - 5: 3.0, SPOT_BIN - 40: 100.0}, {SPOT_BIN + 3: 7.0, SPOT_BIN + 19: 1.0}, SPOT_BIN
    )
    above, below = mass_near_spot(m, band_pct=2.0)
    assert (above, below) == pytest.approx((8.0, 3.0))
    above5, below5 = mass_near_spot(m, band_pct=5.0)
    assert (above5, below5) == pytest.approx((8.0, 103.0))


def test_hourly_vol_hand_computed():
    ts = pd.date_range(AT, periods=6, freq="1h")
    close = np.array([100.0, 101.0, 100.0, 101.0, 100.0, 101.0])
    bars = pd.DataFrame(
        {"available_at": ts, "high": close, "low": close, "close": close, "volume_base": 1.0}
    )
    inputs = build_inputs(bars, None)
    r = math.log(1.01)
    assert hourly_vol(inputs, ts[-1]) == pytest.approx(r)


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory) -> Store:
    return Store(make_dataset(tmp_path_factory.mktemp("liq") / "data", seed=3, hours=24 * 20))


def test_features_have_every_name_and_a_reason_for_each_none(synthetic_store):
    view = synthetic_store.at(pd.Timestamp("2024-01-15T00:00Z"))
    features, missing, clusters = liqmap_features(view, "BTC", horizon_hours=24)
    assert set(features) == set(FEATURE_NAMES)
    assert {k for k, v in features.items() if v is None} == set(missing)
    assert clusters, "a 14-day synthetic history has clusters"
    keys = {"side", "center_usd", "low_usd", "high_usd", "mass_usd", "distance_pct"}
    assert all(set(c) == keys for c in clusters)
    for c in clusters:
        assert c["low_usd"] <= c["center_usd"] <= c["high_usd"]
    spot_sign = {"long": -1, "short": 1}
    for side in ("long", "short"):
        value = features[f"liq_{side}_nearest_dist_pct"]
        if value is not None:
            assert np.sign(value) == spot_sign[side]
            vol = features[f"liq_{side}_nearest_dist_vol"]
            assert vol is not None and np.sign(vol) == spot_sign[side]


def test_features_without_data_are_missing_with_reasons(synthetic_store):
    view = synthetic_store.at(pd.Timestamp("2020-01-01T00:00Z"))
    features, missing, clusters = liqmap_features(view, "BTC")
    assert clusters == []
    assert all(v is None for v in features.values())
    assert set(missing) == set(FEATURE_NAMES)
    assert missing["liq_long_mass_usd"].startswith("price: no rows for BTC known at t")


@pytest.mark.parametrize("cut", ["2024-01-12T05:00Z", "2024-01-16T00:00Z"])
def test_truncation_features_and_clusters(synthetic_store, tmp_path, cut):
    t = pd.Timestamp(cut)
    root = tmp_path / "cut"
    shutil.copytree(synthetic_store.root, root)
    for table in ("candles", "open_interest"):
        frame = pd.read_parquet(root / f"{table}.parquet")
        frame[frame["available_at"] <= t].to_parquet(root / f"{table}.parquet", index=False)
    for at in (t, t - pd.Timedelta(hours=5)):
        full = liqmap_features(synthetic_store.at(at), "BTC")
        part = liqmap_features(Store(root).at(at), "BTC")
        assert full == part


def test_catalogued_features_match_liqmap_features(synthetic_store):
    specs = {s.name: s for s in feature_specs() if s.name in FEATURE_NAMES}
    assert set(specs) == set(FEATURE_NAMES)
    assert [s.name for s in MAP_FEATURES] == list(FEATURE_NAMES)
    view = synthetic_store.at(pd.Timestamp("2024-01-15T00:00Z"))
    ctx = context_for(view, "BTC", inputs=[*MAP_INPUTS, *SHARE_INPUTS])
    expected, _, _ = liqmap_features(view, "BTC")
    for name in FEATURE_NAMES:
        got = specs[name].builder(ctx).values[0]
        want = expected[name]
        assert (np.isnan(got) and want is None) or got == want, name


def test_features_at_reports_the_clusters_of_the_distance_features(synthetic_store):
    at = pd.Timestamp("2024-01-15T00:00Z")
    snap = features_at(synthetic_store, "BTC", at)
    features, _, clusters = liqmap_features(synthetic_store.at(at), "BTC")
    assert snap.clusters == clusters
    assert {n: snap.features[n] for n in FEATURE_NAMES} == features
    for side in ("long", "short"):
        mine = [c for c in snap.clusters if c["side"] == side]
        assert mine, f"no {side} cluster"
        nearest = min(mine, key=lambda c: abs(c["distance_pct"]))
        assert snap.features[f"liq_{side}_nearest_dist_pct"] == nearest["distance_pct"]
        largest = max(mine, key=lambda c: c["mass_usd"])
        assert snap.features[f"liq_{side}_largest_mass_usd"] == largest["mass_usd"]


def test_features_at_without_a_map_has_no_clusters(synthetic_store):
    snap = features_at(synthetic_store, "BTC", pd.Timestamp("2020-01-01T00:00Z"))
    assert snap.clusters == []


def test_long_share_is_the_dominance_series_known_from_the_oi_bar_close(synthetic_store):
    view = synthetic_store.at(pd.Timestamp("2024-01-15T00:00Z"))
    known = long_share_known_at(view, "BTC")
    raw = long_share_series(view, "BTC")
    assert (known.index == raw.index + pd.Timedelta("1h")).all()
    np.testing.assert_array_equal(known.to_numpy(), raw.to_numpy())
    assert known.std() > 0
    default = liqmap_features(view, "BTC")
    assert liqmap_features(view, "BTC", long_share=known) == default
    flat = liqmap_features(view, "BTC", long_share=0.5)
    assert flat[0]["liq_long_mass_usd"] != default[0]["liq_long_mass_usd"]


@pytest.fixture(scope="module")
def two_venue_store(tmp_path_factory) -> Store:
    """Bitget bars all along; Binance USD-M (preferred, quoting twice the price so that its maps
    are recognisable) only from day 10 on."""
    root = make_dataset(tmp_path_factory.mktemp("venues") / "data", seed=5, hours=24 * 16)
    candles = pd.read_parquet(root / "candles.parquet")
    bitget = candles.assign(venue="bitget-usdtm")
    usdm = candles[candles["ts"] >= pd.Timestamp("2024-01-11T00:00Z")].copy()
    for col in ("open", "high", "low", "close"):
        usdm[col] *= 2.0
    pd.concat([bitget, usdm], ignore_index=True).to_parquet(root / "candles.parquet", index=False)
    return Store(root)


def test_price_venue_is_chosen_at_each_decision_time(two_venue_store, tmp_path):
    before, after = pd.Timestamp("2024-01-10T12:00Z"), pd.Timestamp("2024-01-14T00:00Z")
    full = compute_feature_frame(two_venue_store, "BTC", [before, after])
    assert full.sources["price.venue"].tolist() == ["bitget-usdtm", "binance-usdm"]
    spot_before = two_venue_store.as_of(
        "candles", before, venue="bitget-usdtm", asset="BTC", interval="1h"
    )["close"].iloc[-1]
    f_before, _, c_before = liqmap_features(two_venue_store.at(before), "BTC")
    f_after, _, c_after = liqmap_features(two_venue_store.at(after), "BTC")
    assert all(0.7 * spot_before < c["center_usd"] < 1.3 * spot_before for c in c_before)
    assert all(c["center_usd"] > 1.4 * spot_before for c in c_after)
    assert full.frame["liq_long_mass_usd"].tolist() == [
        f_before["liq_long_mass_usd"],
        f_after["liq_long_mass_usd"],
    ]
    # the same row from a dataset that ends at `before` (Binance USD-M absent altogether)
    root = tmp_path / "cut"
    shutil.copytree(two_venue_store.root, root)
    for path in root.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "available_at" in frame.columns:
            frame[frame["available_at"] <= before].to_parquet(path, index=False)
    cut = compute_feature_frame(Store(root), "BTC", [before])
    for name in FEATURE_NAMES:
        assert cut.frame[name].iloc[0] == full.frame[name].iloc[0] or (
            np.isnan(cut.frame[name].iloc[0]) and np.isnan(full.frame[name].iloc[0])
        ), name
