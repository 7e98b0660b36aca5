"""Input effects of a learned answer (``models.learned.drivers``) on a small synthetic fit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.learning.fitting import fit_default
from levercast.experiments.learning.training_set import leverage_inputs
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.learned.design import CONTRACT_COLUMNS
from levercast.models.learned.drivers import input_effects, training_medians
from levercast.models.pricing.market_state import market_inputs
from tests.conftest import make_dataset, small_training_config

CONFIG = small_training_config(
    history_days=30.0,
    n_estimators=20,
    max_rows=20_000,
    use_leverage=True,
    leverage_families=None,
)
CUT = pd.Timestamp("2024-02-06T00:00Z")
T = CUT + pd.Timedelta(days=2)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("drivers") / "data", hours=24 * 50))


@pytest.fixture(scope="module")
def fitted(store):
    return fit_default(store, assets=("BTC",), cut=CUT, config=CONFIG, liquidations=False)


@pytest.fixture(scope="module")
def row(store, fitted):
    grid = contract_grid(market_inputs(store, "BTC", pd.DatetimeIndex([T])), horizons_hours=(4.0,))
    close = grid[(grid["kind"] == "close_above")].iloc[[1]].reset_index(drop=True)
    return close, *leverage_inputs(store, close[["asset", "t"]], fitted.features)


def test_training_medians_name_every_design_column(fitted):
    medians = training_medians(fitted)
    assert medians is not None
    assert list(medians) == [*CONTRACT_COLUMNS, *fitted.features, *fitted.leverage]
    assert training_medians(replace(fitted, logistic=None)) is None


def test_effects_are_sorted_and_measured_against_the_answer(fitted, row):
    rows, features, maps = row
    effects = input_effects(fitted, rows, features, maps)
    names = [e.name for e in effects]
    assert set(names) <= {*fitted.features, *fitted.leverage} and names
    sizes = [abs(e.effect) for e in effects]
    assert sizes == sorted(sizes, reverse=True)
    assert all(np.isfinite(e.effect) and -1 <= e.effect <= 1 for e in effects)
    assert {"name", "value", "effect"} <= set(effects[0].to_json_dict())


def test_an_input_at_its_own_value_has_no_effect(fitted, row):
    rows, features, maps = row
    own = features.set_index("ts").iloc[0]
    medians = {name: float(own[name]) for name in fitted.features}
    effects = input_effects(fitted, rows, features, maps, medians=medians)
    assert [e.name for e in effects if e.name in fitted.leverage] == []
    assert all(e.effect == pytest.approx(0.0, abs=1e-12) for e in effects)


def test_a_pinned_input_changes_the_answer_by_its_effect(fitted, row):
    rows, features, maps = row
    base = float(fitted.predict(rows, features, maps)["prob_default"].iloc[0])
    name = fitted.features[0]
    far = {name: float(features[name].iloc[0]) * 3.0}
    (effect,) = input_effects(fitted, rows, features, maps, medians=far)
    moved = features.assign(**{name: far[name]})  # a frame feature: pinning = changing the input
    again = float(fitted.predict(rows, moved, maps)["prob_default"].iloc[0])
    assert effect.effect == pytest.approx(base - again, abs=1e-12)


def test_a_fit_without_medians_has_no_drivers_and_rows_must_be_one(fitted, row):
    rows, features, maps = row
    assert input_effects(replace(fitted, logistic=None), rows, features, maps) == []
    with pytest.raises(ConfigError, match="exactly one contract row"):
        input_effects(fitted, pd.concat([rows, rows]), features, maps)
