"""The reuse rule of cached fits, the per-question configuration and the on-demand pricer."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace

import pandas as pd
import pytest

import levercast.experiments.learning.fit_cache as fit_cache
import levercast.experiments.learning.fitting as fitting
from levercast.experiments.learning.fit_cache import (
    cache_path,
    load_walk_forward,
    prune_cache,
    save_fit,
    save_walk_forward,
    usable_fits,
    walk_forward_path,
)
from levercast.experiments.learning.fitting import find_or_fit, question_config
from levercast.experiments.learning.pricers import OnDemandPricer, pricer_for
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.models.contracts import Contract, Kind, Resolution
from levercast.models.pricing.price import price_contract
from tests.conftest import make_dataset, small_training_config

SMALL = small_training_config(
    history_days=30.0,
    n_estimators=10,
    max_rows=5_000,
    use_leverage=False,
    leverage_families=None,
)
START = pd.Timestamp("2024-01-01T00:00Z")
CUT = START + pd.Timedelta(days=36)
AT = CUT + SMALL.purge  # the first time the fit at CUT is usable


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("cache") / "data", hours=24 * 50)


@pytest.fixture(scope="module")
def fitted(data):
    return fitting.fit_default(
        Store(data), assets=("BTC",), cut=CUT, config=SMALL, logistic=False, liquidations=False
    )


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def no_fitting(monkeypatch):
    """Any attempt to fit fails the test: the answer must come from the cache."""

    def refuse(*args, **kwargs):
        raise AssertionError("fit_default was called")

    monkeypatch.setattr(fitting, "fit_default", refuse)


def _cache(store, fit, cut, config=SMALL):
    path = cache_path(store, ("BTC",), config, cut)
    save_fit(replace(fit, cut=cut), path)
    return path


@pytest.mark.parametrize(
    ("days_later", "reused"),
    [(0, True), (29, True), (31, False)],
    ids=["at-cut-plus-purge", "29-days-later", "31-days-later"],
)
def test_a_cached_fit_is_reused_for_30_days(data, fitted, home, days_later, reused):
    store = Store(data)
    _cache(store, fitted, CUT)
    at = AT + pd.Timedelta(days=days_later)
    found = usable_fits(store, assets=("BTC",), at=at, configs=[SMALL])
    assert bool(found) is reused
    assert usable_fits(store, assets=("BTC",), at=AT - pd.Timedelta(hours=1), configs=[SMALL]) == []


def test_the_newest_fit_of_the_same_data_wins_and_says_so(data, fitted, home, no_fitting):
    store = Store(data)
    _cache(store, fitted, CUT - pd.Timedelta(days=5))
    _cache(store, fitted, CUT)
    outcome = find_or_fit(store, assets=("BTC",), at=AT + pd.Timedelta(days=2), config=SMALL)
    assert outcome.fitted is not None and outcome.fitted.cut == CUT
    assert "reused the cached fit" in outcome.note and "2024-02-06T00:00:00Z" in outcome.note
    assert "earlier state" not in outcome.note


def test_a_fit_of_an_earlier_state_of_the_directory_is_reused_and_named(
    data, fitted, home, no_fitting
):
    store = Store(data)
    path = _cache(store, fitted, CUT)
    other = path.name.replace(store.fingerprint(), "0123456789abcdef")
    path.rename(path.parent / other)
    outcome = find_or_fit(store, assets=("BTC",), at=AT, config=SMALL)
    assert outcome.fitted is not None and "0123456789abcdef" in outcome.note


def test_a_fit_of_another_directory_is_never_used(data, fitted, home, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    _cache(Store(copy), fitted, CUT)  # same bytes, same fingerprint, another directory
    assert usable_fits(Store(data), assets=("BTC",), at=AT, configs=[SMALL]) == []


def test_an_accepted_alternative_configuration_is_reused(data, fitted, home, no_fitting):
    store = Store(data)
    _cache(store, fitted, CUT)
    narrow = replace(SMALL, kinds=("touch", "close_above", "close_below"))
    outcome = find_or_fit(store, assets=("BTC",), at=AT, config=narrow, alternatives=(SMALL,))
    assert outcome.fitted is not None and outcome.fitted.config == SMALL


@pytest.mark.parametrize(
    ("name", "kind", "kinds", "families"),
    [
        ("default", "touch", ("touch", "close_above", "close_below"), ("terminal_beyond",)),
        ("default", "close_above", ("close_above", "close_below"), None),
        ("default", "up_down", ("close_above", "close_below", "up_down"), None),
        ("default", "move", ("close_above", "close_below", "move"), ("terminal_beyond",)),
        ("default_vol", "touch", ("touch", "close_above", "close_below"), None),
        ("learned", "range", ("close_above", "close_below", "range"), ("terminal_beyond",)),
    ],
    ids=["touch", "close", "up_down", "move", "vol-touch", "learned-range"],
)
def test_a_question_fits_only_the_kinds_that_answer_it(name, kind, kinds, families):
    config = question_config(name, kind)
    assert config is not None and config.kinds == kinds
    assert config.leverage_families == families
    assert config.uses_companion is (families is not None and name != "default_vol")


@pytest.mark.parametrize("kind", ["range", "first_of"])
def test_default_answers_ranges_and_races_without_a_fit(kind):
    assert question_config("default", kind) is None
    assert question_config("default_vol", kind) is None


def test_a_settled_contract_is_answered_without_building_the_fit(data, home):
    store = Store(data)
    at = pd.Timestamp("2024-01-20T00:00Z")
    low = float(store.as_of("candles", at, asset="BTC")["low"].min())
    res = Resolution(source="binance-usdm", price="low", symbol="BTCUSDT", interval="1h")
    contract = Contract(
        Kind.TOUCH,
        "BTC",
        START,
        at + pd.Timedelta(days=3),
        res,
        direction="down",
        strike_usd=low * 1.001,
    )
    pricer = pricer_for("default", store, asset="BTC", at=at, kind=contract.kind)
    assert isinstance(pricer, OnDemandPricer)
    forecast = price_contract(contract, store.at(at), pricer=pricer)
    assert forecast.prob == 1.0 and "path_to_date" in forecast.components
    assert pricer.fitted is None and not list(home.glob("models/*.pkl"))


def test_the_answer_names_the_fit_that_answered(data, fitted, home, no_fitting, monkeypatch):
    store = Store(data)
    monkeypatch.setattr(fitting, "model_config", lambda name: SMALL)
    monkeypatch.setattr(fitting, "question_config", lambda name, kind: SMALL)
    _cache(store, fitted, CUT)
    spot = float(store.as_of("candles", AT, asset="BTC")["close"].iloc[-1])
    res = Resolution(source="binance-usdm", price="close", symbol="BTCUSDT", interval="1h")
    contract = Contract(
        Kind.CLOSE_ABOVE, "BTC", AT, AT + pd.Timedelta(hours=20), res, strike_usd=spot * 1.01
    )
    pricer = pricer_for("default", store, asset="BTC", at=AT, kind=contract.kind)
    forecast = price_contract(contract, store.at(AT), pricer=pricer)
    assert forecast.model == "default"
    assert forecast.warnings[-1].startswith("default: reused the cached fit of BTC")


def test_a_close_question_reuses_a_touch_question_fit(data, fitted, home, no_fitting, monkeypatch):
    store = Store(data)
    monkeypatch.setattr(fitting, "model_config", lambda name: SMALL)
    touch = question_config("default", "touch")
    assert touch is not None and touch in fitting.covering_configs("default", "close_above")
    assert fitting.covering_configs("default", "touch") == (SMALL,)
    _cache(store, fitted, CUT, config=touch)
    spot = float(store.as_of("candles", AT, asset="BTC")["close"].iloc[-1])
    res = Resolution(source="binance-usdm", price="close", symbol="BTCUSDT", interval="1h")
    contract = Contract(
        Kind.CLOSE_ABOVE, "BTC", AT, AT + pd.Timedelta(hours=20), res, strike_usd=spot * 1.01
    )
    pricer = pricer_for("default", store, asset="BTC", at=AT, kind=contract.kind)
    forecast = price_contract(contract, store.at(AT), pricer=pricer)
    assert forecast.model == "default" and "reused the cached fit" in forecast.warnings[-1]


def test_a_cached_fit_loads_and_predicts_without_scikit_learn_or_lightgbm(data, tmp_path):
    """Fits are stored lean: a price from the cache imports neither library, and answers as
    the fit made in the process does."""
    import subprocess
    import sys

    import numpy as np

    from levercast.experiments.learning.training_set import leverage_inputs
    from levercast.models.learned.contract_grid import contract_grid
    from levercast.models.pricing.market_state import market_inputs

    store = Store(data)
    config = replace(SMALL, use_leverage=True, leverage_families=("terminal_beyond",))
    fit = fitting.fit_default(store, assets=("BTC",), cut=CUT, config=config, liquidations=False)
    path = tmp_path / "fit.pkl"
    save_fit(fit, path)
    times = pd.date_range(AT, periods=3, freq="7h")
    grid = contract_grid(market_inputs(store, "BTC", times), horizons_hours=(4.0, 24.0))
    grid.to_pickle(tmp_path / "grid.pkl")
    features, maps = leverage_inputs(store, grid[["asset", "t"]], fit.features)
    expected = fit.predict(grid, features, maps)
    pd.to_pickle((features, maps), tmp_path / "inputs.pkl")
    code = f"""
import pickle, sys, pandas as pd
with open({str(path)!r}, "rb") as f:
    fit = pickle.load(f)
grid = pd.read_pickle({str(tmp_path / "grid.pkl")!r})
features, maps = pd.read_pickle({str(tmp_path / "inputs.pkl")!r})
fit.predict(grid, features, maps).to_pickle({str(tmp_path / "got.pkl")!r})
loaded = [m for m in sys.modules if m.split(".")[0] in ("sklearn", "lightgbm", "joblib")]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    got = pd.read_pickle(tmp_path / "got.pkl")
    assert fit.companion is not None and fit.logistic is not None
    columns = ["prob_gbm", "prob_learned", "prob_default"]
    pd.testing.assert_frame_equal(got[columns], expected[columns], check_exact=True)
    np.testing.assert_allclose(
        got["prob_learned_logistic"], expected["prob_learned_logistic"], rtol=0, atol=1e-15
    )


def test_kept_refits_idle_for_30_days_are_pruned_and_a_read_keeps_one(data, fitted, home):
    """Refits of older code never match again: the ones neither written nor read for 30 days
    go; loading a refit refreshes its time; a pricing fit of the current code stays."""
    store = Store(data)
    cuts = [CUT - pd.Timedelta(days=d) for d in (0, 1, 2)]
    paths = [walk_forward_path(store, ("BTC",), SMALL, c, 0) for c in cuts]
    for path in paths:
        save_walk_forward(fitted, path)
    priced = _cache(store, fitted, CUT)
    stale = paths[1].with_name(paths[1].name.replace("walkforward-", "walkforward-old"))
    paths[1].rename(stale)
    month_ago = time.time() - 31 * 86400
    for path in (stale, paths[2], priced):
        os.utime(path, (month_ago, month_ago))
    assert load_walk_forward(paths[2]) is not None  # read now: kept
    assert prune_cache() == 1
    assert not stale.exists()
    assert paths[0].exists() and paths[2].exists() and priced.exists()
    assert prune_cache(0.0, now=time.time() + 1) == 2
    assert priced.exists()
    with pytest.raises(ConfigError, match="max_idle_days must be >= 0; found -1"):
        prune_cache(-1)


def test_a_pricing_fit_of_other_code_is_refitted_and_later_pruned(data, fitted, home, monkeypatch):
    """The code digest is in the name: a fit made by other code (its features or labels may
    be computed differently) is never used, and goes once idle for 30 days."""
    store = Store(data)
    ours = _cache(store, fitted, CUT)
    theirs = ours.with_name(ours.name.replace(f"-{fit_cache.code_digest()}-", "-0123456789-"))
    ours.rename(theirs)
    assert usable_fits(store, assets=("BTC",), at=AT, configs=[SMALL]) == []
    calls = []
    real = fitting.fit_default

    def counting(*args, **kwargs):
        calls.append(kwargs["cut"])
        return real(*args, **{**kwargs, "liquidations": False, "logistic": False})

    monkeypatch.setattr(fitting, "fit_default", counting)
    month_ago = time.time() - 31 * 86400
    os.utime(theirs, (month_ago, month_ago))
    got = find_or_fit(store, assets=("BTC",), at=AT, config=SMALL)
    assert calls == [CUT] and got.fitted.cut == CUT and "fitted now" in got.note
    assert ours.exists() and not theirs.exists()  # the new fit pruned the other code's
    assert [f.path for f in usable_fits(store, assets=("BTC",), at=AT, configs=[SMALL])] == [ours]
