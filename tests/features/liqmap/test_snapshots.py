"""Vectorised map features: the 1-D DBSCAN against scikit-learn, batch vs single snapshot (bit for
bit), agreement with ``map_snapshot`` + ``find_clusters`` + ``mass_near_spot``, and the volatility
against a loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import levercast.features.liqmap.snapshots as lf
from levercast.features.errors import ConfigError
from levercast.features.liqmap.clusters import find_clusters, mass_near_spot
from levercast.features.liqmap.map import LiqMapParams, build_inputs, map_snapshot
from levercast.features.liqmap.snapshots import (
    FEATURE_NAMES,
    MASS_BANDS_PCT,
    density_clusters,
    hourly_vols,
    map_features,
)
from tests.conftest import make_candles


def _dbscan_reference(mass, *, eps_bins, density_factor):
    """scikit-learn DBSCAN on the occupied bins, as (low, high, mass) per cluster, left to right."""
    from sklearn.cluster import DBSCAN

    nz = np.flatnonzero(mass > 0)
    if len(nz) == 0:
        return []
    w = mass[nz]
    threshold = density_factor * w.sum() * (2 * eps_bins + 1) / (nz[-1] - nz[0] + 1)
    labels = (
        DBSCAN(eps=eps_bins + 0.5, min_samples=1)
        .fit(nz.reshape(-1, 1).astype(float), sample_weight=w / threshold)
        .labels_
    )
    out = []
    for label in sorted(set(labels.tolist()) - {-1}):
        members = nz[labels == label]
        out.append((int(members.min()), int(members.max()), float(mass[members].sum())))
    return sorted(out)


def _random_maps(seed, rows=40, width=160):
    rng = np.random.default_rng(seed)
    mass = np.where(rng.random((rows, width)) < 0.3, rng.gamma(0.5, 1.0, (rows, width)), 0.0)
    for r in range(rows):  # a few dense bumps per row
        for centre in rng.integers(0, width, 3):
            lo, hi = max(centre - 3, 0), min(centre + 3, width)
            mass[r, lo:hi] += rng.gamma(3.0, 2.0, hi - lo)
    mass[0] = 0.0  # an empty row
    mass[1, :] = 0.0
    mass[1, 50] = 2.0  # a single occupied bin
    return mass


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("eps_bins", "density_factor"), [(1, 1.0), (3, 1.5), (2, 3.0)])
def test_density_clusters_equal_sklearn_dbscan(seed, eps_bins, density_factor):
    mass = _random_maps(seed)
    cl = density_clusters(mass, eps_bins=eps_bins, density_factor=density_factor)
    assert np.all(np.diff(cl.row) >= 0)
    for r in range(len(mass)):
        mine = sorted(
            (int(lo), int(hi), float(m))
            for lo, hi, m in zip(
                cl.low_col[cl.row == r], cl.high_col[cl.row == r], cl.mass_usd[cl.row == r],
                strict=True,
            )
        )  # fmt: skip
        ref = _dbscan_reference(mass[r], eps_bins=eps_bins, density_factor=density_factor)
        assert [c[:2] for c in mine] == [c[:2] for c in ref], f"row {r}"
        np.testing.assert_allclose([c[2] for c in mine], [c[2] for c in ref], rtol=1e-12)


def test_density_clusters_hand_computed_border_goes_left():
    # e = 2, f = 0.5: total 42.2 over the span 8..16 (9 bins), threshold 0.5 * 42.2 * 5 / 9 = 11.7.
    # Bins 8, 9, 10 and 14, 15, 16 have 21-21.1 within 2 bins: core. Bin 12 has 2.1: a border
    # point within 2 bins of core 10 (left cluster) and of core 14 (right cluster), 4 bins apart:
    # it joins the left one, as DBSCAN labels clusters left to right. Bin 25 is noise.
    mass = np.zeros((1, 30))
    mass[0, [8, 9, 15, 16]] = 10.0
    mass[0, [10, 14]] = 1.0
    mass[0, 12] = 0.1
    cl = density_clusters(mass, eps_bins=2, density_factor=0.5)
    assert cl.low_col.tolist() == [8, 14]
    assert cl.high_col.tolist() == [12, 16]
    assert cl.mass_usd.tolist() == pytest.approx([21.1, 21.0])
    assert cl.center_col[0] == pytest.approx((10 * 8.5 + 10 * 9.5 + 10.5 + 0.1 * 12.5) / 21.1)
    assert _dbscan_reference(mass[0], eps_bins=2, density_factor=0.5) == [
        (8, 12, pytest.approx(21.1)),
        (14, 16, pytest.approx(21.0)),
    ]


def test_density_clusters_validate_parameters():
    with pytest.raises(ConfigError, match="eps_bins must be >= 1"):
        density_clusters(np.zeros((1, 3)), eps_bins=0)


@pytest.fixture(scope="module")
def inputs():
    candles = make_candles(seed=7, hours=24 * 14, start="2026-01-01T00:00Z")
    rng = np.random.default_rng(7)
    oi = pd.DataFrame(
        {
            "available_at": candles["available_at"],
            "oi_usd": 5e8 * np.exp(np.cumsum(rng.normal(0, 0.01, len(candles)))),
        }
    ).drop(index=[30, 31, 200])
    share = pd.Series(
        rng.uniform(0.3, 0.7, len(candles)), index=pd.DatetimeIndex(candles["available_at"])
    )
    return build_inputs(candles, oi, long_share=share)


PARAMS = LiqMapParams.default(lookback_hours=72.0)
TIMES = pd.date_range("2026-01-01T02:00Z", "2026-01-14T23:30Z", freq="7h").append(
    pd.DatetimeIndex([pd.Timestamp("2025-12-01T00:00Z")])  # before any bar: unavailable
)


def test_batch_equals_single_snapshots_bit_for_bit(inputs, monkeypatch):
    t_ns = TIMES.as_unit("ns").asi8
    monkeypatch.setattr(lf, "_CHUNK", 7)  # several chunks, each with its own padding
    batch = map_features(inputs, PARAMS, t_ns[::-1])
    for i, t in enumerate(t_ns[::-1]):
        single = map_features(inputs, PARAMS, np.array([t]))
        for name in FEATURE_NAMES:
            np.testing.assert_array_equal(batch.values[name][i], single.values[name][0], name)
            assert batch.reasons[name][i] == single.reasons[name][0]
        assert batch.clusters.at(i) == single.clusters.at(0)
    last = batch.reasons["liq_long_mass_usd"][0]
    assert last.startswith("liquidation map unavailable: no bar closes within 72 h")


@pytest.mark.parametrize("hours", [30, 100, 200, 333])
def test_batch_agrees_with_map_snapshot_and_the_single_map_functions(inputs, hours):
    t = pd.Timestamp("2026-01-01T00:00Z") + pd.Timedelta(hours=hours)
    result = map_features(inputs, PARAMS, pd.DatetimeIndex([t]).as_unit("ns").asi8)
    m = map_snapshot(inputs, PARAMS, t)
    clusters = result.clusters.at(0)
    expected = find_clusters(m, side="long") + find_clusters(m, side="short")
    assert clusters == expected
    assert clusters, "a 72 h window has clusters"
    got = result.values
    assert got["liq_long_mass_usd"][0] == pytest.approx(m.long_mass_usd.sum(), rel=1e-12)
    assert got["liq_short_mass_usd"][0] == pytest.approx(m.short_mass_usd.sum(), rel=1e-12)
    for k in MASS_BANDS_PCT:
        above, below = mass_near_spot(m, band_pct=k)
        assert got[f"liq_mass_above_{k:g}pct_usd"][0] == pytest.approx(above, rel=1e-12)
        assert got[f"liq_mass_below_{k:g}pct_usd"][0] == pytest.approx(below, rel=1e-12)
    for side in ("long", "short"):
        mine = [c for c in clusters if c["side"] == side]
        nearest = min(mine, key=lambda c: abs(c["distance_pct"]))
        assert got[f"liq_{side}_nearest_dist_pct"][0] == nearest["distance_pct"]
        assert got[f"liq_{side}_largest_dist_pct"][0] == mine[0]["distance_pct"]
        assert got[f"liq_{side}_largest_mass_usd"][0] == mine[0]["mass_usd"]


def test_hourly_vols_match_a_loop(inputs):
    t_ns = TIMES.as_unit("ns").asi8
    got = hourly_vols(inputs, t_ns, window_hours=24.0)
    for t, value in zip(t_ns, got, strict=True):
        keep = (inputs.close_ns > t - 24 * 3_600_000_000_000) & (inputs.close_ns <= t)
        idx = np.flatnonzero(keep)
        if len(idx) == 0 or len(idx) + (idx[0] > 0) < 4:
            assert math.isnan(value)
            continue
        idx = np.r_[idx[0] - 1, idx] if idx[0] > 0 else idx
        r = np.diff(np.log(inputs.close[idx]))
        dt = np.diff(inputs.close_ns[idx]) / 3.6e12
        assert value == pytest.approx(math.sqrt(np.mean(r**2 / dt)), rel=1e-9)


def test_map_features_validate_arguments(inputs):
    with pytest.raises(ConfigError, match="horizon_hours must be > 0"):
        map_features(inputs, PARAMS, np.zeros(1, dtype=np.int64), horizon_hours=0)
