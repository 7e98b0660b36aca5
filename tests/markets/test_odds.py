from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levercast.features.errors import ConfigError
from levercast.markets.fees import KalshiFees, PolymarketFees
from levercast.markets.odds import compare, executable, quote_age_secs, walk_book
from levercast.markets.types import BookLevel, MarketQuote, OrderBook

T0 = datetime(2026, 1, 10, 12, tzinfo=UTC)
CRYPTO = PolymarketFees(rate=0.07, rebate_rate=0.2)
FREE = PolymarketFees(rate=0.0)


def book(bids, asks) -> OrderBook:
    return OrderBook(
        venue="polymarket",
        market_id="m",
        outcome="Yes",
        observed_at=T0,
        bids=tuple(BookLevel(p, s) for p, s in bids),
        asks=tuple(BookLevel(p, s) for p, s in asks),
    )


def quote(bid, ask, depth=None) -> MarketQuote:
    return MarketQuote(
        venue="polymarket", market_id="m", observed_at=T0, prob_bid=bid, prob_ask=ask, book=depth
    )


def test_walk_book_buys_best_asks_first():
    depth = book([(0.48, 10)], [(0.52, 10), (0.50, 10)])  # venue order is irrelevant
    execution = walk_book(depth, side="buy", size=15)
    assert execution.fills == ((0.50, 10), (0.52, 5))
    assert execution.complete and execution.average_price == pytest.approx((5 + 2.6) / 15)


def test_walk_book_sells_into_best_bids_and_reports_partial_fill():
    depth = book([(0.45, 5), (0.48, 10)], [(0.52, 10)])
    execution = walk_book(depth, side="sell", size=30)
    assert execution.fills == ((0.48, 10), (0.45, 5))
    assert not execution.complete and execution.filled == 15


def test_executable_without_book_uses_top_of_book():
    assert executable(quote(0.4, 0.6), side="buy", size=1000).average_price == 0.6
    assert executable(quote(None, 0.6), side="sell", size=1).average_price is None


def test_compare_hand_computed():
    signal = compare(
        0.60,
        0.55,
        0.65,
        quote(0.48, 0.52),
        fees=CRYPTO,
        size=100,
        margin=0.02,
        kelly_fraction_cap=0.05,
        kelly_multiplier=0.25,
    )
    fee = 0.07 * 0.52 * 0.48
    assert signal.price_yes == pytest.approx(0.52) and signal.fee_yes == pytest.approx(fee)
    assert signal.edge_yes == pytest.approx(0.60 - 0.52 - fee)
    assert signal.price_no == pytest.approx(0.52)
    assert signal.edge_no == pytest.approx(0.40 - 0.52 - fee)
    assert signal.side == "yes" and signal.edge == signal.edge_yes and signal.fee == signal.fee_yes
    cost = 0.52 + fee
    assert signal.kelly_fraction == pytest.approx(0.25 * (0.55 - cost) / (1 - cost))
    assert signal.prob_mid == pytest.approx(0.5) and signal.half_spread == pytest.approx(0.02)
    assert signal.flag


def test_uncertainty_shrinks_kelly_and_blocks_the_flag():
    signal = compare(0.60, 0.50, 0.70, quote(0.48, 0.52), fees=CRYPTO, size=100)
    assert signal.edge_yes > 0.02 and signal.kelly_fraction == 0.0 and not signal.flag


def test_kelly_is_capped():
    signal = compare(0.95, 0.94, 0.96, quote(0.10, 0.12), fees=FREE, kelly_fraction_cap=0.03)
    assert signal.kelly_fraction == 0.03


@pytest.mark.parametrize(
    ("forecast", "flag"),
    [(0.53, False), (0.56, True)],  # 0.03 - fee 0.0175 < margin 0.02; 0.06 - fee > 0.02
)
def test_flag_needs_edge_beyond_fees_spread_and_margin(forecast, flag):
    signal = compare(forecast, forecast, forecast, quote(0.49, 0.50), fees=CRYPTO, margin=0.02)
    assert signal.flag is flag


def test_buying_no_when_market_too_high():
    signal = compare(0.20, 0.15, 0.25, quote(0.40, 0.42), fees=KalshiFees(), size=10)
    assert signal.side == "no"
    assert signal.price_no == pytest.approx(0.60)
    assert signal.fee_no == pytest.approx(0.17 / 10)  # ceil(0.07*10*0.6*0.4 = 0.168) = $0.17
    assert signal.edge_no == pytest.approx(0.80 - 0.60 - 0.017)


def test_thin_book_is_not_executable_for_the_size():
    depth = book([(0.48, 5)], [(0.52, 5)])
    signal = compare(0.9, 0.85, 0.95, quote(0.48, 0.52, depth), fees=CRYPTO, size=10)
    assert signal.price_yes is None and signal.edge_yes is None and signal.side is None
    assert not signal.flag and signal.kelly_fraction == 0.0


def test_book_walk_edge_matches_a_slow_loop():
    depth = book([(0.47, 3), (0.45, 50)], [(0.53, 4), (0.55, 3), (0.58, 100)])
    signal = compare(0.7, 0.6, 0.8, quote(0.47, 0.53, depth), fees=CRYPTO, size=10)
    left, cost, fee = 10.0, 0.0, 0.0
    for price, size in [(0.53, 4), (0.55, 3), (0.58, 100)]:
        take = min(left, size)
        cost += price * take
        fee += round(0.07 * take * price * (1 - price), 5)
        left -= take
    assert signal.edge_yes == pytest.approx(0.7 - cost / 10 - fee / 10)


def test_quote_age():
    q = quote(0.4, 0.6)
    assert quote_age_secs(q, T0 + timedelta(minutes=2)) == 120.0
    signal = compare(0.5, 0.5, 0.5, q, fees=FREE, at=T0 + timedelta(seconds=30))
    assert signal.quote_age_secs == 30.0
    with pytest.raises(ConfigError, match="at must be tz-aware"):
        quote_age_secs(q, datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((1.2, 0.1, 0.9), {}, "forecast_prob must be within"),
        ((0.5, 0.6, 0.9), {}, "prob_lo <= forecast_prob <= prob_hi"),
        ((0.5, 0.4, 0.6), {"margin": -0.1}, "margin must be >= 0"),
        ((0.5, 0.4, 0.6), {"kelly_fraction_cap": 2.0}, "kelly_fraction_cap must be within"),
        ((0.5, 0.4, 0.6), {"size": 0}, "size must be a positive"),
    ],
)
def test_compare_validates(args, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        compare(*args, quote(0.4, 0.6), fees=FREE, **kwargs)


@given(
    prob=st.floats(0.01, 0.99),
    width=st.floats(0.0, 0.2),
    bid=st.integers(1, 97),
    spread=st.integers(1, 3),
)
def test_swapping_yes_and_no_mirrors_the_signal(prob, width, bid, spread):
    lo, hi = max(0.0, prob - width), min(1.0, prob + width)
    b, a = bid / 100, (bid + spread) / 100
    direct = compare(prob, lo, hi, quote(b, a), fees=CRYPTO, size=50)
    mirror = compare(
        1 - prob, 1 - hi, 1 - lo, quote(round(1 - a, 2), round(1 - b, 2)), fees=CRYPTO, size=50
    )
    assert direct.edge_yes == pytest.approx(mirror.edge_no, abs=1e-9)
    assert direct.edge_no == pytest.approx(mirror.edge_yes, abs=1e-9)
    assert direct.kelly_fraction == pytest.approx(mirror.kelly_fraction, abs=1e-9)
    assert 0.0 <= direct.kelly_fraction <= 0.05
