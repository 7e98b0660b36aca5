from __future__ import annotations

import json
import pickle
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import levercast.experiments.learning.fit_cache as fit_cache
import levercast.experiments.learning.fitting as forecaster
from levercast.experiments.cli.main import main
from levercast.experiments.labels.liquidations import liquidation_sums
from levercast.experiments.labels.outcomes import label_contracts
from levercast.experiments.learning.fit_cache import cache_path
from levercast.experiments.learning.fitting import fit_default, fit_with_budget, load_or_fit
from levercast.experiments.learning.training_set import leverage_inputs
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.liqmap.contract_maps import SnapshotMaps
from levercast.models.consistency import consistency_violations
from levercast.models.contracts import Contract, Kind, Resolution
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.learned.forecaster import FittedForecaster
from levercast.models.pricing.market_state import market_inputs
from levercast.models.pricing.price import price_contract
from tests.conftest import make_candles, make_dataset, small_training_config

SMALL = small_training_config(
    history_days=30.0,
    n_estimators=20,
    max_rows=20_000,
    use_leverage=True,
)
START = pd.Timestamp("2024-01-01T00:00Z")
CUT = START + pd.Timedelta(days=36)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("fc") / "data", hours=24 * 50))


@pytest.fixture(scope="module")
def fitted(store):
    return fit_default(store, assets=("BTC",), cut=CUT, config=SMALL, liquidations=False)


def _grid(store, times, hours=(1.0, 4.0, 24.0)):
    return contract_grid(market_inputs(store, "BTC", times), horizons_hours=hours)


def test_fit_records_its_cut_purge_and_data(fitted, store):
    assert fitted.cut == CUT and fitted.purge == pd.Timedelta(hours=24)
    assert fitted.fingerprint == store.fingerprint()
    assert fitted.assets == ("BTC",) and fitted.n_rows > 1000
    assert "price_usd" in fitted.excluded and "price_usd" not in fitted.features
    assert fitted.usable_at(CUT + pd.Timedelta(hours=24))
    assert not fitted.usable_at(CUT + pd.Timedelta(hours=23))


def test_predict_frame_is_coherent_and_in_range(fitted, store):
    grid = _grid(store, pd.date_range(CUT + pd.Timedelta(days=1), periods=3, freq="12h"))
    pred = fitted.predict(grid, *leverage_inputs(store, grid[["asset", "t"]], fitted.features))
    assert list(pred.columns) == [
        "prob_gbm",
        "prob_learned",
        "prob_learned_logistic",
        "prob_default",
        "in_domain",
    ]
    assert (pred.index == grid.index).all() and pred["in_domain"].all()
    probs = pred.drop(columns="in_domain").to_numpy(float)
    assert np.isfinite(probs).all() and (probs >= 0).all() and (probs <= 1).all()
    assert consistency_violations(grid.assign(prob=pred["prob_default"])) == []
    below = grid["kind"] == "close_below"
    above = grid["kind"] == "close_above"
    np.testing.assert_allclose(
        pred.loc[below, "prob_default"].to_numpy(), 1 - pred.loc[above, "prob_default"].to_numpy()
    )


def test_refit_rule_refuses_look_ahead(fitted, store):
    early = _grid(store, pd.DatetimeIndex([CUT + pd.Timedelta(hours=12)]))
    with pytest.raises(ConfigError, match=r"t must be at or after cut \+ purge"):
        fitted.predict(early, *leverage_inputs(store, early[["asset", "t"]], fitted.features))


def test_load_or_fit_caches_and_refits_before_an_earlier_time(store, tmp_path, monkeypatch):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    calls = []
    real = forecaster.fit_default

    def counting(*args, **kwargs):
        calls.append(kwargs["cut"])
        return real(*args, **{**kwargs, "liquidations": False, "logistic": False})

    monkeypatch.setattr(forecaster, "fit_default", counting)
    at = CUT + pd.Timedelta(days=3, hours=5)
    first = load_or_fit(store, assets=("BTC",), at=at, config=SMALL)
    assert first.cut == (at - SMALL.purge).floor("D") and first.usable_at(at)
    again = load_or_fit(store, assets=("BTC",), at=at + pd.Timedelta(hours=2), config=SMALL)
    assert len(calls) == 1 and again.cut == first.cut
    assert len(list((tmp_path / "home" / "models").glob("*.pkl"))) == 1
    earlier = at - pd.Timedelta(days=2)  # before the cached cut + purge: refit on data before it
    refit = load_or_fit(store, assets=("BTC",), at=earlier, config=SMALL)
    assert len(calls) == 2 and refit.usable_at(earlier) and refit.cut < first.cut


def test_caches_of_another_layout_are_refitted_never_trusted(store, tmp_path, monkeypatch):
    import pickle

    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    calls = []
    real = forecaster.fit_default

    def counting(*args, **kwargs):
        calls.append(kwargs["cut"])
        return real(*args, **{**kwargs, "liquidations": False, "logistic": False})

    monkeypatch.setattr(forecaster, "fit_default", counting)
    at = CUT + pd.Timedelta(days=3, hours=5)
    cut = (at - SMALL.purge).floor("D")
    path = cache_path(store, ("BTC",), SMALL, cut)
    # an old-layout file name and a current-layout name holding something else
    old = path.name.replace(f"-{fit_cache.CACHE_VERSION}-", "-v3-")
    (path.parent / old).write_bytes(pickle.dumps({"not": "a fit"}))
    path.write_bytes(pickle.dumps({"not": "a fit"}))
    fitted = load_or_fit(store, assets=("BTC",), at=at, config=SMALL)
    assert len(calls) == 1 and isinstance(fitted, FittedForecaster) and fitted.usable_at(at)
    assert isinstance(pickle.loads(path.read_bytes()), FittedForecaster)


def test_nan_features_and_out_of_domain_rows(fitted, store):
    times = pd.DatetimeIndex([CUT + pd.Timedelta(days=2)])
    grid = _grid(store, times, hours=(4.0, 48.0))
    features = pd.DataFrame({"asset": ["BTC"], "ts": times})
    for name in fitted.frame_features:
        features[name] = np.nan
    pred = fitted.predict(grid, features, SnapshotMaps.empty())  # no map at t either
    assert np.isfinite(pred["prob_default"]).all()
    outside = grid["horizon_hours"] == 48.0
    assert not pred.loc[outside, "in_domain"].any() and pred.loc[~outside, "in_domain"].all()
    np.testing.assert_allclose(pred.loc[outside, "prob_default"], pred.loc[outside, "prob_gbm"])


def test_a_wider_domain_answers_longer_windows_and_leaves_the_others(fitted, store):
    times = pd.DatetimeIndex([CUT + pd.Timedelta(days=2), CUT + pd.Timedelta(days=3)])
    grid = _grid(store, times, hours=(4.0, 24.0, 30.0, 48.0))
    inputs = leverage_inputs(store, grid[["asset", "t"]], fitted.features)
    assert fitted.config.domain_hours == max(fitted.config.horizons_hours) == 24.0
    wide = replace(fitted, config=replace(fitted.config, max_domain_hours=30.0))
    before, after = fitted.predict(grid, *inputs), wide.predict(grid, *inputs)
    hours = grid["horizon_hours"]
    assert after["in_domain"].to_numpy().tolist() == (hours <= 30.0).tolist()
    assert not before.loc[hours > 24.0, "in_domain"].any()
    inside = (hours <= 24.0).to_numpy()
    pd.testing.assert_frame_equal(before[inside], after[inside], check_exact=True)
    month = (hours == 30.0).to_numpy()  # now the learned answer, not gbm's
    assert np.isfinite(after.loc[month, "prob_default"]).all()
    assert (after.loc[month, "prob_default"] != after.loc[month, "prob_gbm"]).any()
    beyond = (hours == 48.0).to_numpy()
    pd.testing.assert_frame_equal(before[beyond], after[beyond], check_exact=True)


def test_the_domain_setting_is_checked_and_keys_only_when_set():
    base = small_training_config()
    assert replace(base, max_domain_hours=None).key() == base.key()
    assert replace(base, max_domain_hours=750.0).key() != base.key()
    assert replace(base, max_domain_hours=750.0).domain_hours == 750.0
    for bad in (1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="max_domain_hours must be finite and at least"):
            replace(base, max_domain_hours=bad)


def test_run_where_funding_dvol_and_one_venue_stop_partway(tmp_path):
    root = make_dataset(tmp_path / "data", hours=24 * 50)
    stop = START + pd.Timedelta(days=30)
    candles = pd.read_parquet(root / "candles.parquet")
    proxy = make_candles(seed=1, venue="bitget-usdtm", hours=24 * 50)
    pd.concat([candles[candles["ts"] < stop], proxy]).to_parquet(root / "candles.parquet")
    for table in ("funding", "implied_vol"):
        frame = pd.read_parquet(root / f"{table}.parquet")
        frame[frame["ts"] < stop - pd.Timedelta(days=5)].to_parquet(root / f"{table}.parquet")
    store = Store(root)
    fit = fit_default(store, assets=("BTC",), cut=CUT, config=SMALL, liquidations=False)
    assert "stale" in fit.excluded["lev_funding"] and fit.leverage
    assert "not a design column" in fit.excluded["funding_rate_8h"]
    times = pd.date_range(CUT + pd.Timedelta(days=1), periods=4, freq="12h")
    inputs = market_inputs(store, "BTC", times)
    assert (inputs["spot_venue"] == "bitget-usdtm").all()
    grid = contract_grid(inputs, horizons_hours=SMALL.horizons_hours)
    pred = fit.predict(grid, *leverage_inputs(store, grid[["asset", "t"]], fit.features))
    assert np.isfinite(pred.drop(columns="in_domain").to_numpy(float)).all()


def test_liquidation_sums_agree_with_the_outcome_reader(store):
    start = pd.date_range(START + pd.Timedelta(days=3), periods=6, freq="7h")
    hours = np.array([1, 4, 12, 24, 72, 5])
    end = start + pd.to_timedelta(hours, unit="h")
    sides = np.array(["long", "short", "total", "long", "short", "total"])
    sums = liquidation_sums(store, "BTC", start, end, sides)
    assert np.isfinite(sums).all() and (sums > 0).all()
    res = Resolution(source="coinglass", price="close", symbol="BTC", interval="1h")
    contracts = [
        Contract(Kind.LIQUIDATIONS_ABOVE, "BTC", s, e, res, threshold=x * f, side=side)
        for s, e, x, side in zip(start, end, sums, sides, strict=True)
        for f in (1 - 1e-9, 1 + 1e-9)
    ]
    values = [o.value for o in label_contracts(store, contracts)]
    assert values == [1.0, 0.0] * len(sums)
    outside = liquidation_sums(store, "BTC", start - pd.Timedelta(days=30), end, sides)
    assert np.isnan(outside).all()


def test_cold_fit_over_budget_falls_back(store, monkeypatch):
    def slow(*args, **kwargs):
        time.sleep(0.3)
        raise ConfigError("never used")

    monkeypatch.setattr(forecaster, "find_or_fit", slow)
    outcome = fit_with_budget(store, assets=("BTC",), at=CUT, budget_secs=0.01)
    assert outcome.fitted is None and outcome.reason.startswith("learned-model-timeout")
    time.sleep(0.4)
    outcome = fit_with_budget(store, assets=("BTC",), at=CUT, budget_secs=5)
    assert outcome.fitted is None and outcome.reason.startswith("learned-model-unavailable")


@pytest.mark.slow
def test_price_default_and_learned_on_synthetic_data(tmp_path, monkeypatch, capsys):
    data = make_dataset(tmp_path / "data", hours=24 * 60)
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEVERCAST_COLD_BUDGET_SECS", "300")
    at = "2024-02-25T00:00Z"
    specs = {
        "touch": '{"kind":"touch","asset":"BTC","strike_usd":52000,"end":"2024-02-27T00:00Z"}',
        "close": '{"kind":"close_above","asset":"BTC","strike_usd":52000,'
        '"end":"2024-02-27T00:00Z"}',
        "liq": '{"kind":"liquidations_above","asset":"BTC","threshold":30000000,"side":"total",'
        '"end":"2024-02-26T00:00Z"}',
    }
    specs["liq_all"] = specs["liq"].replace('"BTC"', '"ALL"')
    docs = {}
    for name, spec in specs.items():
        for model in ("default", "learned", "default_vol"):
            argv = ["price", spec, "--at", at, "--model", model, "--data", str(data), "--json"]
            assert main(argv) == 0
            docs[name, model] = json.loads(capsys.readouterr().out)
    for doc in docs.values():
        assert doc["model"] in ("default", "learned", "default_vol", "climatology")
        assert 0 <= doc["prob_lo"] <= doc["prob"] <= doc["prob_hi"] <= 1
    assert docs["touch", "default"]["prob"] >= docs["close", "default"]["prob"] - 1e-12
    assert set(docs["touch", "default"]["components"]) >= {"gbm", "learned", "default"}
    assert "liquidation_quantiles" in docs["liq", "default"]["components"]
    # 60 synthetic days are under the features' 365-day history rule: no leverage column here
    assert docs["close", "default"]["inputs"]["leverage"] == {}
    assert docs["close", "default_vol"]["inputs"]["leverage"] == {}
    # ALL sums every asset with liquidations (BTC only here): the same answer as BTC
    assert docs["liq_all", "default"]["contract"]["asset"] == "ALL"
    assert docs["liq_all", "default"]["prob"] == pytest.approx(docs["liq", "default"]["prob"])


def test_families_without_leverage_are_answered_by_the_volatility_companion(store):
    config = replace(SMALL, leverage_families=("terminal_beyond",))
    routed = fit_default(
        store, assets=("BTC",), cut=CUT, config=config, logistic=False, liquidations=False
    )
    vol = fit_default(
        store, assets=("BTC",), cut=CUT, config=SMALL.vol_only(), logistic=False, liquidations=False
    )
    every = replace(SMALL, leverage_families=None)
    lev = fit_default(
        store, assets=("BTC",), cut=CUT, config=every, logistic=False, liquidations=False
    )
    assert lev.companion is None
    assert routed.companion is not None and routed.companion.leverage == ()
    grid = _grid(store, pd.date_range(CUT + pd.Timedelta(days=1), periods=3, freq="12h"))
    inputs = leverage_inputs(store, grid[["asset", "t"]], routed.features)
    got = routed.predict(grid, *inputs)
    touch = (grid["kind"] == "touch").to_numpy()
    close = grid["kind"].isin(["close_above", "close_below"]).to_numpy()
    np.testing.assert_allclose(
        got.loc[touch, "prob_learned"], vol.predict(grid, *inputs).loc[touch, "prob_learned"]
    )
    np.testing.assert_allclose(
        got.loc[close, "prob_default"], lev.predict(grid, *inputs).loc[close, "prob_default"]
    )
    assert consistency_violations(grid.assign(prob=got["prob_default"])) == []


def test_liquidation_question_without_a_model_falls_back_to_climatology(tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "data", hours=24 * 20)
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    store = Store(data)
    at = pd.Timestamp("2024-01-05T00:00Z")  # 4 days of liquidations: too few windows to fit
    pricer = forecaster.liquidation_pricer("default", store, asset="ALL", at=at)
    assert pricer.liquidations is None
    res = Resolution(source="coinglass", price="close", symbol="ALL", interval="1h")
    contract = Contract(
        Kind.LIQUIDATIONS_ABOVE,
        "ALL",
        at,
        at + pd.Timedelta(hours=4),
        res,
        threshold=4e6,
        side="total",
    )
    forecast = price_contract(contract, store.at(at), pricer=pricer)
    assert forecast.model == "climatology" and 0 <= forecast.prob <= 1
    assert any("climatology" in w for w in forecast.warnings)


def test_price_reports_the_leverage_features_it_used(fitted, store):
    from levercast.models.learned.pricer import LearnedPricer

    at = CUT + pd.Timedelta(days=2)
    res = Resolution(source="binance-usdm", price="close", symbol="BTCUSDT", interval="1h")
    spot = float(market_inputs(store, "BTC", pd.DatetimeIndex([at]))["spot_usd"].iloc[0])
    close = Contract(
        Kind.CLOSE_ABOVE, "BTC", at, at + pd.Timedelta(hours=20), res, strike_usd=spot * 1.02
    )
    forecast = price_contract(close, store.at(at), pricer=LearnedPricer("default", fitted))
    used = forecast.inputs["leverage"]
    assert forecast.model == "default" and set(used) == set(fitted.leverage) and used
    assert json.loads(json.dumps(used)) == used
    ranged = Contract(
        Kind.RANGE,
        "BTC",
        at,
        at + pd.Timedelta(hours=20),
        res,
        lower_usd=spot * 0.98,
        upper_usd=spot * 1.02,
    )
    forecast = price_contract(ranged, store.at(at), pricer=LearnedPricer("default", fitted))
    assert forecast.inputs["leverage"] == {}  # default prices ranges with gbm


def test_side_by_side_fits_equal_the_fits_one_after_another(store):
    """``fit_default`` fits the companion, the logistic variant and the liquidation model on a
    second thread: each is the model fitted alone, value for value."""
    from levercast.experiments.learning.fitting import fit_liquidation_model
    from levercast.experiments.learning.training_set import assemble_training_set
    from levercast.models.learned.forecaster import fit_forecaster

    config = replace(SMALL, leverage_families=("terminal_beyond",))
    both = fit_default(store, assets=("BTC",), cut=CUT, config=config, liquidations=True)
    data = assemble_training_set(store, assets=("BTC",), cut=CUT, config=config, seed=0)
    common = {"cut": CUT, "fingerprint": store.fingerprint(), "assets": ("BTC",), "seed": 0}
    alone = fit_forecaster(data, config=config, **common)
    companion = fit_forecaster(
        data.without_leverage(), config=config.vol_only(), **common, logistic=False
    )
    liquidations = fit_liquidation_model(store, assets=("BTC",), cut=CUT, seed=0)
    assert both.companion is not None and both.logistic is not None
    assert both.liquidations is not None and liquidations is not None
    X = data.X.to_numpy(np.float64)
    X_vol = data.without_leverage().X.to_numpy(np.float64)
    for got, expected, rows in (
        (both.lightgbm, alone.lightgbm, X),
        (both.logistic, alone.logistic, X),
        (both.companion.lightgbm, companion.lightgbm, X_vol),
    ):
        np.testing.assert_array_equal(got.predict_proba(rows), expected.predict_proba(rows))
    assert pickle.dumps(both.liquidations) == pickle.dumps(liquidations)


def test_the_liquidation_model_cache_is_keyed_by_the_code(store, tmp_path, monkeypatch):
    """A liquidation model is reused by the same code only: a file of other code (its windows
    or features may differ) is refitted, never trusted."""
    import levercast.experiments.learning.liquidations as liquidations

    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    calls = []
    real = liquidations.fit_liquidation_model

    def counting(*args, **kwargs):
        calls.append(kwargs["cut"])
        return real(*args, **kwargs)

    monkeypatch.setattr(liquidations, "fit_liquidation_model", counting)
    at = CUT + pd.Timedelta(days=8)
    first = liquidations.load_or_fit_liquidations(store, asset="BTC", at=at)
    assert first is not None and len(calls) == 1
    (path,) = (tmp_path / "home" / "models").glob("liquidations-*")
    assert f"-{fit_cache.code_digest()}-" in path.name
    again = liquidations.load_or_fit_liquidations(store, asset="BTC", at=at)
    assert len(calls) == 1 and pickle.dumps(again) == pickle.dumps(first)
    path.rename(path.with_name(path.name.replace(fit_cache.code_digest(), "0123456789")))
    liquidations.load_or_fit_liquidations(store, asset="BTC", at=at)
    assert len(calls) == 2
