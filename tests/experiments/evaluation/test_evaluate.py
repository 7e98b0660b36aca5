from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.evaluation.evaluate import run_evaluate, score_forward_log
from levercast.experiments.learning.market_observations import DECIDED
from levercast.features.dataset.store import Store
from tests.conftest import make_dataset

TOP_KEYS = {
    "markets",
    "observations",
    "coverage",
    "excluded",
    "unsupported",
    "brier",
    "log_loss",
    "skill_vs_market",
    "by_family",
    "trading",
}
UTC = "UTC"


def _markets(dip_strike: float) -> pd.DataFrame:
    rows = [
        (
            "touch-up",
            "Will Bitcoin reach $60,000 in February?",
            "2024-01-25",
            "2024-03-01",
            "2024-03-01T06:00",
            "No",
            "fam-reach",
        ),
        (
            "close",
            "Will the price of Bitcoin be above $50,000 on February 20?",
            "2024-02-10",
            "2024-02-20T17:00",
            "2024-02-20T18:00",
            "Yes",
            "fam-above",
        ),
        (
            "dip",
            f"Will Bitcoin dip to ${dip_strike:,.0f} in February?",
            "2024-01-25",
            "2024-03-01",
            "2024-03-01T06:00",
            "Yes",
            "fam-reach",
        ),
        (
            "words",
            "Will a spot ETF be approved in February?",
            "2024-01-25",
            "2024-03-01",
            "2024-03-01T06:00",
            "No",
            "fam-other",
        ),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "market_id",
            "question",
            "created_at",
            "end_date",
            "resolved_at",
            "winning_outcome",
            "family",
        ],
    )
    for col in ("created_at", "end_date", "resolved_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    frame["venue"] = "polymarket"
    frame["condition_id"] = frame["market_id"]
    frame["event_title"] = None
    frame["slug"] = None
    frame["rules"] = ""
    frame["outcomes"] = "Yes|No"
    frame["token_ids"] = ""
    for col in frame.columns:
        if col not in ("created_at", "end_date", "resolved_at"):
            frame[col] = frame[col].astype("string")
    return frame


def _prices(markets: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pieces = []
    for row in markets.itertuples():
        days = pd.date_range(row.created_at.ceil("D"), row.resolved_at, freq="1D")
        hours = pd.date_range(days[0], row.resolved_at, freq="6h")
        outcome = "No" if row.market_id == "close" else "Yes"  # close: only the No side exists
        for ts, kind in [(days, "daily_close"), (hours, "history")]:
            pieces.append(
                pd.DataFrame(
                    {
                        "venue": "polymarket",
                        "market_id": row.market_id,
                        "outcome": outcome,
                        "ts": ts,
                        "available_at": ts,
                        "price": rng.uniform(0.05, 0.95, len(ts)),
                        "kind": kind,
                    }
                )
            )
    frame = pd.concat(pieces, ignore_index=True)
    for col in ("venue", "market_id", "outcome", "kind"):
        frame[col] = frame[col].astype("string")
    return frame


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("ev") / "data", seed=5, hours=24 * 62)
    candles = pd.read_parquet(root / "candles.parquet")
    feb = candles[(candles["ts"] >= "2024-02-01T05:00Z") & (candles["ts"] < "2024-02-12")]
    dip = float(feb["low"].min()) * 1.01
    markets = _markets(dip)
    markets.to_parquet(root / "markets.parquet", index=False)
    _prices(markets).to_parquet(root / "market_prices.parquet", index=False)
    return root


@pytest.fixture(scope="module")
def evaluated(eval_dir):
    return run_evaluate(Store(eval_dir), model="gbm", seed=1)


def test_json_shape(evaluated):
    doc = evaluated.to_json_dict()
    assert set(doc) >= TOP_KEYS
    assert set(doc["coverage"]) == {"resolved_with_prices", "evaluated"}
    assert doc["coverage"] == {"resolved_with_prices": 4, "evaluated": 3}
    assert [u["market_id"] for u in doc["unsupported"]] == ["words"]
    assert set(doc["brier"]) >= {"model", "market", "blend"}
    assert set(doc["skill_vs_market"]) >= {"model", "blend"}
    assert set(doc["skill_vs_market"]["model"]) == {"value", "ci90"}
    assert set(doc["ece"]) >= {"model", "market", "blend"}
    for kind, entry in doc["ece_by_kind"].items():
        assert set(entry) >= {"model", "market", "blend"}, kind
    assert set(doc["ece_by_kind"]) == set(evaluated.to_frame()["kind"])
    for s in ("model", "blend"):
        assert {"value", "ci90"} <= set(doc["skill_vs_market_equal_markets"][s])
    assert "pnl_per_dollar_ci90" in doc["trading"]
    assert all(isinstance(n, int) for n in doc["excluded"].values())
    assert {r["family"] for r in doc["by_family"]} == {"fam-reach", "fam-above"}
    assert {"trades", "hit_rate", "pnl_per_dollar", "max_drawdown_usd"} <= set(doc["trading"])
    assert doc["observations"] == len(evaluated.to_frame())


def test_observation_rules(evaluated, eval_dir):
    obs = evaluated.to_frame()
    doc = evaluated.to_json_dict()
    assert not obs.duplicated(["market_id", "t"]).any()
    assert (obs["t"] < obs["resolution_time"]).all()
    # the dip is touched on the proxy before the market resolves: later observations excluded
    assert doc["excluded"][DECIDED] > 0
    assert set(obs["path_venue"]) == {"binance-usdm"}  # proxy: no binance-spot in the store
    # only the No side is quoted for "close": YES = 1 - price
    prices = pd.read_parquet(eval_dir / "market_prices.parquet")
    first = obs[obs["market_id"] == "close"].iloc[0]
    raw = prices[(prices["market_id"] == "close") & (prices["ts"] == first["t"])]
    history = raw[raw["kind"] == "history"]  # a history point wins over a daily one
    assert first["prob_market"] == pytest.approx(1 - history["price"].iloc[0])
    assert obs[["prob_model", "prob_market", "prob_blend"]].stack().between(0, 1).all()


def test_same_seed_identical(eval_dir, evaluated):
    again = run_evaluate(Store(eval_dir), model="gbm", seed=1).to_json_dict()
    assert again == evaluated.to_json_dict()


def test_the_evaluation_runs_blas_on_one_thread(eval_dir, evaluated, monkeypatch):
    """Scored under ``one_blas_thread`` (the same numbers on any number of cores): every BLAS
    library is on one thread while the scores are computed, and the result is unchanged."""
    from threadpoolctl import threadpool_info

    import levercast.experiments.evaluation.evaluate as evaluate

    seen: list[list[int]] = []
    real = evaluate.score_sources

    def spying(*args, **kwargs):
        seen.append([lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"])
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "score_sources", spying)
    again = run_evaluate(Store(eval_dir), model="gbm", seed=1).to_json_dict()
    assert len(seen) == 1 and seen[0] and set(seen[0]) == {1}
    assert again == evaluated.to_json_dict()


def test_resolution_fields_change_no_forecast(eval_dir, evaluated, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(eval_dir, other)
    markets = pd.read_parquet(other / "markets.parquet")
    sel = markets["market_id"] == "touch-up"
    markets.loc[sel, "winning_outcome"] = "Yes"
    markets.loc[sel, "resolved_at"] = pd.Timestamp("2024-02-25T00:00Z")
    markets.to_parquet(other / "markets.parquet", index=False)
    changed = run_evaluate(Store(other), model="gbm", seed=1).to_frame()
    key = ["market_id", "t"]
    both = evaluated.to_frame().merge(changed, on=key, suffixes=("", "_new"))
    assert len(both) > 0.8 * len(changed)
    np.testing.assert_array_equal(both["prob_model_raw"], both["prob_model_raw_new"])
    # the walk-forward fits before the new resolution time cannot use it either
    early = both["t"] < pd.Timestamp("2024-02-25T00:00Z")
    for column in ("prob_blend", "prob_model", "prob_market_aware"):
        np.testing.assert_array_equal(both.loc[early, column], both.loc[early, f"{column}_new"])


def test_candles_after_t_change_no_forecast_before(eval_dir, evaluated, tmp_path):
    cut = pd.Timestamp("2024-02-15T00:00Z")
    other = tmp_path / "late"
    shutil.copytree(eval_dir, other)
    candles = pd.read_parquet(other / "candles.parquet")
    later = candles["available_at"] > cut
    for col in ("open", "high", "low", "close"):
        candles.loc[later, col] *= 1.07
    candles.to_parquet(other / "candles.parquet", index=False)
    changed = run_evaluate(Store(other), model="gbm", seed=1).to_frame()
    before = evaluated.to_frame()
    a = before[before["t"] <= cut][["market_id", "t", "prob_model"]].reset_index(drop=True)
    b = changed[changed["t"] <= cut][["market_id", "t", "prob_model"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_forward_log_absent_is_an_honest_empty_result(tmp_path, eval_dir):
    doc = score_forward_log(Store(eval_dir), tmp_path).to_json_dict()
    assert doc["observations"] == 0
    assert "no forward log" in doc["notes"][0]


def test_forward_log_scored(tmp_path, eval_dir):
    """Rows in the forward log's own schema; the market's probability is the logged quote mid."""
    from levercast.experiments.evaluation.forward_log import FORECAST_COLUMNS, forecasts_path

    at = pd.to_datetime(["2024-02-12T00:00Z", "2024-02-13T00:00Z", "2024-02-13T01:00Z"], utc=True)
    log = pd.DataFrame({c: [None] * 3 for c in FORECAST_COLUMNS})
    contract = json.dumps(
        {
            "kind": "close_above",
            "asset": "BTC",
            "strike_usd": 5e4,
            "start": "2024-02-12T00:00Z",
            "end": "2024-02-14T00:00Z",
        }
    )  # as a live run logs it: a valid contract, a band, a quote
    log = log.assign(
        logged_at=at, at=at, source="scan", venue="polymarket", market_id="close",
        yes_outcome="Yes", prob=[0.7, 0.8, 0.9], prob_bid=[0.55, 0.6, None],
        prob_ask=[0.65, None, None], contract=contract, prob_lo=[0.6, 0.7, 0.8],
        prob_hi=[0.8, 0.9, 0.95],
    )  # fmt: skip
    log.to_parquet(forecasts_path(tmp_path), index=False)
    doc = score_forward_log(Store(eval_dir), tmp_path).to_json_dict()
    assert doc["observations"] == 2
    assert doc["excluded"]["no quote logged"] == 1
    assert doc["brier"]["model"] == pytest.approx((0.3**2 + 0.2**2) / 2)
    assert doc["brier"]["market"] == pytest.approx((0.4**2 + 0.4**2) / 2)


def test_shared_data_evaluation(shared_store):
    doc = run_evaluate(shared_store, model="gbm", seed=0).to_json_dict()
    assert doc["coverage"]["resolved_with_prices"] >= doc["coverage"]["evaluated"] > 200
    assert doc["observations"] > 10_000
    assert doc["model_used"] == "gbm"
    assert set(doc["path_venues"]) <= {"binance-spot", "binance-usdm", "bitget-usdtm"}


def test_learned_model_walk_forward_with_gbm_fallback(eval_dir, monkeypatch):
    import types

    from levercast.experiments.learning import fitting

    seen = []

    def fit_default(store, *, assets, cut, seed, **_):
        def predict(rows, features):
            seen.append((cut, rows["t"].min()))
            assert "start" not in rows.columns
            return pd.DataFrame({"prob_default": np.full(len(rows), 0.3)}, index=rows.index)

        return types.SimpleNamespace(
            predict=predict, purge=pd.Timedelta("1D"), features=(), leverage=()
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    result = run_evaluate(Store(eval_dir), model="default", seed=1)
    doc = result.to_json_dict()
    obs = result.to_frame()
    assert doc["model_used"] == "default"
    assert all(pd.Timestamp(cut) + pd.Timedelta("1D") <= first for cut, first in seen)
    learned = obs["prob_model_raw"] == 0.3
    assert doc["fallbacks_to_gbm"] == int((~learned).sum()) > 0  # forward-start rows
    np.testing.assert_allclose(obs.loc[~learned, "prob_model_raw"], obs.loc[~learned, "prob_gbm"])


def test_progress_names_each_step_and_counts_the_refits(eval_dir, monkeypatch):
    import types

    from levercast.experiments.learning import fitting

    def fit_default(store, *, assets, cut, seed, **_):
        def predict(rows, features):
            return pd.DataFrame({"prob_default": np.full(len(rows), 0.3)}, index=rows.index)

        return types.SimpleNamespace(
            predict=predict, purge=pd.Timedelta("1D"), features=(), leverage=()
        )

    monkeypatch.setattr(fitting, "fit_default", fit_default)
    calls = []
    progress = lambda d, t, label: calls.append((d, t, label))  # noqa: E731
    run_evaluate(Store(eval_dir), model="default", seed=1, progress=progress)
    steps = list(dict.fromkeys(label for _, _, label in calls))
    assert steps[:2] == ["observations", "default probabilities"]
    assert "refits" in steps
    after = steps[steps.index("refits") + 1 :]
    assert after == ["market-aware model", "recalibration", "scores", "trading", "held-out scores"]
    total = calls[-1][1]
    assert total and sorted(d for d, _, label in calls if label == "refits") == list(
        range(1, total + 1)
    )
    assert all(t == total for _, t, label in calls if label in after)  # the count is kept
