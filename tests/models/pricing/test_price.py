from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError, UnsupportedContract
from levercast.features.timeutil import parse_utc
from levercast.models.contracts import Contract
from levercast.models.pricing import closed_form as cf
from levercast.models.pricing.gbm import gbm_probabilities, gbm_vol_at
from levercast.models.pricing.price import Forecast, FunctionPricer, price_contract
from levercast.models.pricing.pricers import BUILTIN_PRICERS, GBM
from tests.conftest import make_dataset

AT = parse_utc("2024-01-25T00:00Z")
END = "2024-01-29T00:00Z"
JSON_KEYS = {
    "contract",
    "at",
    "prob",
    "prob_lo",
    "prob_hi",
    "model",
    "components",
    "inputs",
    "warnings",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("pricing") / "data", hours=24 * 30))


def _price(store, spec, *, at=AT, model="gbm", **kwargs):
    pricer = BUILTIN_PRICERS[model]
    return price_contract(Contract.from_json(spec, at=at), store.at(at), pricer=pricer, **kwargs)


def _spot(store) -> float:
    candles = store.as_of("candles", AT, venue="binance-usdm", asset="BTC", interval="1h")
    return float(candles["close"].iloc[-1])


def test_forecast_json_is_interface_section_4(store):
    fc = _price(store, {"kind": "touch", "asset": "BTC", "strike_usd": 1e5, "end": END})
    doc = fc.to_json_dict()
    assert set(doc) == JSON_KEYS
    assert doc["model"] == "gbm" and doc["at"] == "2024-01-25T00:00:00Z"
    assert doc["prob_lo"] <= doc["prob"] <= doc["prob_hi"]
    for key in ("spot_usd", "spot_venue", "spot_ts", "vol_annual"):
        assert key in doc["inputs"]
    # binance-spot (the default resolution source) is absent: the proxy is named.
    assert doc["inputs"]["spot_venue"] == "binance-usdm"
    assert any("proxy venue binance-usdm" in w for w in doc["warnings"])


def test_gbm_touch_equals_zero_drift_reflection_for_reported_inputs(store):
    spot = _spot(store)
    strike = round(spot * 0.93)
    fc = _price(store, {"kind": "touch", "asset": "BTC", "strike_usd": strike, "end": END})
    inputs = fc.inputs
    assert fc.contract.direction == "down"  # partial spec: strike below spot
    t = inputs["hours_to_end"] / 8760
    exact = float(cf.prob_touch(inputs["spot_usd"], strike, inputs["vol_annual"], t, up=False))
    assert fc.prob == pytest.approx(exact, abs=1e-12)
    assert fc.prob == pytest.approx(2 * fc.components["close_beyond"], rel=1e-9)
    assert gbm_vol_at(store.at(AT), "BTC") == (inputs["vol_annual"], "binance-usdm")


def test_partial_touch_takes_up_when_strike_above_spot(store):
    fc = _price(
        store, {"kind": "touch", "asset": "BTC", "strike_usd": _spot(store) * 1.05, "end": END}
    )
    assert fc.contract.direction == "up" and fc.contract.resolution.price == "high"


def test_yes_no_symmetry_and_ladders_are_coherent(store):
    spot = _spot(store)
    strikes = spot * np.array([0.9, 0.95, 1.0, 1.05, 1.1])
    above = [
        _price(store, {"kind": "close_above", "asset": "BTC", "strike_usd": k, "end": END}).prob
        for k in strikes
    ]
    below = [
        _price(store, {"kind": "close_below", "asset": "BTC", "strike_usd": k, "end": END}).prob
        for k in strikes
    ]
    np.testing.assert_allclose(np.add(above, below), 1.0, atol=1e-12)
    assert np.all(np.diff(above) < 0)
    ranges = [
        _price(
            store, {"kind": "range", "asset": "BTC", "lower_usd": a, "upper_usd": b, "end": END}
        ).prob
        for a, b in itertools.pairwise(strikes)
    ]
    assert sum(ranges) <= 1 and sum(ranges) == pytest.approx(above[0] - above[-1], abs=1e-9)
    touch_up = _price(
        store, {"kind": "touch", "asset": "BTC", "strike_usd": strikes[-1], "end": END}
    )
    assert touch_up.prob >= above[-1]


def test_liquidations_are_unsupported_with_a_reason(store):
    spec = {
        "kind": "liquidations_above",
        "asset": "BTC",
        "threshold": 1e9,
        "side": "long",
        "end": END,
    }
    for model in ("gbm", "mc"):
        with pytest.raises(UnsupportedContract, match="liquidation-volume model"):
            _price(store, spec, model=model)


ABOVE_1 = {"kind": "close_above", "asset": "BTC", "strike_usd": 1, "end": END}
ENDED = {**ABOVE_1, "start": "2024-01-20T00:00Z", "end": "2024-01-24T00:00Z"}
BAD_REQUESTS = {
    "paths": (ABOVE_1, {"paths": 0}, ConfigError, "paths must be a positive"),
    "after-end": (ENDED, {}, ConfigError, "at must be before the contract end"),
}


@pytest.mark.parametrize(
    ("spec", "kwargs", "error", "match"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys()
)
def test_bad_requests_name_the_problem(store, spec, kwargs, error, match):
    with pytest.raises(error, match=match):
        _price(store, spec, **kwargs)


def test_no_fresh_source_is_a_data_error(store):
    late = parse_utc("2024-03-15T00:00Z")
    spec = {"kind": "close_above", "asset": "BTC", "strike_usd": 1e5, "end": "2024-03-20T00:00Z"}
    with pytest.raises(DataError, match="no fresh candles of BTC"):
        _price(store, spec, at=late)


def test_touch_already_reached_is_decided(store):
    candles = store.as_of("candles", AT, venue="binance-usdm", asset="BTC", interval="1h")
    window = candles[candles["ts"] >= pd.Timestamp("2024-01-20T00:00Z")]
    strike = float(window["high"].max()) * 0.999
    spec = {
        "kind": "touch",
        "asset": "BTC",
        "strike_usd": strike,
        "direction": "up",
        "start": "2024-01-20T00:00Z",
        "end": END,
    }
    fc = _price(store, spec)
    assert fc.prob == 1.0 and fc.components == {"path_to_date": 1.0}
    assert any("already decided" in w for w in fc.warnings)


def test_up_down_window_begun_uses_the_start_open(store):
    candles = store.as_of("candles", AT, venue="binance-usdm", asset="BTC", interval="1h")
    start = pd.Timestamp("2024-01-24T12:00Z")
    open_usd = float(candles.loc[candles["ts"] == start, "open"].iloc[0])
    spec = {
        "kind": "up_down",
        "asset": "BTC",
        "start": "2024-01-24T12:00Z",
        "end": "2024-01-25T12:00Z",
    }
    fc = _price(store, spec)
    assert fc.inputs["start_price_usd"] == open_usd
    exact = float(
        cf.prob_close_above(fc.inputs["spot_usd"], open_usd, fc.inputs["vol_annual"], 12 / 8760)
    )
    assert fc.prob == pytest.approx(exact, abs=1e-12)


def test_forward_start_touch_is_below_the_touch_from_now(store):
    up = {"kind": "touch", "asset": "BTC", "strike_usd": _spot(store) * 1.06, "direction": "up"}
    later = _price(store, {**up, "start": "2024-01-26T00:00Z", "end": END})
    now = _price(store, {**up, "end": END})
    window_only = _price(store, {**up, "end": "2024-01-28T00:00Z"})
    assert later.prob < now.prob
    assert later.prob > 0.5 * window_only.prob


def test_first_of_components_sum_to_one(store):
    spot = _spot(store)
    spec = {
        "kind": "first_of",
        "asset": "BTC",
        "lower_usd": spot * 0.9,
        "upper_usd": spot * 1.1,
        "end": END,
    }
    fc = _price(store, spec)
    parts = fc.components
    assert parts["upper_first"] + parts["lower_first"] + parts["neither"] == pytest.approx(1.0)
    assert fc.prob == pytest.approx(parts["upper_first"] + 0.5 * parts["neither"])


def test_mc_is_seeded_and_close_to_gbm(store):
    spec = {"kind": "touch", "asset": "BTC", "strike_usd": _spot(store) * 1.04, "end": END}
    a = _price(store, spec, model="mc", seed=3, paths=20_000)
    b = _price(store, spec, model="mc", seed=3, paths=20_000)
    assert a.prob == b.prob and a.inputs["mc_paths"] == 20_000
    assert a.prob_lo < a.prob < a.prob_hi
    assert abs(a.prob - a.components["gbm"]) < 0.1  # same vol, fat tails differ a little
    garch = _price(store, spec, model="mc-garch", seed=3, paths=20_000)
    assert garch.inputs["innovations"] == "garch" and 0 <= garch.prob <= 1


def test_any_pricer_object_is_used_as_given(store):
    def constant(request):
        return Forecast(request.contract, request.at, 0.3, 0.2, 0.4, request.model)

    stub = FunctionPricer("stub-constant", constant)
    spec = {"kind": "close_above", "asset": "BTC", "strike_usd": 1e5, "end": END}
    fc = price_contract(Contract.from_json(spec, at=AT), store.at(AT), pricer=stub)
    assert fc.prob == 0.3 and fc.model == "stub-constant"


def test_builtin_pricers_are_immutable():
    with pytest.raises(TypeError):
        BUILTIN_PRICERS["gbm"] = GBM  # type: ignore[index]
    assert list(BUILTIN_PRICERS) == ["gbm", "gbm-har", "gbm-iv", "mc", "mc-garch"]


@pytest.mark.parametrize(
    ("prob", "lo", "hi", "match"),
    [(1.2, 0.0, 1.0, "prob must be within"), (0.5, 0.6, 0.7, "prob must lie in")],
    ids=["range", "band"],
)
def test_forecast_validates_probabilities(prob, lo, hi, match):
    contract = Contract.from_json({"kind": "up_down", "asset": "BTC", "end": END}, at=AT)
    with pytest.raises(ConfigError, match=match):
        Forecast(contract, AT, prob, lo, hi, "gbm")


def test_batch_api_matches_single_contracts():
    kinds = ["touch", "close_above", "close_below", "range", "up_down", "first_of", "move", "move"]
    n = len(kinds)
    nan = math.nan
    kwargs = {
        "strike_usd": [60_000, 70_000, 60_000, nan, nan, nan, nan, nan],
        "lower_usd": [nan, nan, nan, 60_000, nan, 60_000, nan, nan],
        "upper_usd": [nan, nan, nan, 70_000, nan, 70_000, nan, nan],
        "threshold": [nan] * 6 + [0.05, 0.05],
        "monitoring": [""] * 6 + ["terminal", "continuous"],
    }
    probs = gbm_probabilities(kinds, np.full(n, 66_000.0), 0.55, 7 / 365, **kwargs)
    assert np.all((probs >= 0) & (probs <= 1))
    t = 7 / 365
    assert probs[0] == pytest.approx(float(cf.prob_touch(66_000, 60_000, 0.55, t, up=False)))
    assert probs[3] == pytest.approx(float(cf.prob_range(66_000, 60_000, 70_000, 0.55, t)))
    assert probs[4] == pytest.approx(0.5)
    p_up, p_down = cf.prob_double_barrier(66_000, 60_000, 70_000, 0.55, t)
    assert probs[5] == pytest.approx(float(p_up + 0.5 * (1 - p_up - p_down)))
    assert probs[6] == pytest.approx(float(cf.prob_move_terminal(0.05, 0.55, t)))
    assert probs[7] == pytest.approx(float(cf.prob_excursion(0.05, 0.55, t)))
    with pytest.raises(UnsupportedContract):
        gbm_probabilities(["liquidations_above"], [1.0], 0.5, 0.1)
    with pytest.raises(ConfigError, match="kinds must be among"):
        gbm_probabilities(["nope"], [1.0], 0.5, 0.1)


def test_batch_discrete_monitoring_applies_bgk():
    t, dt = 30 / 365, 1 / 365
    discrete = gbm_probabilities(
        "touch", [100.0], 0.55, t, strike_usd=115, monitoring="discrete", discrete_dt_years=dt
    )
    shifted = cf.bgk_shift(115, 0.55, dt, up=True)
    assert float(discrete[0]) == pytest.approx(float(cf.prob_touch(100, shifted, 0.55, t, up=True)))
    with pytest.raises(ConfigError, match="discrete_dt_years must be positive"):
        gbm_probabilities("touch", [100.0], 0.55, t, strike_usd=115, monitoring="discrete")


def test_shared_dataset_worked_case(shared_store):
    at = parse_utc("2025-06-01T00:00Z")
    spec = {
        "kind": "touch",
        "asset": "BTC",
        "strike_usd": 100_000,
        "direction": "down",
        "end": "2025-06-08T00:00Z",
    }
    fc = price_contract(Contract.from_json(spec, at=at), shared_store.at(at), pricer=GBM)
    assert fc.inputs["spot_venue"] == "binance-spot" and fc.warnings == ()
    assert 0.05 < fc.prob < 0.9
    assert fc.prob == pytest.approx(2 * fc.components["close_beyond"], rel=1e-9)


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "touch", "strike_usd": 55000, "direction": "up"},
        {"kind": "close_above", "strike_usd": 50000},
        {"kind": "range", "lower_usd": 48000, "upper_usd": 52000},
        {"kind": "move", "threshold": 0.05},
        {"kind": "up_down"},
        {"kind": "first_of", "lower_usd": 45000, "upper_usd": 56000},
    ],
    ids=["touch", "close_above", "range", "move", "up_down", "first_of"],
)
@pytest.mark.parametrize("start_offset_h", [-5, 0, 6], ids=["begun", "now", "forward"])
def test_contract_probs_match_one_vol_at_a_time(synthetic_data, spec, start_offset_h):
    """The vectorised band (three vols in one call) equals three scalar calls."""
    import numpy as np
    import pandas as pd

    from levercast.features.dataset.store import Store
    from levercast.models.contracts import Contract
    from levercast.models.pricing.gbm import contract_prob, contract_probs
    from levercast.models.pricing.market_state import resolve_market_state
    from levercast.models.pricing.price import PricingRequest

    at = pd.Timestamp("2024-01-20T12:00Z")
    view = Store(synthetic_data).at(at)
    start = (at + pd.Timedelta(hours=start_offset_h)).to_pydatetime()
    contract = Contract.from_json(
        {**spec, "asset": "BTC", "start": start.isoformat(),
         "end": (at + pd.Timedelta("3D")).isoformat()}
    )  # fmt: skip
    state = resolve_market_state(contract, view)
    request = PricingRequest(contract, view, state)
    vols = np.array([0.6, 0.5, 0.7])
    expected = [contract_prob(contract, request, float(v)) for v in vols]
    np.testing.assert_allclose(contract_probs(contract, request, vols), expected, atol=1e-12)
