"""Strike ladders of the default forecaster: smooth, monotone and coherent at random times.

Property (issue 16): adjacent strikes 1 % apart never differ by more than
``max(3 x gbm's difference, 0.01)``; ``close_above`` and an up touch fall with the strike,
``close_below`` and a down touch rise; a touch is at least its close beyond.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levercast.experiments.learning.fitting import fit_default
from levercast.experiments.learning.training_set import leverage_inputs
from levercast.features.dataset.store import Store
from levercast.models.pricing.market_state import market_inputs
from tests.conftest import make_dataset, small_training_config

CONFIG = small_training_config(
    history_days=30.0,
    n_estimators=40,
    max_rows=20_000,
    use_leverage=True,
)
START = pd.Timestamp("2024-01-01T00:00Z")
CUT = START + pd.Timedelta(days=36)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(make_dataset(tmp_path_factory.mktemp("ladder") / "data", hours=24 * 50))


@pytest.fixture(scope="module")
def fitted(store):
    return fit_default(store, assets=("BTC",), cut=CUT, config=CONFIG, liquidations=False)


def _ladder(store, t: pd.Timestamp, hours: float, steps: int) -> pd.DataFrame:
    base = market_inputs(store, "BTC", pd.DatetimeIndex([t])).iloc[0]
    spot, vol = float(base["spot_usd"]), float(base["vol_annual"])
    strikes = spot * 1.01 ** np.arange(-steps, steps + 1)
    rows = []
    for k in strikes:
        rows.append(("close_above", k, "", "terminal"))
        rows.append(("close_below", k, "", "terminal"))
        rows.append(("touch", k, "up" if k > spot else "down", "continuous"))
    frame = pd.DataFrame(rows, columns=["kind", "strike_usd", "direction", "monitoring"])
    frame["asset"] = "BTC"
    frame["t"] = t
    frame["end"] = t + pd.Timedelta(hours=hours)
    frame["horizon_hours"] = hours
    frame["spot_usd"] = spot
    frame["vol_annual"] = vol
    for name in ("lower_usd", "upper_usd", "threshold"):
        frame[name] = np.nan
    return frame


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offset_hours=st.integers(24, 24 * 12),
    hours=st.floats(1.0, 24.0),
    steps=st.integers(3, 12),
)
def test_ladders_are_smooth_monotone_and_coherent(store, fitted, offset_hours, hours, steps):
    t = CUT + pd.Timedelta(hours=offset_hours)
    rows = _ladder(store, t, hours, steps)
    features, maps = leverage_inputs(store, rows[["asset", "t"]].iloc[:1], fitted.features)
    pred = fitted.predict(rows, features, maps)
    assert pred["in_domain"].all()
    for kind, way, falling in (
        ("close_above", "", True),
        ("close_below", "", False),
        ("touch", "up", True),
        ("touch", "down", False),
    ):
        sel = (rows["kind"] == kind) & (rows["direction"] == way)
        order = np.argsort(rows.loc[sel, "strike_usd"].to_numpy())
        p = pred.loc[sel, "prob_default"].to_numpy()[order]
        g = pred.loc[sel, "prob_gbm"].to_numpy()[order]
        if len(p) < 2:
            continue
        step = np.diff(p)
        assert ((step <= 1e-12) if falling else (step >= -1e-12)).all(), (kind, way, p)
        bound = np.maximum(3 * np.abs(np.diff(g)), 0.01)
        assert (np.abs(step) <= bound + 1e-12).all(), (kind, way, p, g)
    touch = rows["kind"] == "touch"
    for _, row in rows[touch].iterrows():
        beyond = "close_above" if row["direction"] == "up" else "close_below"
        close = (rows["kind"] == beyond) & np.isclose(rows["strike_usd"], row["strike_usd"])
        assert pred.loc[row.name, "prob_default"] >= pred.loc[close, "prob_default"].max() - 1e-12


def test_strikes_between_nodes_are_interpolated_not_stepped(store, fitted):
    """The staircase of issue 16: neighbouring strikes that straddle no node differ."""
    t = CUT + pd.Timedelta(days=3)
    rows = _ladder(store, t, 24.0, 6)
    features, maps = leverage_inputs(store, rows[["asset", "t"]].iloc[:1], fitted.features)
    pred = fitted.predict(rows, features, maps)
    above = pred.loc[rows["kind"] == "close_above", "prob_default"].to_numpy()
    assert (np.diff(above) < 0).all()


@pytest.mark.parametrize("name", ["default", "learned", "default_vol"])
def test_a_batched_ladder_answers_each_contract_as_alone(store, fitted, name):
    """``price_contracts`` (one model call per asset and time) gives every contract the
    forecast ``price_contract`` gives it alone: probability, band, components, inputs."""
    from levercast.experiments.learning.pricers import price_contracts
    from levercast.models.contracts import Contract
    from levercast.models.learned.pricer import LearnedPricer
    from levercast.models.pricing.price import price_contract

    pricer = LearnedPricer(name, fitted)
    t = CUT + pd.Timedelta(days=2, hours=5)
    view = store.at(t)
    spot = float(market_inputs(store, "BTC", pd.DatetimeIndex([t]))["spot_usd"].iloc[0])
    contracts = []
    for hours, k in [(24.0, 0.97), (24.0, 1.0), (24.0, 1.02), (4.0, 1.01), (200.0, 1.05)]:
        base = {"asset": "BTC", "start": t, "end": t + pd.Timedelta(hours=hours)}
        for kind in ("touch", "close_above", "close_below"):
            contracts.append(Contract.from_json({**base, "kind": kind, "strike_usd": spot * k}))
        lo, hi = spot * k * 0.99, spot * k * 1.01
        contracts.append(Contract.from_json({**base, "kind": "range", "lower_usd": lo,
                                             "upper_usd": hi}))  # fmt: skip
    batch = price_contracts(contracts, view, pricer=pricer)
    alone = [price_contract(c, view, pricer=pricer) for c in contracts]
    assert batch == alone
    assert {f.model for f in batch} == {name, "gbm"}  # 200 h lies outside the trained horizons


def test_price_each_puts_a_refused_contract_in_its_place(store, fitted):
    """``price_each`` (the scanner's batch): one model call for the contracts it can answer,
    and each refused contract's error in its own slot, the others answered as alone."""
    from levercast.experiments.learning.pricers import price_each
    from levercast.features.errors import ForecastError
    from levercast.models.contracts import Contract
    from levercast.models.learned.pricer import LearnedPricer
    from levercast.models.pricing.price import price_contract

    class Counting(LearnedPricer):
        calls = 0

        def price_many(self, requests):
            type(self).calls += 1
            return super().price_many(requests)

    pricer = Counting("default", fitted)
    t = CUT + pd.Timedelta(days=2, hours=5)
    view = store.at(t)
    spot = float(market_inputs(store, "BTC", pd.DatetimeIndex([t]))["spot_usd"].iloc[0])
    base = {"asset": "BTC", "start": t, "end": t + pd.Timedelta(hours=24)}
    good = [
        Contract.from_json({**base, "kind": kind, "strike_usd": spot * k})
        for kind in ("touch", "close_above") for k in (0.98, 1.03)
    ]  # fmt: skip
    refused = Contract.from_json({**base, "asset": "DOGE", "kind": "touch", "strike_usd": 1.0})
    contracts = [good[0], refused, *good[1:]]
    out = price_each(contracts, view, pricer=pricer)
    assert Counting.calls == 1
    assert isinstance(out[1], ForecastError) and "DOGE" in str(out[1])
    alone = [price_contract(c, view, pricer=pricer) for c in good]
    assert [out[0], *out[2:]] == alone


def test_node_shifts_of_the_other_models_families_are_skipped_without_changing_answers(
    store, monkeypatch
):
    """Without a logistic variant (walk-forward fits) the leverage model computes the z-node
    shifts of its own families only and the companion those of the others (``_routed`` reads
    no other): every probability equals the one computed with every class for both models."""
    from levercast.models.learned.forecaster import FittedForecaster

    fitted = fit_default(
        store, assets=("BTC",), cut=CUT, config=CONFIG, liquidations=False, logistic=False
    )
    assert fitted.companion is not None and fitted.logistic is None
    mine, theirs = fitted._families_answered()
    assert mine == {"terminal_beyond"} and "touch" in theirs
    t = CUT + pd.Timedelta(days=4, hours=3)
    rows = pd.concat([_ladder(store, t, h, 4) for h in (4.0, 24.0, 72.0)], ignore_index=True)
    features, maps = leverage_inputs(store, rows[["asset", "t"]].iloc[:1], fitted.features)
    skipped = fitted.predict(rows, features, maps)
    calls = []
    original = FittedForecaster._node_shifts

    def every_class(self, rows, features, maps, families=None):
        calls.append(families)
        return original(self, rows, features, maps, None)

    monkeypatch.setattr(FittedForecaster, "_node_shifts", every_class)
    full = fitted.predict(rows, features, maps)
    assert calls == [mine, theirs]
    pd.testing.assert_frame_equal(skipped, full, check_exact=True)
