"""Fee maths and the dated fee schedule (hand cases per venue and date)."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from levercast.features.errors import ConfigError
from levercast.markets.fees import (
    KalshiFees,
    PolymarketFees,
    fee,
    fee_schedule,
    fees_for_market,
    schedule_for,
)
from levercast.markets.types import VenueMarket

CRYPTO = PolymarketFees(rate=0.07, exponent=1.0, rebate_rate=0.2, rounding="floor")
# The Kalshi schedule of 2025-07-01 (KalshiFees() keeps it): fee and balance rounded up to cents.
KALSHI_2025 = KalshiFees()
KALSHI_NOW = KalshiFees.for_series("quadratic")  # six-decimal trade fee, direct member


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


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


def test_polymarket_fee_is_floored_to_five_decimals():
    # 0.07 * 0.37 * 0.63 = 0.016317: the venue floors to 0.00001 (NautilusTrader compute_commission)
    assert CRYPTO.taker_fee_usd(0.37, 1.0) == 0.01631


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
    assert KALSHI_NOW.maker_fee_usd(0.5, 100) == 0.0


def test_legacy_constructors_keep_their_rounding():
    # Hand-built models keep their pre-schedule behaviour (markets/odds.py tests pin it).
    assert PolymarketFees(rate=0.07).taker_fee_usd(0.37, 1.0) == round(0.07 * 0.37 * 0.63, 5)
    assert KalshiFees().taker_fee_usd(0.5, 1) == 0.02
    assert KALSHI_NOW.taker_fee_usd(0.5, 1) == 0.0175


def test_kalshi_order_rounds_once_over_its_fills():
    # 0.07 * (50*0.25 + 50*0.25) = 1.75 exactly; two separate rounded fills would give 1.76.
    assert KALSHI_2025.taker_fee_for_fills_usd([(0.5, 50), (0.5, 50)]) == 1.75
    assert KALSHI_2025.taker_fee_usd(0.5, 50) * 2 == 1.76


@given(ticks=st.integers(0, 1000), size=st.integers(0, 100_000))
def test_fees_symmetric_nonnegative_and_bounded(ticks, size):
    cents = ticks // 10 * 10  # the cent rule aligns balances to $0.01: whole-cent prices only
    for fees, t in ((CRYPTO, ticks), (KALSHI_NOW, ticks), (KALSHI_2025, cents)):
        price, mirror = t / 1000, (1000 - t) / 1000
        charged = fees.taker_fee_usd(price, size)
        assert charged >= 0.0 and math.isfinite(charged)
        assert charged == fees.taker_fee_usd(mirror, size)  # YES at p costs NO at 1 - p
        assert charged <= 0.07 * 0.25 * size + 0.01 + 1e-9


@given(price=st.floats(0.0, 1.0), size=st.floats(0.0, 1e5))
def test_kalshi_fee_is_ceiling_of_exact_formula(price, size):
    exact = 0.07 * size * price * (1 - price)
    for fees, slack in ((KALSHI_2025, 0.01), (KALSHI_NOW, 0.0001 + 0.000001)):
        charged = fees.taker_fee_usd(price, size)
        assert exact - 1e-9 <= charged
        assert charged == 0.0 or charged < exact + 2 * slack + 1e-9


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


# -- the dated schedule: hand cases per venue and date ------------------------------------------
@pytest.mark.parametrize(
    ("category", "at", "cadence", "price", "size", "expected"),
    [
        # Fee-free before 2026-01-06, whatever the category or cadence.
        ("crypto", utc(2025, 12, 31, 23), "15m", 0.5, 100, 0.0),
        # 15-minute crypto, Jan 2026, old formula C*p*0.25*(p(1-p))^2: 100*0.5*0.25*0.0625 =
        # 0.78125 -> 4 dp (the docs table rounds it to $0.78).
        ("crypto", utc(2026, 1, 20), "15m", 0.5, 100, 0.7812),
        ("crypto", utc(2026, 1, 20), "15m", 0.2, 10, 0.0128),  # 10*.2*.25*.0256 = 0.0128
        # A daily crypto market in January paid nothing (short crypto markets only) ...
        ("crypto", utc(2026, 1, 20), None, 0.5, 100, 0.0),
        # ... and from 2026-03-06 the old formula on every crypto market (grade C).
        ("crypto", utc(2026, 3, 10), "daily", 0.5, 100, 0.7812),
        # crypto_fees_v2 from 2026-03-30: 0.07*p(1-p) per share, floored to 5 dp.
        ("crypto", utc(2026, 3, 30), "15m", 0.5, 100, 1.75),
        ("crypto", utc(2026, 10, 3), None, 0.37, 1, 0.01631),
        ("crypto", utc(2026, 10, 3), None, 0.999, 1, 0.00006),  # 0.0000699 floored
        ("politics", utc(2026, 6, 1), None, 0.5, 100, 1.0),
        ("sports", utc(2026, 6, 1), None, 0.5, 100, 0.75),
        ("geopolitics", utc(2026, 6, 1), None, 0.5, 100, 0.0),
        ("politics", utc(2026, 2, 1), None, 0.5, 100, 0.0),
    ],
)
def test_polymarket_schedule_hand_cases(category, at, cadence, price, size, expected):
    assert fee("polymarket", category, at, price, size, cadence=cadence) == expected


@pytest.mark.parametrize(
    ("at", "price", "size", "member", "expected"),
    [
        # 1 contract at $0.50: model fee 0.0175.
        (utc(2026, 10, 1), 0.50, 1, "direct", 0.0175),
        (utc(2026, 10, 1), 0.50, 1, "non_direct", 0.02),
        (utc(2026, 6, 1), 0.50, 1, "direct", 0.0175),
        (utc(2026, 4, 1), 0.50, 1, "direct", 0.02),  # balances still aligned to the cent
        (utc(2025, 12, 1), 0.50, 1, "direct", 0.02),  # cent rule
        # Kalshi's own Fee Rounding example: 1 @ $0.055, model fee $0.00363825, trade fee
        # $0.003639; balance -$0.0587 (direct) or -$0.06 (non-direct).
        (utc(2026, 10, 1), 0.055, 1, "direct", 0.0037),
        (utc(2026, 10, 1), 0.055, 1, "non_direct", 0.005),
        (utc(2026, 10, 1), 0.43, 100, "direct", 1.7157),
        (utc(2026, 10, 1), 0.43, 100, "non_direct", 1.72),
        (utc(2025, 12, 1), 0.43, 100, "direct", 1.72),
    ],
)
def test_kalshi_schedule_hand_cases(at, price, size, member, expected):
    assert fee("kalshi", "crypto", at, price, size, member=member) == pytest.approx(expected)


def kalshi_market(**fields) -> VenueMarket:
    return VenueMarket(venue="kalshi", market_id="KXBTCD-X", question="q", **fields)


@pytest.mark.parametrize(
    ("fields", "taker", "maker"),
    [
        ({}, 1.7157, 0.0),  # plain quadratic series: makers pay nothing
        ({"fee_multiplier": 0.5}, 0.8579, 0.0),  # 0.857850 -> $0.8579 (direct)
        ({"fee_multiplier": 0.0}, 0.0, 0.0),
        ({"fee_category": "quadratic_with_maker_fees"}, 1.7157, 0.429),  # 0.428925 -> 0.4290
        ({"fee_category": "quadratic_with_combo_maker_fees"}, 1.7157, 0.8579),
        ({"fee_waiver_until": utc(2026, 12, 1)}, 0.0, 0.0),
    ],
)
def test_kalshi_series_fields_override_schedule(fields, taker, maker):
    at = utc(2026, 10, 1)
    market = kalshi_market(**fields)
    assert fee("kalshi", "crypto", at, 0.43, 100, market=market) == pytest.approx(taker)
    assert fee("kalshi", "crypto", at, 0.43, 100, market=market, taker=False) == pytest.approx(
        maker
    )


def test_kalshi_unknown_fee_type_is_refused():
    with pytest.raises(ConfigError, match=r"fee_type must be one of .* found 'flat'"):
        fees_for_market(kalshi_market(fee_category="flat"), at=utc(2026, 10, 1))


def pm_market(**fields) -> VenueMarket:
    return VenueMarket(venue="polymarket", market_id="0x1", question="q", **fields)


def test_polymarket_market_fields_override_the_current_row():
    market = pm_market(fee_rate=0.05, fee_exponent=1.0, maker_rebate_rate=0.15, category="sports")
    at = utc(2026, 9, 1)
    assert fee("polymarket", "sports", at, 0.5, 100, market=market) == 1.25  # sports_fees_v3
    assert fee("polymarket", "sports", at, 0.5, 100, market=market, taker=False) == pytest.approx(
        -0.15 * 1.25
    )
    disabled = pm_market(fee_rate=0.07, fees_enabled=False)
    assert fee("polymarket", "crypto", at, 0.5, 100, market=disabled) == 0.0


def test_polymarket_market_fields_do_not_rewrite_past_eras():
    # A market listed today with crypto_fees_v2 traded in Jan 2026: the dated row governs.
    market = pm_market(fee_rate=0.07, fee_exponent=1.0, cadence="15m", category="crypto")
    assert fee("polymarket", "crypto", utc(2026, 1, 20), 0.5, 100, market=market) == 0.7812
    assert fee("polymarket", "crypto", utc(2025, 11, 1), 0.5, 100, market=market) == 0.0


def test_new_markets_only_rows_keep_older_markets_on_their_creation_row():
    old = pm_market(category="politics", created_at=utc(2026, 3, 1))
    new = pm_market(category="politics", created_at=utc(2026, 4, 2))
    at = utc(2026, 5, 1)
    assert fee("polymarket", "politics", at, 0.5, 100, market=old) == 0.0
    assert fee("polymarket", "politics", at, 0.5, 100, market=new) == 1.0
    assert schedule_for("polymarket", "politics", at, created_at=utc(2026, 3, 1)).rate == 0.0


def test_schedule_rows_and_errors():
    assert schedule_for("polymarket", "crypto", utc(2026, 1, 20), cadence="15m").formula == (
        "polymarket_v0"
    )
    assert schedule_for("kalshi", "*", utc(2026, 10, 1)).id == "kalshi-six-decimal"
    with pytest.raises(ConfigError, match=r"at must be a tz-aware"):
        schedule_for("polymarket", "crypto", datetime(2026, 5, 1))
    with pytest.raises(ConfigError, match=r"category must have a polymarket fee schedule"):
        schedule_for("polymarket", "astrology", utc(2026, 5, 1))
    with pytest.raises(ConfigError, match=r"venue must be polymarket or kalshi"):
        schedule_for("binance", "crypto", utc(2026, 5, 1))


def test_schedule_file_is_consistent():
    entries = fee_schedule()
    assert fee_schedule() is entries  # loaded once
    raw = json.loads(
        resources.files("levercast.markets").joinpath("fee_schedule.json").read_text("utf-8")
    )
    assert [e.id for e in entries] == [r["id"] for r in raw["entries"]]
    for entry in entries:
        assert entry.effective_to is None or (
            entry.effective_from is None or entry.effective_from < entry.effective_to
        )
    # No two rows of the same key overlap in time.
    keys: dict[tuple, list] = {}
    for e in entries:
        keys.setdefault((e.venue, e.category, e.cadence), []).append(e)
    for rows in keys.values():
        rows.sort(key=lambda e: e.effective_from or utc(1970, 1, 1))
        for a, b in itertools.pairwise(rows):
            assert a.effective_to is not None and a.effective_to <= b.effective_from


@given(ticks=st.integers(0, 1000), size=st.integers(0, 10_000))
def test_per_share_fee_matches_rounded_fee(ticks, size):
    price = ticks / 1000
    for at, cadence in ((utc(2026, 1, 20), "15m"), (utc(2026, 6, 1), None)):
        entry = schedule_for("polymarket", "crypto", at, cadence=cadence)
        rounded = fee("polymarket", "crypto", at, price, size, cadence=cadence)
        assert rounded == pytest.approx(entry.taker_fee_per_share(price) * size, abs=1e-4)
