from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.labels.outcomes import label_contracts
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.contracts import Kind
from levercast.models.learned.contract_grid import (
    GRID_COLUMNS,
    contract_grid,
    to_contracts,
)
from levercast.models.pricing.market_state import market_inputs
from levercast.models.pricing.volatility import estimate_vol
from tests.conftest import make_dataset

T0 = pd.Timestamp("2024-02-01T00:00Z")


def _inputs(has_30m=False, vol=None):
    # vol chosen so that sigma * sqrt(h) = 0.1 for h = 24 h
    vol = vol if vol is not None else 0.1 / np.sqrt(24 / HOURS_PER_YEAR)
    return pd.DataFrame(
        {
            "asset": ["BTC"],
            "t": pd.DatetimeIndex([T0]),
            "spot_usd": [100.0],
            "vol_annual": [vol],
            "spot_venue": ["binance-usdm"],
            "has_30m": [has_30m],
        }
    )


def _one(frame, kind, z):
    rows = frame[(frame["kind"] == kind) & np.isclose(frame["z"], z)]
    assert len(rows) == 1
    return rows.iloc[0]


@pytest.mark.parametrize(
    ("kind", "z", "field", "expected"),
    [
        ("close_above", 0.75, "strike_usd", 100 * np.exp(0.075)),
        ("close_below", -1.5, "strike_usd", 100 * np.exp(-0.15)),
        ("touch", 1.5, "strike_usd", 100 * np.exp(0.15)),
        ("range", 0.0, "lower_usd", 100 * np.exp(-0.0375)),
        ("range", 0.0, "upper_usd", 100 * np.exp(0.0375)),
        ("first_of", 0.75, "lower_usd", 100 * np.exp((0.375 - 1.125) * 0.1)),
        ("first_of", 0.75, "upper_usd", 100 * np.exp((0.375 + 1.125) * 0.1)),
        ("move", 0.75, "threshold", np.expm1(0.075)),
        ("move", -1.5, "threshold", -np.expm1(-0.15)),
        ("move", 0.0, "threshold", np.expm1(0.1)),
    ],
    ids=lambda v: str(v),
)
def test_levels_by_hand(kind, z, field, expected):
    frame = contract_grid(_inputs(), horizons_hours=(24.0,))
    assert _one(frame, kind, z)[field] == pytest.approx(expected, rel=1e-12)


def test_grid_shape_and_directions():
    frame = contract_grid(_inputs(), horizons_hours=(24.0,))
    assert list(frame.columns) == list(GRID_COLUMNS)
    counts = frame["kind"].value_counts().to_dict()
    assert counts == {
        "touch": 4,
        "close_above": 5,
        "close_below": 5,
        "range": 5,
        "up_down": 1,
        "first_of": 5,
        "move": 5,
    }
    touch = frame[frame["kind"] == "touch"]
    assert set(touch.loc[touch["z"] > 0, "direction"]) == {"up"}
    assert set(touch.loc[touch["z"] < 0, "direction"]) == {"down"}
    assert (frame["end"] == T0 + pd.Timedelta(hours=24)).all()
    # adjacent ranges tile the ladder
    ranges = frame[frame["kind"] == "range"].sort_values("z")
    np.testing.assert_allclose(
        ranges["upper_usd"].to_numpy()[:-1], ranges["lower_usd"].to_numpy()[1:]
    )


@pytest.mark.parametrize(("has_30m", "expected"), [(False, {1.0}), (True, {0.5, 1.0})])
def test_30m_horizon_only_where_30m_bars_exist(has_30m, expected):
    frame = contract_grid(_inputs(has_30m=has_30m), horizons_hours=(0.5, 1.0))
    assert set(frame["horizon_hours"]) == expected


def test_rows_without_spot_or_vol_are_skipped():
    inputs = pd.concat([_inputs(), _inputs(vol=np.nan)], ignore_index=True)
    assert len(contract_grid(inputs, horizons_hours=(24.0,))) == 30


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kinds": ("liquidations_above",)}, "kinds must be among"),
        ({"horizons_hours": (0.0,)}, "horizons_hours must be positive"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        contract_grid(_inputs(), **kwargs)


def test_market_inputs_match_the_gbm_vol_and_are_point_in_time(tmp_path):
    store = Store(make_dataset(tmp_path / "d", hours=24 * 40))
    times = pd.date_range("2024-01-20T00:00Z", periods=5, freq="24h")
    inputs = market_inputs(store, "BTC", times)
    assert (inputs["spot_venue"] == "binance-usdm").all()
    for t, vol in zip(times, inputs["vol_annual"], strict=True):
        assert vol == pytest.approx(estimate_vol(store.at(t), "BTC").vol_annual, rel=0.01)
    # Truncation: rows known at t are the same whether later data exists or not.
    candles = pd.read_parquet(tmp_path / "d" / "candles.parquet")
    cut_dir = make_dataset(tmp_path / "cut", hours=24 * 40)
    candles[candles["available_at"] <= times[2]].to_parquet(
        cut_dir / "candles.parquet", index=False
    )
    cut = market_inputs(Store(cut_dir), "BTC", times[:3])
    pd.testing.assert_frame_equal(cut, inputs.iloc[:3])
    with pytest.raises(ConfigError, match="tz-aware"):
        market_inputs(store, "BTC", pd.date_range("2024-01-20", periods=2))


def test_to_contracts_are_labelled_by_the_outcome_reader(tmp_path):
    store = Store(make_dataset(tmp_path / "d", hours=24 * 40))
    times = pd.date_range("2024-01-20T00:00Z", periods=3, freq="24h")
    frame = contract_grid(market_inputs(store, "BTC", times), horizons_hours=(1.0, 24.0))
    contracts = to_contracts(frame)
    assert [c.kind.value for c in contracts] == frame["kind"].tolist()
    touch = next(c for c in contracts if c.kind is Kind.TOUCH and c.direction == "up")
    assert touch.resolution.price == "high" and touch.resolution.source == "binance-usdm"
    outcomes = label_contracts(store, contracts)
    assert all(o.value is not None for o in outcomes)
    values = np.array([o.value for o in outcomes])
    assert set(np.unique(values)) <= {0.0, 0.5, 1.0}
