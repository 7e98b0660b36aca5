from __future__ import annotations

import shutil
import types
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.backtest.run import BacktestConfig, run_backtest
from levercast.experiments.learning import fitting
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.prices import hourly_series, to_ns
from levercast.features.timeutil import duration_text
from levercast.models.pricing.gbm import gbm_vol_at
from levercast.models.pricing.price import price_contract
from levercast.models.pricing.pricers import GBM
from tests.conftest import make_dataset

START = "2024-01-10T00:00Z"
END = "2024-01-20T00:00Z"
JSON_KEYS = {"n_forecasts", "n_days", "n_dropped", "models", "skill_vs_gbm", "by_kind_horizon"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("bt") / "data", seed=3)


def _config(**over):
    base = {
        "asset": "BTC",
        "start": START,
        "end": END,
        "kinds": ("touch", "close_above", "move", "up_down"),
        "horizons": ("1h", "24h"),
        "models": ("gbm",),
    }
    return BacktestConfig(**{**base, **over})


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"end": "2024-01-01T00:00Z"}, "end must be after start"),
        ({"start": "2024-01-10T00:00"}, "start must carry a UTC offset"),
        ({"kinds": ("liquidations_above",)}, "kinds must be a non-empty subset"),
        ({"models": ("mc",)}, "models must be a non-empty subset"),
        ({"horizons": ("90m",)}, "horizons must be whole hours"),
        ({"horizons": ()}, "horizons must list at least one"),
        ({"retrain_every": "monthly"}, "retrain_every must be a number"),
        ({"engine": "spark"}, "engine must be serial, threads, joblib or dask"),
        ({"asset": "BTC-USD"}, "asset must be a ticker"),
    ],
    ids=["end", "naive", "kind", "model", "horizon", "no-horizon", "retrain", "engine", "asset"],
)
def test_config_validation(over, match):
    with pytest.raises(ConfigError, match=match):
        _config(**over)


def test_config_holds_parsed_durations_and_writes_them_back_as_text():
    config = _config(horizons=("1h", "24h", "7d"), retrain_every="30d", step="2h", purge="48h")
    assert config.horizons == (timedelta(hours=1), timedelta(hours=24), timedelta(days=7))
    assert (config.retrain_every, config.step, config.purge) == (
        timedelta(days=30),
        timedelta(hours=2),
        timedelta(days=2),
    )
    assert _config(horizons=(timedelta(hours=24),)).horizons == (timedelta(hours=24),)
    doc = config.to_json_dict()
    assert (doc["horizons"], doc["retrain_every"], doc["step"], doc["purge"]) == (
        "1h,24h,7d",
        "30d",
        "2h",
        "2d",
    )
    assert list(config.horizon_deltas()) == ["1h", "24h", "7d"]


def test_repeated_horizons_are_refused():
    with pytest.raises(ConfigError, match="horizons must be distinct; found '24h' twice"):
        _config(horizons=("24h", "1d"))


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=1), "1h"),
        (timedelta(hours=24), "24h"),
        (timedelta(hours=36), "36h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=7), "7d"),
        (timedelta(minutes=90), "90m"),
        (timedelta(seconds=45), "45s"),
    ],
    ids=["hour", "day-in-hours", "hours", "two-days", "week", "minutes", "seconds"],
)
def test_duration_text(delta, text):
    assert duration_text(delta) == text


def test_json_shape_and_ranges(data_dir):
    result = run_backtest(Store(data_dir), _config())
    doc = result.to_json_dict()
    assert set(doc) >= JSON_KEYS
    assert doc["n_forecasts"] == len(result.to_frame()) > 0
    assert set(doc["models"]) == {"gbm"}
    assert set(doc["models"]["gbm"]) == {"brier", "log_loss", "ece"}
    assert doc["venues"] == {"binance-usdm": doc["n_forecasts"]}
    kinds = {(r["kind"], r["horizon"]) for r in doc["by_kind_horizon"]}
    assert kinds == {
        (k, h) for k in ("touch", "close_above", "move", "up_down") for h in ("1h", "24h")
    }
    frame = result.to_frame()
    assert frame["prob_gbm"].between(0, 1).all()
    assert frame["outcome"].isin([0.0, 1.0]).all()
    # 4 touch + 5 close_above + 5 move + 1 up_down per decision and horizon
    per = frame.groupby(["decision_time", "horizon"]).size()
    assert set(per.unique()) == {15}


def test_windows_past_the_data_are_dropped_and_counted(data_dir):
    # the synthetic candles end on 2024-01-31: 7-day windows after 01-24 are not covered
    result = run_backtest(
        Store(data_dir),
        _config(start="2024-01-22T00:00Z", end="2024-01-30T00:00Z", horizons=("7d",)),
    )
    assert result.to_json_dict()["n_dropped"] > 0
    assert not result.forecasts.loc[~result.forecasts["scored"], "prob_gbm"].isna().any()


def test_same_seed_identical_metrics(data_dir):
    a = run_backtest(Store(data_dir), _config(seed=7)).to_json_dict()
    b = run_backtest(Store(data_dir), _config(seed=7)).to_json_dict()
    assert a == b


def test_changing_rows_after_a_decision_changes_no_forecast_before_it(data_dir, tmp_path):
    cut = pd.Timestamp("2024-01-15T00:00Z")
    other = tmp_path / "other"
    shutil.copytree(data_dir, other)
    candles = pd.read_parquet(other / "candles.parquet")
    later = candles["available_at"] > cut
    rng = np.random.default_rng(0)
    factor = np.exp(rng.normal(0, 0.05, int(later.sum())))
    for col in ("open", "high", "low", "close"):
        candles.loc[later, col] = candles.loc[later, col] * factor
    candles.to_parquet(other / "candles.parquet", index=False)
    cols = ["decision_time", "kind", "horizon", "z", "spot_usd", "vol_annual", "prob_gbm"]
    before = run_backtest(Store(data_dir), _config()).forecasts
    after = run_backtest(Store(other), _config()).forecasts
    early_a = before.loc[before["decision_time"] <= cut, cols].reset_index(drop=True)
    early_b = after.loc[after["decision_time"] <= cut, cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(early_a, early_b)
    late = after.loc[after["decision_time"] > cut, "spot_usd"].to_numpy()
    assert not np.allclose(late, before.loc[before["decision_time"] > cut, "spot_usd"].to_numpy())


def test_vectorised_vol_and_gbm_match_the_pricer(data_dir):
    store = Store(data_dir)
    config = _config(kinds=("touch", "close_above", "range"), horizons=("24h",))
    result = run_backtest(store, config)
    frame = result.forecasts.iloc[::37].head(6)
    for row in frame.itertuples():
        view = store.at(row.decision_time)
        vol, venue = gbm_vol_at(view, "BTC")
        assert venue == row.spot_venue
        # the grid's seeded recursion vs estimate_vol's 10-half-life window
        assert row.vol_annual == pytest.approx(vol, rel=0.03)
        contract = result_contract(row)
        assert price_contract(contract, view, pricer=GBM).prob == pytest.approx(
            row.prob_gbm, abs=0.01
        )


def result_contract(row):
    from levercast.models.contracts import Contract

    if row.kind == "range":
        fields = {"lower_usd": float(row.lower_usd), "upper_usd": float(row.upper_usd)}
    else:
        fields = {"strike_usd": float(row.strike_usd)}
    if row.kind == "touch":
        fields["direction"] = row.direction
    return Contract(
        kind=row.kind,
        asset="BTC",
        start=row.decision_time.to_pydatetime(),
        end=row.end.to_pydatetime(),
        **fields,
    )


def test_price_series_is_point_in_time(data_dir):
    t = pd.Timestamp("2024-01-12T05:00Z")
    series = hourly_series(Store(data_dir), "binance-usdm", "BTC", until=t + pd.Timedelta(days=9))
    at = series.vol_at(to_ns([t], name="t"))
    candles = pd.read_parquet(data_dir / "candles.parquet")
    known = candles[candles["available_at"] <= t]
    assert at.usable[0] and at.spot_usd[0] == known["close"].iloc[-1]


def test_walk_forward_never_fits_past_the_decisions(data_dir, monkeypatch):
    fits = []

    def fit_default(store, *, assets, cut, seed, logistic, liquidations, config=None, pool=None):
        fits.append(cut)

        def predict(rows, features, maps=None):
            assert (rows["t"] >= pd.Timestamp(cut) + pd.Timedelta("2D")).all()
            prob = np.full(len(rows), 0.5)
            prob[rows["kind"].to_numpy() == "move"] = np.nan  # cannot forecast: falls back
            return pd.DataFrame({"prob_default": prob}, index=rows.index)

        return types.SimpleNamespace(
            predict=predict, purge=pd.Timedelta("2D"), features=(), leverage=()
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    config = _config(models=("gbm", "default"), retrain_every="4d", purge="2d")
    result = run_backtest(Store(data_dir), config)
    doc = result.to_json_dict()
    assert len(fits) == 3  # 10 days of decisions, refit every 4 days
    assert "default" in doc["models"] and "default" in doc["skill_vs_gbm"]
    frame = result.to_frame()
    moves = frame["kind"] == "move"
    assert doc["fallbacks"]["default"] == int(moves.sum())
    np.testing.assert_allclose(frame.loc[moves, "prob_default"], frame.loc[moves, "prob_gbm"])
    assert (frame.loc[~moves, "prob_default"] == 0.5).all()


def test_default_vs_default_vol_reports_features_and_the_leverage_skill(data_dir, monkeypatch):
    def fit_default(store, *, assets, cut, seed, logistic, liquidations, config=None, pool=None):
        vol_only = not config.use_leverage

        def predict(rows, features, maps=None):
            prob = np.full(len(rows), 0.45 if vol_only else 0.55)
            return pd.DataFrame({"prob_default": prob}, index=rows.index)

        return types.SimpleNamespace(
            predict=predict,
            purge=pd.Timedelta("2D"),
            features=("rvol_24h",),
            leverage=() if vol_only else ("lev_mass_to_barrier_share",),
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    config = _config(models=("gbm", "default", "default_vol"), retrain_every="4d", purge="2d")
    doc = run_backtest(Store(data_dir), config).to_json_dict()
    assert doc["models"]["default"]["features"] == ["rvol_24h", "lev_mass_to_barrier_share"]
    assert doc["models"]["default_vol"]["features"] == ["rvol_24h"]
    assert "features" not in doc["models"]["gbm"]
    leverage = doc["skill_vs_default_vol"]["default"]
    lo, hi = leverage["ci90"]
    assert lo <= leverage["value"] <= hi


def test_shared_data_week(shared_store):
    config = BacktestConfig(
        asset="BTC",
        start="2025-03-01T00:00Z",
        end="2025-03-08T00:00Z",
        horizons=("1h", "24h"),
        models=("gbm",),
    )
    doc = run_backtest(shared_store, config).to_json_dict()
    assert doc["n_forecasts"] > 1000
    assert doc["venues"] == {"binance-spot": doc["n_forecasts"]}
    assert 0.05 < doc["models"]["gbm"]["brier"] < 0.25


def test_out_of_domain_rows_count_as_fallbacks(data_dir, monkeypatch):
    def fit_default(store, *, assets, cut, seed, logistic, liquidations, config=None, pool=None):
        def predict(rows, features, maps=None):
            touch = rows["kind"].to_numpy() == "touch"
            return pd.DataFrame(
                {"prob_default": np.full(len(rows), 0.4), "in_domain": touch}, index=rows.index
            )

        return types.SimpleNamespace(
            predict=predict, purge=pd.Timedelta("2D"), features=(), leverage=()
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    result = run_backtest(Store(data_dir), _config(models=("gbm", "default")))
    frame = result.to_frame()
    touch = frame["kind"] == "touch"
    assert result.fallbacks["default"] == int((~touch).sum())
    assert (frame.loc[touch, "prob_default"] == 0.4).all()


def test_training_settings_of_a_study_reach_every_walk_forward_fit(data_dir, monkeypatch):
    """``run_backtest(training=)`` (the fit-budget study) fits ``default`` with those settings;
    without it, with the shipped ones."""
    from dataclasses import replace

    seen = []

    def fit_default(store, *, assets, cut, seed, logistic, liquidations, config=None, pool=None):
        seen.append(config)

        def predict(rows, features, maps=None):
            return pd.DataFrame({"prob_default": np.full(len(rows), 0.5)}, index=rows.index)

        return types.SimpleNamespace(
            predict=predict, purge=pd.Timedelta("2D"), features=(), leverage=()
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    config = _config(models=("gbm", "default"), retrain_every="4d", purge="2d")
    cheap = replace(fitting.model_config("default"), n_estimators=7, learning_rate=0.3)
    run_backtest(Store(data_dir), config, training=cheap)
    assert len(seen) == 3 and all(c == cheap for c in seen)
    seen.clear()
    run_backtest(Store(data_dir), config)
    assert len(seen) == 3 and all(c == fitting.model_config("default") for c in seen)


def test_progress_names_each_step_and_counts_every_refit(data_dir, monkeypatch):
    """``progress(done, total, label)``: the steps in order, each refit counted once (in
    whatever order the threads finish them), and the count kept by the step after the refits."""

    def fit_default(store, *, assets, cut, seed, logistic, liquidations, config=None, pool=None):
        def predict(rows, features, maps=None):
            return pd.DataFrame({"prob_default": np.full(len(rows), 0.5)}, index=rows.index)

        return types.SimpleNamespace(
            predict=predict, purge=pd.Timedelta("2D"), features=(), leverage=()
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    calls: list[tuple[int, int | None, str]] = []
    config = _config(models=("gbm", "default"), retrain_every="4d", purge="2d")
    run_backtest(Store(data_dir), config, progress=lambda d, t, label: calls.append((d, t, label)))
    labels = [label for _, _, label in calls]
    steps = list(dict.fromkeys(labels))
    assert steps == ["contracts", "outcomes", "training set", "inputs", "refits", "scores"]
    refits = sorted(d for d, _, label in calls if label == "refits")
    assert refits == [1, 2, 3]  # 10 days of decisions, refit every 4 days
    assert {t for _, t, label in calls if label in ("refits", "inputs")} == {3}
    assert calls[-1] == (3, 3, "scores")
    gbm_only: list[str] = []
    run_backtest(Store(data_dir), _config(), progress=lambda d, t, label: gbm_only.append(label))
    assert gbm_only == ["contracts", "outcomes", "scores"]
