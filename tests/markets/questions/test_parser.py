from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.markets.questions.dates import parse_rules_window, parse_when
from levercast.markets.questions.parser import Parsed, Unsupported, parse_market, parse_question
from levercast.markets.types import VenueMarket
from levercast.models.contracts import Kind
from tests.conftest import RESOURCES

GOLDEN = RESOURCES / "parser_golden.json"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(text: str | None) -> str | None:
    """Normalise '...:00.123000Z' and '...:00Z' to second precision for comparison."""
    return None if text is None else text.replace("Z", "")[:19]


def contract_of(title: str, **kwargs) -> dict:
    parsed = parse_question(title, **kwargs)
    assert isinstance(parsed, Parsed), parsed
    return parsed.to_json_dict()["contract"] | {"yes_outcome": parsed.yes_outcome}


# -- golden table over the shared dataset -----
def test_golden_table_over_every_dataset_market(shared_store):
    from functools import partial

    from levercast.features.prices import highest_high
    from levercast.markets.dataset import parse_markets

    golden = {e["market_id"]: e for e in json.loads(GOLDEN.read_text())["markets"]}
    parsed = parse_markets(
        shared_store.read("markets"),
        shared_store.read("market_prices"),
        ath_usd=partial(highest_high, shared_store),
    )
    results = {r["market_id"]: r for r in parsed}
    assert set(results) == set(golden)
    wrong, exact, price_markets = [], 0, 0
    for market_id, entry in golden.items():
        got = results[market_id]
        if entry.get("unsupported"):
            assert "unsupported" in got, entry["question"]
            assert got["unsupported"].startswith("not a price question"), got
            continue
        price_markets += 1
        assert "contract" in got, (entry["question"], got)
        c, x = got["contract"], entry["expected"]
        assert (c["kind"], c["asset"], c["direction"]) == (x["kind"], x["asset"], x["direction"])
        strike_tol = 0.005 if "all time high" in entry["question"] else 1e-12
        for name in ("strike_usd", "lower_usd", "upper_usd"):
            if x[name] is None:
                assert c[name] is None, (entry["question"], name)
            else:
                assert c[name] == pytest.approx(x[name], rel=strike_tol), (entry["question"], name)
        assert c["resolution"]["source"] == x["source"]
        assert c["resolution"]["price"] == x["price"]
        assert got["yes_outcome"] == x["yes_outcome"]
        assert iso(c["start"]) == iso(x["start"]), entry["question"]
        if "known_deviation" in entry:  # documented: the parser's reading, not the truth
            assert iso(c["end"]) == iso(entry["parser_end"]) != iso(x["end"])
            wrong.append(entry["question"])
            continue
        assert iso(c["end"]) == iso(x["end"]), entry["question"]
        exact += 1
    assert price_markets == 774 and exact / price_markets >= 0.99
    assert len(wrong) == 4


# -- families, by hand ----------------------------------------------------------------------------
CASES = [
    pytest.param(
        "Will Bitcoin reach $110,000 by February 28, 2025?",
        {"created_at": utc(2025, 1, 31, 16)},
        ("touch", "BTC", "up", 110000.0, None, None, "2025-01-31T16:00:00", "2025-03-01T05:00:00"),
        id="reach-by-date",
    ),
    pytest.param(
        "Will Bitcoin dip to $80,000 in November?",
        {"at": utc(2025, 10, 20)},
        ("touch", "BTC", "down", 80000.0, None, None, "2025-11-01T04:00:00", "2025-12-01T05:00:00"),
        id="dip-in-month-dst",
    ),
    pytest.param(
        "Will Bitcoin dip to $90,000 November 24-30?",
        {"at": utc(2025, 11, 20)},
        ("touch", "BTC", "down", 90000.0, None, None, "2025-11-24T05:00:00", "2025-12-01T05:00:00"),
        id="day-span",
    ),
    pytest.param(
        "Will Bitcoin reach $120,000 December 29 - January 4?",
        {"at": utc(2025, 12, 20)},
        ("touch", "BTC", "up", 120000.0, None, None, "2025-12-29T05:00:00", "2026-01-05T05:00:00"),
        id="day-span-across-new-year",
    ),
    pytest.param(
        "Will the price of Bitcoin be above $94,000 on January 19?",
        {"created_at": utc(2026, 1, 12)},
        (
            "close_above",
            "BTC",
            None,
            94000.0,
            None,
            None,
            "2026-01-12T00:00:00",
            "2026-01-19T17:00:00",
        ),
        id="above-on-date-noon-et",
    ),
    pytest.param(
        "Will the price of Bitcoin be less than $93000 on Feb 28?",
        {"created_at": utc(2025, 2, 21)},
        (
            "close_below",
            "BTC",
            None,
            93000.0,
            None,
            None,
            "2025-02-21T00:00:00",
            "2025-02-28T17:00:00",
        ),
        id="less-than-bucket",
    ),
    pytest.param(
        "Will the price of Bitcoin be greater than $103000 on Feb 28?",
        {"created_at": utc(2025, 2, 21)},
        (
            "close_above",
            "BTC",
            None,
            103000.0,
            None,
            None,
            "2025-02-21T00:00:00",
            "2025-02-28T17:00:00",
        ),
        id="greater-than-bucket",
    ),
    pytest.param(
        "Will the price of Ethereum be between $3,000 and $3,200 on July 4?",
        {"created_at": utc(2025, 6, 28)},
        ("range", "ETH", None, None, 3000.0, 3200.0, "2025-06-28T00:00:00", "2025-07-04T16:00:00"),
        id="between-range-edt",
    ),
    pytest.param(
        "Will Bitcoin hit $150k by December 31?",
        {"created_at": utc(2025, 8, 7)},
        ("touch", "BTC", "up", 150000.0, None, None, "2025-08-07T00:00:00", "2026-01-01T05:00:00"),
        id="k-suffix-yearless",
    ),
    pytest.param(
        "Will DOGE hit 69¢ by Inauguration Day?",
        {"at": utc(2024, 11, 21)},
        ("touch", "DOGE", "up", 0.69, None, None, "2024-11-21T00:00:00", "2025-01-21T05:00:00"),
        id="cents-named-day",
    ),
    pytest.param(
        "Will Solana hit $300 by Wednesday?",
        {"created_at": utc(2025, 2, 25, 16)},  # a Tuesday
        ("touch", "SOL", "up", 300.0, None, None, "2025-02-25T16:00:00", "2025-02-27T05:00:00"),
        id="weekday",
    ),
    pytest.param(
        "Will XRP reach $3.20 by February 28 2025? 1",
        {"created_at": utc(2025, 1, 31)},
        ("touch", "XRP", "up", 3.2, None, None, "2025-01-31T00:00:00", "2025-03-01T05:00:00"),
        id="trailing-junk",
    ),
    pytest.param(
        "Will Hyperliquid hit $70 in 2025?",
        {"at": utc(2025, 9, 5)},
        ("touch", "HYPE", "up", 70.0, None, None, "2025-01-01T05:00:00", "2026-01-01T05:00:00"),
        id="in-year",
    ),
    pytest.param(
        "Bitcoin Up or Down - January 10, 8:30PM-8:45PM ET",
        {"end_date": utc(2026, 1, 11, 1, 45)},
        ("up_down", "BTC", None, None, None, None, "2026-01-11T01:30:00", "2026-01-11T01:45:00"),
        id="updown-15m",
    ),
    pytest.param(
        "Bitcoin Up or Down - January 10, 11:45PM-12:00AM ET",
        {"end_date": utc(2026, 1, 11, 5)},
        ("up_down", "BTC", None, None, None, None, "2026-01-11T04:45:00", "2026-01-11T05:00:00"),
        id="updown-crosses-midnight",
    ),
    pytest.param(
        "Bitcoin Up or Down on February 7?",
        {"at": utc(2026, 2, 6)},
        ("up_down", "BTC", None, None, None, None, "2026-02-06T17:00:00", "2026-02-07T17:00:00"),
        id="updown-daily",
    ),
    pytest.param(
        "Will Bitcoin hit $80k or $150k first?",
        {"created_at": utc(2025, 3, 1)},
        ("first_of", "BTC", None, None, 80000.0, 150000.0, "2025-03-01T00:00:00", None),
        id="first-of",
    ),
]


@pytest.mark.parametrize(("title", "kwargs", "expected"), CASES)
def test_families(title, kwargs, expected):
    c = contract_of(title, **kwargs)
    got = (
        c["kind"],
        c["asset"],
        c["direction"],
        c["strike_usd"],
        c["lower_usd"],
        c["upper_usd"],
        iso(c["start"]),
        iso(c["end"]),
    )
    assert got == expected


@pytest.mark.parametrize(
    ("title", "kwargs", "source", "price", "extra"),
    [
        (
            "Will Bitcoin dip to $80,000 in January?",
            {"at": utc(2026, 1, 2)},
            "binance-spot",
            "low",
            {"symbol": "BTCUSDT", "interval": "1m"},
        ),
        (
            "Bitcoin above $97,000 on January 10?",
            {"at": utc(2025, 1, 4)},
            "binance-spot",
            "close",
            {},
        ),
        (
            "Bitcoin Up or Down - January 10, 8:30PM-8:45PM ET",
            {"at": utc(2026, 1, 10)},
            "chainlink",
            "close",
            {"tie_value": 1.0},
        ),
        (
            "Bitcoin Up or Down - January 10, 8PM ET",
            {"at": utc(2026, 1, 10)},
            "binance-spot",
            "close",
            {"interval": "1h", "tie_value": 1.0},
        ),
        (
            "Bitcoin Up or Down on February 7?",
            {"at": utc(2026, 2, 6)},
            "binance-spot",
            "close",
            {"tie_value": 0.5},
        ),
        (
            "Will Bitcoin hit $80k or $150k first?",
            {"at": utc(2025, 3, 1)},
            "binance-spot",
            "close",
            {"neither_value": 0.5},
        ),
        (
            "Will Hyperliquid hit $100 in 2025?",
            {"at": utc(2025, 7, 1)},
            "binance-usdm",
            "high",
            {"symbol": "HYPEUSDT"},
        ),
    ],
)
def test_resolution_rules(title, kwargs, source, price, extra):
    resolution = contract_of(title, **kwargs)["resolution"]
    assert (resolution["source"], resolution["price"]) == (source, price)
    for key, value in extra.items():
        assert resolution[key] == value


@pytest.mark.parametrize(
    ("title", "outcomes", "yes"),
    [
        ("Will Bitcoin hit $90k or $100k first?", ("90k", "100k"), "100k"),
        ("Will Bitcoin hit $100k or $90k first?", ("100k", "90k"), "100k"),
        ("Will Bitcoin hit $80k or $150k first?", None, "150k"),
        ("Bitcoin Up or Down on February 7?", ("Up", "Down"), "Up"),
        ("Will Bitcoin dip to $80,000 in January?", ("Yes", "No"), "Yes"),
    ],
)
def test_yes_outcome(title, outcomes, yes):
    parsed = parse_question(title, at=utc(2026, 1, 1), outcomes=outcomes)
    assert isinstance(parsed, Parsed) and parsed.yes_outcome == yes


def test_yes_outcome_missing_from_venue_outcomes_is_unsupported():
    parsed = parse_question(
        "Bitcoin Up or Down on February 7?", at=utc(2026, 2, 6), outcomes=("Yes", "No")
    )
    assert isinstance(parsed, Unsupported) and "Up" in parsed.reason


# -- dates and references -----
@pytest.mark.parametrize(
    ("kwargs", "end"),
    [
        ({"created_at": utc(2025, 6, 1)}, "2026-01-01T05:00:00"),
        ({"created_at": utc(2026, 1, 1, 4, 59)}, "2026-01-01T05:00:00"),  # 23:59 ET, same day
        ({"created_at": utc(2026, 1, 1, 5, 1)}, "2027-01-01T05:00:00"),  # just after: next year
        ({"end_date": utc(2025, 12, 31, 12), "at": utc(2024, 12, 31)}, "2026-01-01T05:00:00"),
        ({"at": utc(2024, 3, 1)}, "2025-01-01T05:00:00"),
        ({"created_at": utc(2025, 6, 1), "at": utc(2030, 1, 1)}, "2026-01-01T05:00:00"),
    ],
)
def test_yearless_date_follows_created_at_then_end_date_then_at(kwargs, end):
    assert iso(contract_of("Will Bitcoin reach $200,000 by December 31?", **kwargs)["end"]) == end


def test_yearless_date_without_any_reference_is_unsupported():
    parsed = parse_question("Will Bitcoin reach $200,000 by December 31?")
    assert isinstance(parsed, Unsupported) and "time phrase" in parsed.reason


def test_explicit_year_without_start_is_unsupported():
    parsed = parse_question("Will Bitcoin reach $110,000 by February 28, 2025?")
    assert isinstance(parsed, Unsupported) and "window start unknown" in parsed.reason


def test_window_over_before_start_is_unsupported():
    parsed = parse_question("Will Bitcoin reach $110,000 by February 28, 2025?", at=utc(2026, 1, 1))
    assert isinstance(parsed, Unsupported) and parsed.reason.startswith("invalid contract")


def test_period_starts_at_listing_when_listed_during_it():
    c = contract_of("Will Bitcoin reach $130,000 in November?", created_at=utc(2025, 11, 5, 15))
    assert iso(c["start"]) == "2025-11-05T15:00:00"


RULES_TOUCH = (
    'This market will immediately resolve to "Yes" if any Binance 1 minute candle for Bitcoin '
    "(BTCUSDT) between February 28, 13:00 and March 31, 2025, 23:59 in the ET timezone has a "
    'final "Low" price of $50,000 or lower.'
)
RULES_FIXING = (
    'This market will resolve to "Yes" if the Binance 1 minute candle for SOLUSDT 07 Mar \'25 '
    "12:00 in the ET timezone (noon) has a final “Close” price of 145.01 or higher."
)
RULES_DAILY = (
    'This market will resolve to "Up" if the "Close" price for the Binance 1 minute candle for '
    'BTC/USDT Feb 6 \'26 12:00 in the ET timezone (noon) is lower than the final "Close" price '
    "for the Feb 7 '26 12:00 ET candle. If ... exactly equal on Binance, this market will "
    "resolve 50-50."
)


def test_rules_window_wins_over_title():
    c = contract_of(
        "Will Bitcoin dip to $50,000 by March 31?", rules=RULES_TOUCH, end_date=utc(2025, 3, 31)
    )
    assert (iso(c["start"]), iso(c["end"])) == ("2025-02-28T18:00:00", "2025-04-01T04:00:00")


def test_rules_fixing_sets_the_year():
    c = contract_of("Solana above $145 on March 7?", rules=RULES_FIXING, at=utc(2025, 3, 1))
    assert iso(c["end"]) == "2025-03-07T17:00:00"


def test_rules_daily_up_down_candles():
    c = contract_of("Bitcoin Up or Down on February 7?", rules=RULES_DAILY, at=utc(2026, 2, 6))
    assert (iso(c["start"]), iso(c["end"])) == ("2026-02-06T17:00:00", "2026-02-07T17:00:00")


def test_rules_window_missing_is_none():
    assert parse_rules_window("no window here") is None


@pytest.mark.parametrize(
    ("phrase", "start", "end"),
    [
        ("in q1 2025", "2025-01-01T05:00:00", "2025-04-01T04:00:00"),
        ("before 2026", None, "2026-01-01T05:00:00"),
        ("by the end of 2025", None, "2026-01-01T05:00:00"),
        ("before march 1, 2025", None, "2025-03-01T05:00:00"),
        ("on march 7, 2025 at 4pm et", None, "2025-03-07T21:00:00"),
    ],
)
def test_time_phrases(phrase, start, end):
    window = parse_when(phrase, reference=None)
    assert window is not None
    assert iso(window.start.isoformat() if window.start else None) == start
    assert iso(window.end.isoformat()) == end


# -- all-time highs -----
def test_ath_needs_a_lookup():
    parsed = parse_question("Bitcoin all time high by January 31?", at=utc(2024, 12, 31))
    assert isinstance(parsed, Unsupported) and "all-time-high" in parsed.reason


def test_ath_strike_from_lookup_at_window_start():
    seen = []

    def lookup(asset, t):
        seen.append((asset, t))
        return 108353.0

    c = contract_of("Bitcoin all time high by January 31?", at=utc(2024, 12, 31), ath_usd=lookup)
    assert (c["kind"], c["direction"], c["strike_usd"]) == ("touch", "up", 108353.0)
    assert seen == [("BTC", utc(2024, 12, 31))]


# -- non-price questions -----
@pytest.mark.parametrize(
    ("title", "topic"),
    [
        ("Rabby airdrop in Q1 2025?", "airdrop"),
        ("Will MicroStrategy hold 500k+ BTC before March?", "holdings"),
        ("Will Bybit buy >$1b ETH by next Friday?", "holdings"),
        ("Will only OP_CTV be activated in 2025?", "protocol upgrade"),
        ("Will Kanye launch a coin in February?", "token launch"),
        ('Will Donald Trump say "Crypto" or "Bitcoin" during his presser?', "says"),
        ("Who will win the election?", "no asset price"),
    ],
)
def test_non_price_questions_are_unsupported_with_a_reason(title, topic):
    parsed = parse_question(title, at=utc(2025, 2, 1))
    assert isinstance(parsed, Unsupported) and topic in parsed.reason


# -- Kalshi -----
def kalshi(**fields) -> VenueMarket:
    base = {
        "venue": "kalshi",
        "market_id": "KXBTCD-25SEP2117-T115749.99",
        "question": "Bitcoin price on Sep 21, 2025 at 5pm EDT?",
        "series_ticker": "KXBTCD",
        "created_at": utc(2025, 9, 20, 21),
        "close_time": utc(2025, 9, 21, 21),
        "strike_type": "greater",
        "floor_strike": 115749.99,
    }
    return VenueMarket(**(base | fields))


@pytest.mark.parametrize(
    ("fields", "kind", "strikes"),
    [
        ({}, Kind.CLOSE_ABOVE, (115749.99, None, None)),
        ({"strike_type": "greater_or_equal"}, Kind.CLOSE_ABOVE, (115749.99, None, None)),
        (
            {"strike_type": "less", "floor_strike": None, "cap_strike": 110000.0},
            Kind.CLOSE_BELOW,
            (110000.0, None, None),
        ),
        (
            {
                "series_ticker": "KXBTC",
                "strike_type": "between",
                "floor_strike": 115750.0,
                "cap_strike": 115999.99,
            },
            Kind.RANGE,
            (None, 115750.0, 116000.0),
        ),
        (
            {"series_ticker": "KXETHD", "floor_strike": 4500.0},
            Kind.CLOSE_ABOVE,
            (4500.0, None, None),
        ),
    ],
)
def test_kalshi_from_strike_fields(fields, kind, strikes):
    parsed = parse_market(kalshi(**fields))
    assert isinstance(parsed, Parsed) and parsed.yes_outcome == "Yes"
    c = parsed.contract
    assert c.kind is kind and (c.strike_usd, c.lower_usd, c.upper_usd) == strikes
    assert c.end == utc(2025, 9, 21, 21)
    assert (c.resolution.price, c.resolution.average_secs) == ("average", 60)
    assert c.resolution.source == ("cf-brti" if c.asset == "BTC" else "cf-rti")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"series_ticker": "KXSPACEX"}, "not a supported crypto price series"),
        ({"strike_type": "functional"}, "not supported"),
        ({"close_time": None}, "close_time"),
        ({"strike_type": "between", "cap_strike": None}, "cap_strike"),
        ({"created_at": None}, "window start unknown"),
    ],
)
def test_kalshi_unsupported(fields, reason):
    parsed = parse_market(kalshi(**fields))
    assert isinstance(parsed, Unsupported) and reason in parsed.reason


def test_kalshi_reference_time_is_the_start_without_created_at():
    parsed = parse_market(kalshi(created_at=None), reference_time=utc(2025, 9, 21))
    assert isinstance(parsed, Parsed) and parsed.contract.start == utc(2025, 9, 21)


# -- fuzz -----
_PIECES = st.sampled_from(
    [
        "Will",
        "Bitcoin",
        "Ethereum",
        "DOGE",
        "reach",
        "dip to",
        "hit",
        "above",
        "less than",
        "between",
        "and",
        "or",
        "first",
        "$80k",
        "$1,000",
        "$0.5",
        "69¢",
        "$",
        "by",
        "in",
        "on",
        "December 31",
        "November 24-30",
        "Feb 30",
        "2025",
        "Q5",
        "Up or Down -",
        "8:30PM-8:45PM ET",
        "13:75PM",
        "all time high",
        "Wednesday",
        "?",
        "-",
        ",",
        "0",
        "99999999999999999999",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(_PIECES, max_size=12),
    noise=st.text(max_size=20),
    created=st.none()
    | st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
)
def test_fuzz_titles_never_crash(words, noise, created):
    title = " ".join(words) + noise
    result = parse_question(title, created_at=created, rules=noise)
    assert isinstance(result, Parsed | Unsupported)
    if isinstance(result, Parsed):
        c = result.contract
        assert c.end is None or c.end > c.start
        assert all(v is None or v > 0 for v in (c.strike_usd, c.lower_usd, c.upper_usd))
