"""Hand-computed cases of OI dominance (features.builders.dominance)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from levercast.features.builders.dominance import DAMPING, combine_components, long_share_series
from levercast.features.dataset.store import Store
from levercast.features.frame.frame import features_at
from tests.features._tables import T0, H, candles, funding, open_interest, ratios, write

HOURS = 48
CLOSE = 100.0 + (np.arange(HOURS) % 2)  # odd bars close up, even bars close down
UP = np.r_[False, CLOSE[1:] > CLOSE[:-1]]
COINS = 1_000.0 + np.cumsum(np.where(UP, 10.0, 30.0))  # +10 on up bars, +30 on down bars
FLOW = (12 * 10 - 12 * 30) / (12 * 10 + 12 * 30)  # = -0.5 over the 24 bars of (t-24h, t]
FUNDING = math.tanh((3e-4 - 1e-4) / 2e-4)


def _tables(with_ratios):
    tables = {
        "candles": candles(CLOSE),
        "open_interest": open_interest(COINS * CLOSE, oi_base=COINS),
        "funding": funding([1e-4] * 4 + [3e-4] * 3),  # 32h, 40h, 48h in (t-24h, t]
    }
    if with_ratios:
        tables["ratios"] = [
            ratios(np.full(HOURS, 1.5), "top_position_ratio"),
            ratios(np.full(HOURS, 3.0), "taker_buy_sell_ratio_1h"),
        ]
    return tables


def test_components_and_score_with_every_input(tmp_path):
    store = Store(write(tmp_path / "d", **_tables(True)))
    snap = features_at(store, "BTC", T0 + HOURS * H)
    f = snap.features
    assert f["dominance_top_trader"] == pytest.approx(0.5 / 2.5)
    assert f["dominance_taker"] == pytest.approx(0.5)
    assert f["dominance_oi_flow"] == pytest.approx(FLOW)
    assert f["dominance_funding"] == pytest.approx(FUNDING)
    score = 0.4 * 0.2 + 0.3 * 0.5 + 0.15 * FLOW + 0.15 * FUNDING
    assert f["oi_dominance_score"] == pytest.approx(score)
    assert f["oi_long_share"] == pytest.approx(0.5 + 0.5 * DAMPING * score)
    assert f["oi_dominance_inputs"] == 4.0
    assert snap.sources["top_trader_ratio"]["venue"] == "binance"


def test_score_renormalises_without_the_optional_ratios(tmp_path):
    store = Store(write(tmp_path / "d", **_tables(False)))
    snap = features_at(store, "BTC", T0 + HOURS * H)
    assert snap.features["oi_dominance_score"] == pytest.approx((FLOW + FUNDING) / 2)
    assert snap.features["oi_dominance_inputs"] == 2.0
    assert snap.missing["dominance_taker"] == "taker_ratio: ratios table absent from the dataset"


def test_score_nan_when_no_input(tmp_path):
    store = Store(write(tmp_path / "d", candles=candles(CLOSE)))
    snap = features_at(store, "BTC", T0 + HOURS * H)
    assert snap.features["oi_dominance_score"] is None
    assert snap.missing["oi_dominance_score"].startswith("no dominance input: ")
    assert snap.features["oi_dominance_inputs"] == 0.0


def test_oi_flow_nan_without_new_open_interest(tmp_path):
    tables = _tables(False)
    tables["open_interest"] = open_interest(np.full(HOURS, 1e9), oi_base=np.full(HOURS, 1e4))
    snap = features_at(Store(write(tmp_path / "d", **tables)), "BTC", T0 + HOURS * H)
    assert snap.missing["dominance_oi_flow"] == "no OI increase in the last 24h"


def test_long_share_series_per_bar_from_frames():
    tables = {
        "candles": candles(CLOSE),
        "open_interest": open_interest(COINS * CLOSE, oi_base=COINS),
    }
    share = long_share_series(tables, "BTC")
    assert share.name == "long_share"
    assert str(share.index.tz) == "UTC"
    assert len(share) == HOURS
    # bar 0 has no previous bar: neutral; then up bars 0.75, down bars 0.25
    assert share.iloc[0] == 0.5
    expected = np.where(UP[1:], 0.75, 0.25)
    np.testing.assert_allclose(share.to_numpy()[1:], expected)
    assert share.index[1] == T0 + H


def test_long_share_series_from_a_view_is_point_in_time(tmp_path):
    store = Store(write(tmp_path / "d", **_tables(False)))
    full = long_share_series(store.at(T0 + HOURS * H), "BTC")
    cut = long_share_series(store.at(T0 + 20 * H), "BTC")
    assert len(cut) == 20
    np.testing.assert_array_equal(full.to_numpy()[:20], cut.to_numpy())
    assert ((full >= 0.25) & (full <= 0.75)).all()


@pytest.mark.parametrize(
    ("components", "score", "used"),
    [
        (
            {"top_trader": [1.0], "taker": [np.nan], "oi_flow": [-1.0], "funding": [np.nan]},
            0.25 / 0.55,
            2,
        ),
        (
            {"top_trader": [np.nan], "taker": [np.nan], "oi_flow": [np.nan], "funding": [0.3]},
            0.3,
            1,
        ),
    ],
    ids=["two-inputs", "funding-only"],
)
def test_combine_components(components, score, used):
    got, n = combine_components({k: np.array(v) for k, v in components.items()})
    assert got[0] == pytest.approx(score)
    assert n[0] == used


def test_account_ratios_of_any_exchange_with_the_smallest_weight(tmp_path):
    tables = _tables(True)
    tables["ratios"] = [
        *tables["ratios"],
        ratios(np.full(HOURS, 4.0), "global_account_ratio", venue="okx"),  # 0.6
        ratios(np.full(HOURS - 3, 0.25), "global_account_ratio", venue="binance"),  # -0.6, stale
    ]
    snap = features_at(Store(write(tmp_path / "d", **tables)), "BTC", T0 + HOURS * H)
    f = snap.features
    assert f["dominance_account"] == pytest.approx(0.6)  # Binance stale: OKX serves
    assert snap.sources["account_ratio"]["venue"] == "okx"
    parts = {"top_trader": 0.2, "taker": 0.5, "oi_flow": FLOW, "funding": FUNDING, "account": 0.6}
    weights = {"top_trader": 0.4, "taker": 0.3, "oi_flow": 0.15, "funding": 0.15, "account": 0.1}
    score = sum(weights[k] * v for k, v in parts.items()) / sum(weights.values())
    assert f["oi_dominance_score"] == pytest.approx(score)
    assert f["oi_dominance_inputs"] == 5.0
