"""Training sets: labels from the frame reader, and what walk-forward refits share."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.backtest.walk_forward import walk_forward_run
from levercast.experiments.labels.outcomes import label_contracts
from levercast.experiments.learning import fitting
from levercast.experiments.learning.fitting import fit_default
from levercast.experiments.learning.training_set import (
    KeyedInputs,
    TrainingPool,
    assemble_training_set,
    features_for,
    label_grid,
    leverage_inputs,
)
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.liqmap.contract_maps import SnapshotMaps
from levercast.models.learned.contract_grid import contract_grid, to_contracts
from levercast.models.learned.design import BASE_FEATURES, decision_times
from levercast.models.learned.leverage import SCALAR_INPUTS
from levercast.models.learned.splits import walk_forward_splits
from levercast.models.pricing.market_state import market_inputs
from tests.conftest import make_dataset, small_training_config

START = pd.Timestamp("2024-01-01T00:00Z")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("ts") / "data", hours=24 * 50))


def test_label_grid_gives_what_label_contracts_gives(store):
    times = pd.date_range(START + pd.Timedelta(days=8), periods=60, freq="17h")
    grid = contract_grid(market_inputs(store, "BTC", times), horizons_hours=(1.0, 4.0, 24.0, 720.0))
    got = label_grid(store, grid)
    outcomes = label_contracts(store, to_contracts(grid))
    y = np.array([np.nan if o.value is None else o.value for o in outcomes])
    resolved = pd.to_datetime([o.resolved_at for o in outcomes], utc=True)
    assert np.isnan(y).any() and np.isfinite(y).any()  # the 720 h windows run past the data
    np.testing.assert_array_equal(got["y"].to_numpy(), y)
    assert pd.DatetimeIndex(got["resolved_at"]).equals(pd.DatetimeIndex(resolved))
    assert got.index.equals(grid.index)


SMALL = small_training_config(
    history_days=20.0,
    n_estimators=20,
    max_rows=3_000,  # below the rows of a cut: the seeded subsample is taken too
)
CUTS = [START + pd.Timedelta(days=d) for d in (24, 30, 36)]


def _same_set(a, b):
    assert (a.features, a.leverage, a.excluded, a.n_unlabelled) == (
        b.features,
        b.leverage,
        b.excluded,
        b.n_unlabelled,
    )
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    pd.testing.assert_frame_equal(a.X, b.X, check_exact=True)


@pytest.mark.parametrize("config", [SMALL, SMALL.vol_only()], ids=["leverage", "vol-only"])
def test_a_pool_of_several_cuts_gives_each_cut_its_own_training_set(store, config):
    pool = TrainingPool.build(store, assets=("BTC",), cuts=CUTS, config=SMALL)
    assert len(pool.times) > len(decision_times(CUTS[-1], every_hours=12.0, history_days=20.0))
    for cut in CUTS:
        assert pool.covers(cut, config)
        alone = assemble_training_set(store, assets=("BTC",), cut=cut, config=config, seed=3)
        _same_set(pool.training_set(cut, config=config, seed=3), alone)
        assert len(alone.frame) == SMALL.max_rows and alone.frame["t"].max() <= cut
    assert not pool.covers(CUTS[0] + pd.Timedelta(hours=1), config)
    with pytest.raises(ConfigError, match="cut must be one the pool was built for"):
        pool.training_set(CUTS[0] + pd.Timedelta(hours=1), config=config)


def test_keyed_inputs_taken_by_subset_equal_inputs_computed_for_the_subset(store):
    times = pd.date_range(START + pd.Timedelta(days=10), periods=40, freq="9h")
    keys = pd.DataFrame({"asset": "BTC", "t": times})
    keyed = KeyedInputs.compute(store, keys, [*BASE_FEATURES, *SCALAR_INPUTS], maps=True)
    subset = keys.iloc[[3, 3, 17, 5, 30]]  # repeated and unordered, as contract rows come
    features, maps = keyed.leverage_inputs(subset, ["rvol_24h"])
    expected, expected_maps = leverage_inputs(store, subset, ["rvol_24h"])
    pd.testing.assert_frame_equal(features, expected, check_exact=True)
    pd.testing.assert_frame_equal(
        keyed.frame(subset, BASE_FEATURES), features_for(store, subset, BASE_FEATURES)
    )
    assert maps.has_map.any()
    for name in SnapshotMaps.__dataclass_fields__:
        got, want = getattr(maps, name), getattr(expected_maps, name)
        if isinstance(want, np.ndarray) and want.dtype.kind == "f":
            np.testing.assert_array_equal(got, want)
        elif isinstance(want, np.ndarray):
            assert got.tolist() == want.tolist(), name
        else:
            assert got == want, name
    outside = pd.DataFrame({"asset": ["BTC"], "t": [times[0] + pd.Timedelta(hours=1)]})
    with pytest.raises(ConfigError, match="keys must be among the precomputed"):
        keyed.frame(outside, BASE_FEATURES)


@pytest.mark.parametrize("engine", ["threads", "serial"])
def test_walk_forward_with_shared_work_predicts_as_fits_made_one_by_one(store, monkeypatch, engine):
    """Bit for bit, whether the segments run one after another or side by side on threads."""
    monkeypatch.setattr(fitting, "model_config", lambda name: SMALL)
    t = pd.date_range(CUTS[0] + pd.Timedelta(days=1), CUTS[-1] + pd.Timedelta(days=3), freq="7h")
    frame = contract_grid(market_inputs(store, "BTC", t), horizons_hours=(4.0, 24.0))
    frame["decision_time"] = frame["t"]
    first, every, purge = CUTS[0] + pd.Timedelta(days=1), pd.Timedelta(days=6), SMALL.purge
    got = walk_forward_run(
        store,
        frame,
        wanted=["default"],
        assets=("BTC",),
        first=first.to_pydatetime(),
        every=every.to_pytimedelta(),
        purge=purge.to_pytimedelta(),
        seed=0,
        engine=engine,
    ).probs["default"]
    splits = walk_forward_splits(frame["decision_time"], origin=first, every=every, purge=purge)
    assert len(splits) >= 3
    expected = np.full(len(frame), np.nan)
    for split in splits:
        fit = fit_default(
            store,
            assets=("BTC",),
            cut=split.cut,
            config=SMALL,
            logistic=False,
            liquidations=False,
        )
        rows = frame.iloc[split.rows]
        pred = fit.predict(rows, *leverage_inputs(store, rows[["asset", "t"]], fit.features))
        expected[split.rows] = np.where(pred["in_domain"], pred["prob_default"], np.nan)
    assert np.isfinite(got).any()
    np.testing.assert_array_equal(got, expected)


def test_kept_refits_predict_as_fresh_ones_and_are_not_fitted_again(store, monkeypatch, tmp_path):
    """``walk_forward_run(cached=True)``: the first run keeps each refit in the home, a second
    run fits nothing and gives the same probabilities bit for bit, a missing or corrupt file is
    refitted (and the pool built for that cut alone), and another seed is another fit."""
    from levercast.experiments.learning import fit_cache

    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(fitting, "model_config", lambda name: SMALL)
    t = pd.date_range(CUTS[0] + pd.Timedelta(days=1), CUTS[-1] + pd.Timedelta(days=3), freq="7h")
    frame = contract_grid(market_inputs(store, "BTC", t), horizons_hours=(4.0, 24.0))
    frame["decision_time"] = frame["t"]
    first = CUTS[0] + pd.Timedelta(days=1)

    reused: list[int] = []

    def run(*, cached: bool, seed: int = 0) -> np.ndarray:
        result = walk_forward_run(
            store,
            frame,
            wanted=["default"],
            assets=("BTC",),
            first=first.to_pydatetime(),
            every=pd.Timedelta(days=6).to_pytimedelta(),
            purge=SMALL.purge.to_pytimedelta(),
            seed=seed,
            engine="serial",
            cached=cached,
        )
        reused.append(result.reused)
        return result.probs["default"]

    fresh = run(cached=False)
    assert not list((tmp_path / "home").rglob("walkforward-*"))  # kept only when asked
    np.testing.assert_array_equal(run(cached=True), fresh)
    kept = sorted((tmp_path / "home" / "models").glob("walkforward-*.pkl"))
    assert len(kept) >= 3 and all(fit_cache.code_digest() in p.name for p in kept)

    real = fitting.fit_default
    fitted: list[pd.Timestamp] = []

    def counting(*args, **kwargs):
        fitted.append(kwargs["cut"])
        return real(*args, **kwargs)

    monkeypatch.setattr(fitting, "fit_default", counting)
    np.testing.assert_array_equal(run(cached=True), fresh)
    assert fitted == []  # every refit came from the home
    assert reused == [0, 0, len(kept)]  # and the result says so

    kept[0].unlink()
    kept[1].write_bytes(b"not a pickle")
    np.testing.assert_array_equal(run(cached=True), fresh)
    assert len(fitted) == 2  # the missing and the corrupt one, nothing else
    assert reused[-1] == len(kept) - 2
    assert fit_cache.load_walk_forward(kept[1]) is not None  # rewritten whole

    fitted.clear()
    other = run(cached=True, seed=1)
    assert len(fitted) == len(kept)  # the seed is part of the fit: none reused
    assert np.isfinite(other).any()
