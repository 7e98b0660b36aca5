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


class _PinnedClassifier:
    """Reference pinning, one fit per input: the design column ``index`` replaced before the
    classifier predicts (what ``predict``'s ``pins`` must reproduce in one call)."""

    def __init__(self, inner, index, value):
        self.inner, self.index, self.value = inner, index, value

    def predict_proba(self, X):
        pinned = np.array(X, dtype=np.float64, copy=True)
        pinned[:, self.index] = self.value
        return self.inner.predict_proba(pinned)


def _pinned_fit(fitted, name, value):
    names = [*CONTRACT_COLUMNS, *fitted.features, *fitted.leverage]
    if name not in names:
        return fitted
    index = names.index(name)
    changes = {"lightgbm": _PinnedClassifier(fitted.lightgbm, index, value)}
    if fitted.logistic is not None:
        changes["logistic"] = _PinnedClassifier(fitted.logistic, index, value)
    if fitted.companion is not None:
        changes["companion"] = _pinned_fit(fitted.companion, name, value)
    return replace(fitted, **changes)


def test_effects_in_one_call_equal_one_pinned_fit_per_input(fitted, row):
    rows, features, maps = row
    medians = training_medians(fitted)
    assert fitted.leverage  # leverage inputs too: they differ between the row and its z-nodes
    effects = {e.name: e.effect for e in input_effects(fitted, rows, features, maps)}
    base = float(fitted.predict(rows, features, maps)["prob_default"].iloc[0])
    assert len(effects) == len([*fitted.features, *fitted.leverage])
    for name, effect in effects.items():
        pinned = _pinned_fit(fitted, name, medians[name])
        again = float(pinned.predict(rows, features, maps)["prob_default"].iloc[0])
        assert effect == pytest.approx(base - again, abs=1e-12), name


def test_pins_must_be_one_per_row(fitted, row):
    rows, features, maps = row
    with pytest.raises(ConfigError, match="pins must hold one entry per contract row"):
        fitted.predict(rows, features, maps, pins=[None, None])
