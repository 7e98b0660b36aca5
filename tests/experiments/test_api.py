"""The Python API (``levercast.experiments.api``, re-exported as ``import levercast as lc``)."""

from __future__ import annotations

import dataclasses
import json
import os
import runpy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import levercast as lc
from levercast.experiments.cli.main import main
from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError, UnsupportedContract
from levercast.markets.questions import Parsed, Unsupported
from tests.conftest import REPO, small_training_config

PRICE_KEYS = {"contract", "at", "prob", "prob_lo", "prob_hi", "model", "components", "inputs"}
PRICE_KEYS |= {"warnings"}
SPEC = {"kind": "close_above", "asset": "BTC", "strike_usd": 50000, "end": "2024-01-28T00:00Z"}
AT = "2024-01-25T00:00Z"


@pytest.fixture
def ds(synthetic_data):
    return lc.Dataset(synthetic_data)


def test_price_returns_a_typed_frozen_result(ds):
    result = lc.price(SPEC, at=AT, model="gbm", data=ds)
    assert isinstance(result, lc.PriceResult)
    assert result.band == (result.forecast.prob_lo, result.forecast.prob_hi)
    assert result.band[0] <= result.prob <= result.band[1] and result.model == "gbm"
    assert result.contract.kind.value == "close_above" and result.inputs["spot_usd"] > 0
    doc = result.to_dict()
    assert set(doc) == PRICE_KEYS and json.loads(json.dumps(doc)) == doc
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.yes_outcome = "No"  # type: ignore[misc]


def test_price_takes_a_question_a_json_text_or_a_contract(ds):
    words = lc.price("Will Bitcoin reach $60,000 in January?", at=AT, model="gbm", data=ds)
    assert words.contract.kind.value == "touch" and words.yes_outcome == "Yes"
    assert words.to_dict()["inputs"]["assumptions"]  # the parser's conventions travel along
    same = lc.price(words.contract, at=AT, model="gbm", data=ds)
    assert same.prob == words.prob
    text = lc.price(json.dumps(SPEC), at=AT, model="gbm", data=ds)
    assert text.prob == lc.price(SPEC, at=AT, model="gbm", data=ds).prob


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("Will the Ethereum Pectra upgrade ship in March?", UnsupportedContract, "not a price"),
        ('{"kind":"touch"', ConfigError, "not valid JSON"),
    ],
    ids=["not-a-price-question", "broken-json"],
)
def test_price_refuses_with_the_reason(ds, spec, error, match):
    with pytest.raises(error, match=match):
        lc.price(spec, at=AT, model="gbm", data=ds)


def test_naive_times_are_refused(ds):
    with pytest.raises(ConfigError, match="at must"):
        lc.price(SPEC, at="2024-01-25T00:00", model="gbm", data=ds)


def test_parse_needs_no_dataset():
    parsed = lc.parse("Will BTC touch $60k this week?", at="2026-02-10T00:00Z")
    assert isinstance(parsed, Parsed) and parsed.contract.strike_usd == 60000.0
    assert parsed.assumptions
    assert isinstance(lc.parse("Rabby airdrop in Q1 2025?"), Unsupported)


def test_dataset_tables_check_and_point_in_time_view(ds):
    assert {"candles", "markets", "market_prices"} <= set(ds.tables())
    check = ds.check()
    assert check.ok and set(check.to_dict()) == {"ok", "tables", "problems", "warnings"}
    view = ds.at("2024-01-10T00:00Z")
    assert isinstance(view, StoreView)
    assert view.table("candles")["available_at"].max() <= pd.Timestamp("2024-01-10T00:00Z")


def test_ask_a_market_of_the_dataset_by_id_question_or_condition(ds):
    by_id = lc.ask("m1", at="2024-01-20T00:00Z", model="gbm", data=ds)
    assert by_id.market is not None and by_id.market.market_id == "m1"
    assert 0 < by_id.market.prob_market < 1 and by_id.market.edge is not None
    assert by_id.market.side in ("yes", "no") and by_id.drivers == ()
    doc = by_id.to_dict()
    assert set(doc) == PRICE_KEYS | {"market", "drivers"}
    assert {"venue", "market_id", "prob_market", "edge", "fee"} <= set(doc["market"])
    for text in ("Will Bitcoin reach $60,000 in January?", "0xABC"):
        other = lc.ask(text, at="2024-01-20T00:00Z", model="gbm", data=ds)
        assert other.market is not None and other.prob == by_id.prob


def test_ask_a_question_that_is_no_market(ds):
    result = lc.ask("Will Bitcoin reach $70,000 in January?", at=AT, model="gbm", data=ds)
    assert result.market is None and result.to_dict()["market"] is None


@pytest.mark.parametrize(
    "text",
    ["https://polymarket.com/event/btc/will-bitcoin-reach-1m", "no-such-market-slug"],
    ids=["url", "slug"],
)
def test_ask_a_market_that_is_not_in_the_dataset_is_an_error(ds, text):
    with pytest.raises(ConfigError, match="names no market"):
        lc.ask(text, at=AT, model="gbm", data=ds)


def test_predict_proba_is_scikit_learn_shaped(synthetic_data, tmp_path, monkeypatch):
    from levercast.experiments.learning.fitting import fit_default

    config = small_training_config(
        history_days=20.0,
        n_estimators=10,
        use_leverage=False,
        leverage_families=None,
    )
    ds = lc.Dataset(synthetic_data)
    cut = pd.Timestamp("2024-01-24T00:00Z")
    fit = fit_default(ds.store, assets=("BTC",), cut=cut, config=config, liquidations=False)
    at = "2024-01-26T00:00Z"
    questions = [
        {"kind": "close_above", "asset": "BTC", "strike_usd": k, "end": "2024-01-26T20:00Z"}
        for k in (40000, 45000, 50000)
    ]
    frame = lc.contracts_frame(questions, at=at, data=ds)
    features, maps = lc.model_inputs(frame, fit, data=ds)
    proba = fit.predict_proba(frame, features, maps)
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], fit.predict(frame, features, maps)["prob_default"])
    assert (np.diff(proba[:, 1]) <= 1e-12).all()  # a higher strike is less likely
    wide = frame.merge(features.rename(columns={"ts": "t"}), on=["asset", "t"])
    np.testing.assert_allclose(fit.predict_proba(wide), proba)
    with pytest.raises(ConfigError, match="missing"):
        fit.predict_proba(frame)


def test_import_levercast_stays_light_and_exports_the_api():
    code = (
        "import sys, levercast as lc\n"
        "names = ['Dataset', 'price', 'ask', 'parse', 'backtest', 'evaluate', 'forecaster']\n"
        "assert all(n in lc.__all__ for n in names)\n"
        "print(sorted({'pandas', 'numpy', 'sklearn'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.data
def test_the_docs_quickstart_runs(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEVERCAST_DATA", str(shared_data))
    monkeypatch.setattr(sys, "argv", ["quickstart.py"])
    runpy.run_path(str(REPO / "docs" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "P(" in out and "market" in out


def test_the_docs_quickstart_skips_cleanly_without_data(tmp_path):
    env = {**os.environ, "LEVERCAST_DATA": str(tmp_path / "missing")}
    out = subprocess.run(
        [sys.executable, str(REPO / "docs" / "quickstart.py")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0 and "skipped" in out.stdout


def test_backtest_and_evaluate_return_result_objects(ds, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    bt = lc.backtest(
        asset="BTC",
        start="2024-01-10T00:00Z",
        end="2024-01-20T00:00Z",
        data=ds,
        kinds="close_above,touch",
        horizons=("24h",),
        models=("gbm",),
    )
    frame = bt.to_frame()
    assert len(frame) > 0 and "prob_gbm" in frame and bt.to_json_dict()["n_forecasts"] == len(frame)
    ev = lc.evaluate(model="gbm", data=ds)
    assert ev.to_frame() is ev.observations and "markets" in ev.to_json_dict()
    argv = ["evaluate", "--model", "gbm", "--data", str(ds.path), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["markets"] == ev.to_json_dict()["markets"]


def test_a_kalshi_url_names_its_market_or_asks_for_one(synthetic_data):
    from levercast.experiments.answers import find_market
    from levercast.features.dataset.store import Store

    path = synthetic_data / "markets.parquet"
    markets = pd.read_parquet(path)
    kalshi = pd.concat([markets.iloc[[0]]] * 3, ignore_index=True)
    kalshi["venue"] = "kalshi"
    kalshi["market_id"] = ["KXBTCD-24JAN2017-T45000", "KXBTCD-24JAN2017-T46000", "KXBTC-24JAN01"]
    kalshi["condition_id"] = pd.NA
    pd.concat([markets, kalshi], ignore_index=True).astype(markets.dtypes).to_parquet(path)
    store, at = Store(synthetic_data), pd.Timestamp("2024-01-10T00:00Z").to_pydatetime()
    url = "https://kalshi.com/markets/kxbtcd/bitcoin-price/"
    row = find_market(store, url + "kxbtcd-24jan2017-t46000", at)
    assert row is not None and row["market_id"] == "KXBTCD-24JAN2017-T46000"
    with pytest.raises(ConfigError, match="an event of 2 markets"):
        find_market(store, url + "kxbtcd-24jan2017", at)
    assert find_market(store, "kalshi.com/markets/kxbtc/x/kxbtc-24jan01", at) is not None


def test_a_second_backtest_reuses_the_refits_and_says_so(ds, tmp_path, monkeypatch):
    """``lc.backtest`` (and the CLI through it) keeps the walk-forward refits in the home: the
    same backtest again gives the same numbers without fitting, and its notes say where the
    fits came from."""
    from levercast.experiments.learning import fitting

    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    small = small_training_config(history_days=10.0, n_estimators=10)
    monkeypatch.setattr(fitting, "model_config", lambda name: small)
    kwargs = {
        "asset": "BTC",
        "start": "2024-01-16T00:00Z",
        "end": "2024-01-26T00:00Z",
        "data": ds,
        "kinds": "close_above,touch",
        "horizons": ("4h",),
        "models": ("gbm", "default"),
        "retrain_every": "4d",
        "purge": "1d",
    }
    first = lc.backtest(**kwargs)
    real = fitting.fit_default
    calls: list[object] = []
    monkeypatch.setattr(fitting, "fit_default", lambda *a, **k: calls.append(k) or real(*a, **k))
    again = lc.backtest(**kwargs)
    assert calls == []
    pd.testing.assert_frame_equal(first.to_frame(), again.to_frame(), check_exact=True)
    assert first.to_json_dict()["models"] == again.to_json_dict()["models"]
    assert first.fallbacks["default"] < len(first.to_frame())  # the fits did answer
    assert not any("refits taken from" in n for n in first.to_json_dict()["notes"])
    assert any("3 of 3 refits taken from" in n for n in again.to_json_dict()["notes"])
