from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levercast.features.errors import ConfigError
from levercast.markets.fees import KalshiFees, PolymarketFees, fees_for_market
from levercast.markets.types import VenueMarket

CRYPTO = PolymarketFees(rate=0.07, exponent=1.0, rebate_rate=0.2)


# METHODS.md §3.1: fee in probability points of the $1 payout at taker rate 0.07.
@pytest.mark.parametrize(
    ("price", "points"),
    [(0.05, 0.33), (0.10, 0.63), (0.30, 1.47), (0.50, 1.75), (0.70, 1.47), (0.90, 0.63)],
)
def test_polymarket_crypto_fee_table(price, points):
    fee_per_share = CRYPTO.taker_fee_usd(price, 100.0) / 100.0
    assert round(100 * fee_per_share, 2) == points


def test_polymarket_peak_is_175_bps_of_payout():
    assert CRYPTO.taker_fee_usd(0.5, 100.0) == 1.75


def test_polymarket_fee_rounds_to_five_decimals():
    assert CRYPTO.taker_fee_usd(0.37, 1.0) == round(0.07 * 0.37 * 0.63, 5)


def test_polymarket_exponent_from_schedule():
    fees = PolymarketFees.from_fee_schedule(
        {"rate": "0.25", "exponent": "2", "takerOnly": True, "rebateRate": "0.2"}
    )
    assert fees.taker_fee_usd(0.5, 100.0) == pytest.approx(100 * 0.25 * 0.25**2)


def test_polymarket_maker_gets_rebate_share():
    assert CRYPTO.maker_fee_usd(0.5, 100.0) == pytest.approx(-0.2 * 1.75)
    not_taker_only = PolymarketFees(rate=0.07, taker_only=False)
    assert not_taker_only.maker_fee_usd(0.5, 100.0) == 1.75


def test_polymarket_fills_charged_per_level():
    fills = [(0.5, 10.0), (0.6, 5.0)]
    assert CRYPTO.taker_fee_for_fills_usd(fills) == pytest.approx(
        CRYPTO.taker_fee_usd(0.5, 10.0) + CRYPTO.taker_fee_usd(0.6, 5.0)
    )


# Kalshi published examples (2025-07-01 schedule; agentbets/capitola tables).
@pytest.mark.parametrize(
    ("price", "contracts", "taker", "maker"),
    [
        (0.50, 1, 0.02, 0.01),
        (0.50, 100, 1.75, 0.44),
        (0.05, 100, 0.34, 0.09),
        (0.10, 100, 0.63, 0.16),
        (0.25, 100, 1.32, 0.33),
        (0.75, 100, 1.32, 0.33),
        (0.90, 1, 0.01, 0.01),
    ],
)
def test_kalshi_published_examples(price, contracts, taker, maker):
    fees = KalshiFees(maker_fees=True)
    assert fees.taker_fee_usd(price, contracts) == taker
    assert fees.maker_fee_usd(price, contracts) == maker


def test_kalshi_maker_free_outside_designated_series():
    assert KalshiFees().maker_fee_usd(0.5, 100) == 0.0


def test_kalshi_order_rounds_once_over_its_fills():
    fees = KalshiFees()
    # 0.07 * (50*0.25 + 50*0.25) = 1.75 exactly; two separate rounded fills would give 1.76.
    assert fees.taker_fee_for_fills_usd([(0.5, 50), (0.5, 50)]) == 1.75
    assert fees.taker_fee_usd(0.5, 50) * 2 == 1.76


@given(ticks=st.integers(0, 1000), size=st.integers(0, 100_000))
def test_fees_symmetric_nonnegative_and_bounded(ticks, size):
    price, mirror = ticks / 1000, (1000 - ticks) / 1000
    for fees in (CRYPTO, KalshiFees()):
        fee = fees.taker_fee_usd(price, size)
        assert fee >= 0.0 and math.isfinite(fee)
        assert fee == fees.taker_fee_usd(mirror, size)  # YES at p costs what NO at 1 - p costs
        assert fee <= 0.07 * 0.25 * size + 0.01 + 1e-9


@given(price=st.floats(0.0, 1.0), size=st.floats(0.0, 1e5))
def test_kalshi_fee_is_ceiling_of_exact_formula(price, size):
    exact = 0.07 * size * price * (1 - price)
    fee = KalshiFees().taker_fee_usd(price, size)
    assert exact - 1e-9 <= fee < exact + 0.01 + 1e-9


@pytest.mark.parametrize(
    ("price", "size", "match"),
    [(1.2, 1.0, "price must be a probability"), (0.5, -1.0, "size must be >= 0")],
)
def test_fee_inputs_validated(price, size, match):
    with pytest.raises(ConfigError, match=match):
        CRYPTO.taker_fee_usd(price, size)
    with pytest.raises(ConfigError, match=match):
        KalshiFees().taker_fee_usd(price, size)


def test_bad_schedule_names_the_field():
    with pytest.raises(ConfigError, match="feeSchedule must hold a numeric 'rate'"):
        PolymarketFees.from_fee_schedule({"exponent": 1})
    with pytest.raises(ConfigError, match="rate must be within"):
        PolymarketFees(rate=1.5)


def test_fees_for_market_uses_per_market_parameters():
    market = VenueMarket(
        venue="polymarket",
        market_id="0x1",
        question="q",
        fee_rate=0.03,
        fee_exponent=1.0,
        maker_rebate_rate=0.25,
    )
    fees = fees_for_market(market)
    assert isinstance(fees, PolymarketFees) and (fees.rate, fees.rebate_rate) == (0.03, 0.25)
    assert isinstance(
        fees_for_market(VenueMarket(venue="kalshi", market_id="K", question="q")), KalshiFees
    )


def test_fees_for_market_fallback():
    market = VenueMarket(venue="polymarket", market_id="0x1", question="q")
    assert fees_for_market(market).taker_fee_usd(0.5, 100) == 1.75  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="no fee parameters"):
        fees_for_market(market, fallback_rate=None)
