from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.errors import ConfigError
from levercast.markets.questions.kalshi_titles import read_subtitle
from levercast.markets.questions.parser import Parsed, Unsupported, parse_question
from tests.conftest import RESOURCES

TABLE = json.loads((RESOURCES / "typed_questions.json").read_text())
AT = datetime.fromisoformat(TABLE["at"])
_NULLABLE = ("direction", "strike_usd", "lower_usd", "upper_usd", "threshold", "side")


def _ask(entry: dict) -> Parsed | Unsupported:
    at = datetime.fromisoformat(entry.get("at", TABLE["at"]))
    return parse_question(
        entry["q"], at=at, subtitle=entry.get("subtitle"), assets=entry.get("assets")
    )


def _id(entry: dict) -> str:
    return entry["q"] + (f" [{entry['subtitle']}]" if entry.get("subtitle") else "")


PARSED = [e for e in TABLE["questions"] if "expect" in e]
UNSUPPORTED = [e for e in TABLE["questions"] if "unsupported" in e]


def test_table_size():
    assert len(TABLE["questions"]) >= 80
    assert len(UNSUPPORTED) >= 15
    assert len(PARSED) >= 65


@pytest.mark.parametrize("entry", PARSED, ids=[_id(e) for e in PARSED])
def test_typed_question_contract(entry):
    parsed = _ask(entry)
    assert isinstance(parsed, Parsed), parsed
    got, want = parsed.contract.to_json_dict(), entry["expect"]
    assert (got["kind"], got["asset"]) == (want["kind"], want["asset"])
    for name in _NULLABLE:
        if isinstance(want.get(name), float | int):
            assert got[name] == pytest.approx(want[name], rel=1e-12), name
        else:
            assert got[name] == want.get(name), name
    assert got["end"] == want["end"]
    for name in ("start", "monitoring"):
        if name in want:
            assert got[name] == want[name], name
    if "source" in want:
        assert got["resolution"]["source"] == want["source"]
    if "yes" in want:
        assert parsed.yes_outcome == want["yes"]
    assert parsed.assumptions, "a typed question states the conventions it used"


@pytest.mark.parametrize("entry", UNSUPPORTED, ids=[_id(e) for e in UNSUPPORTED])
def test_typed_question_unsupported(entry):
    parsed = _ask(entry)
    assert isinstance(parsed, Unsupported), parsed
    assert entry["unsupported"] in parsed.reason


# -- the five design questions, with the conventions they name ------------------------------------
@pytest.mark.parametrize(
    ("question", "fragments"),
    [
        ("Will Bitcoin's price touch $60,000 before the end of the week?", ["Sunday", "23:59:59"]),
        ("Will BTC touch $60k this week?", ["Monday 00:00 ET to Sunday 23:59:59 ET", "no side"]),
        ("BTC above $100k on Friday?", ["12:00 ET fixing", "1-minute candle close"]),
        (
            "Will ETH experience a price swing of more than 5% in the next 24 hours?",
            ["elapsed time", "at any time in the window", "either way"],
        ),
        (
            "Will total crypto long liquidations exceed $500M tomorrow?",
            ["asset ALL", "side long", "ET day"],
        ),
    ],
)
def test_design_questions_name_their_assumptions(question, fragments):
    parsed = parse_question(question, at=AT)
    assert isinstance(parsed, Parsed)
    text = " | ".join(parsed.assumptions)
    for fragment in fragments:
        assert fragment in text


def test_json_form_with_assumptions_on_request():
    parsed = parse_question("Will BTC touch $60k this week?", at=AT)
    assert set(parsed.to_json_dict()) == {"contract", "yes_outcome"}
    doc = parsed.to_json_dict(include_assumptions=True)
    assert set(doc) == {"contract", "yes_outcome", "assumptions"}
    assert doc["assumptions"] == list(parsed.assumptions)
    assert doc["contract"]["end"] == "2026-04-20T04:00:00Z"
    unsupported = parse_question("Will BTC touch $60k soon?", at=AT)
    assert set(unsupported.to_json_dict(include_assumptions=True)) == {"unsupported"}


def test_venue_title_keeps_its_reading_and_names_it():
    parsed = parse_question("Will Bitcoin reach $150,000 by December 31?", at=AT)
    assert isinstance(parsed, Parsed)
    assert parsed.contract.direction == "up"
    assert any("Polymarket title" in a for a in parsed.assumptions)
    assert any("without a year" in a for a in parsed.assumptions)


def test_rules_text_means_no_assumptions():
    rules = (
        'This market will resolve to "Yes" if the Binance 1 minute candle for SOLUSDT 07 Mar '
        "'25 12:00 in the ET timezone (noon) has a final Close price of 145.01 or higher."
    )
    parsed = parse_question(
        "Solana above $145 on March 7?", rules=rules, at=datetime(2025, 3, 1, tzinfo=UTC)
    )
    assert isinstance(parsed, Parsed) and parsed.assumptions == ()


def test_typed_question_needs_the_time_asked():
    parsed = parse_question("Will BTC touch $60k this week?")
    assert isinstance(parsed, Unsupported) and "this week" in parsed.reason


def test_created_at_stands_in_for_at():
    parsed = parse_question("Will BTC touch $60k by Sunday?", created_at=AT)
    assert isinstance(parsed, Parsed)
    assert parsed.contract.start == AT


@pytest.mark.parametrize("name", ["at", "created_at", "end_date"])
def test_naive_times_are_refused(name):
    with pytest.raises(ConfigError, match=f"{name} must be tz-aware"):
        parse_question("Will BTC touch $60k this week?", **{name: datetime(2026, 4, 15)})


@pytest.mark.parametrize("assets", ["BTC", ["BTC", "X-Y"], [3]])
def test_assets_must_be_tickers(assets):
    with pytest.raises(ConfigError, match="assets must"):
        parse_question("Will BTC touch $60k this week?", at=AT, assets=assets)


def test_store_assets_extend_the_names():
    question = "Will AVAX touch $50 this week?"
    assert isinstance(parse_question(question, at=AT), Unsupported)
    parsed = parse_question(question, at=AT, assets=("AVAX", "BTC"))
    assert isinstance(parsed, Parsed) and parsed.contract.asset == "AVAX"


def test_subtitle_ignored_when_the_title_has_its_level():
    parsed = parse_question("Will BTC touch $60k this week?", at=AT, subtitle="$70,000 or above")
    assert isinstance(parsed, Parsed) and parsed.contract.strike_usd == 60000
    assert "ignored" in parsed.assumptions[-1]


def test_all_time_high_with_a_lookup():
    seen = []

    def lookup(asset, t):
        seen.append((asset, t))
        return 126_000.0

    question = "Will Bitcoin hit a new all-time high this week?"
    parsed = parse_question(question, at=AT, ath_usd=lookup)
    assert isinstance(parsed, Parsed)
    c = parsed.contract
    assert (c.kind.value, c.direction, c.strike_usd) == ("touch", "up", 126_000.0)
    assert seen == [("BTC", datetime(2026, 4, 13, 4, tzinfo=UTC))]


# -- Kalshi ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("subtitle", "expected"),
    [
        ("$97,250 or above", ("above", 97250.0, None)),
        ("Above $97,250", (">", 97250.0, None)),
        ("$96,999.99 or below", ("below", 96999.99, None)),
        ("Below $97,000", ("<", 97000.0, None)),
        ("$97,000 to 97,249.99", ("range", 97000.0, 97249.99)),
        ("$97,000 - $97,249.99", ("range", 97000.0, 97249.99)),
    ],
)
def test_kalshi_subtitles(subtitle, expected):
    assert read_subtitle(subtitle) == expected


@pytest.mark.parametrize("subtitle", ["", "Before May 20", "$97,000 to", "97k-ish"])
def test_kalshi_unreadable_subtitles(subtitle):
    assert isinstance(read_subtitle(subtitle), str)


def test_kalshi_resolution_is_the_60_second_index_average():
    parsed = parse_question(
        "Bitcoin price on Aug 28, 2026 at 5pm EDT?", at=AT, subtitle="$97,250 or above"
    )
    assert isinstance(parsed, Parsed)
    resolution = parsed.contract.resolution
    assert (resolution.source, resolution.symbol) == ("cf-brti", "BRTI")
    assert (resolution.price, resolution.average_secs) == ("average", 60)


def test_kalshi_window_starts_at_listing():
    created = datetime(2026, 8, 21, 21, tzinfo=UTC)
    parsed = parse_question(
        "Bitcoin price on Aug 28, 2026 at 5pm EDT?",
        created_at=created,
        at=AT,
        subtitle="$97,250 or above",
    )
    assert isinstance(parsed, Parsed) and parsed.contract.start == created


def test_kalshi_how_high_refuses_a_below_subtitle():
    parsed = parse_question("How high will Bitcoin get this year?", at=AT, subtitle="$50k or below")
    assert isinstance(parsed, Unsupported) and "does not fit" in parsed.reason


# -- fuzz -----------------------------------------------------------------------------------------
_WORDS = st.sampled_from(
    [
        "will", "Will", "BTC", "Bitcoin's", "price", "ETH", "Ether", "SOL", "XBT", "crypto",
        "total", "long", "short", "liquidations", "exceed", "touch", "hit", "reach", "dip to",
        "drop below", "above", "below", "between", "and", "or", "first", "before", "swing",
        "move", "more than", "less than", "either way", "up", "down", "go", "be", "close",
        "settle", "this", "week", "month", "year", "by", "the", "end", "of", "on", "Friday",
        "Sunday", "tomorrow", "today", "in", "next", "hours", "days", "March", "at", "pm", "ET",
        "EST", "noon", "midnight", "$", "k", "%", "percent", "M", "cents", "how", "high", "get",
        "mins", "first", "any", "point", ",", "?", "'", "-", "all-time", "high", "within", "a",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    words=st.lists(_WORDS, max_size=14),
    noise=st.text(max_size=12),
    at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
)
def test_fuzz_word_soup_without_a_number_is_never_a_contract(words, noise, at):
    text = " ".join(words) + noise
    result = parse_question(text, at=at, assets=("PEPE",))
    assert isinstance(result, Parsed | Unsupported)
    if not any(ch.isdigit() for ch in text):
        assert isinstance(result, Unsupported), (text, result)
        assert result.reason


_NUMBERS = st.sampled_from(["$60k", "60,000", "60K", "$1.2M", "5%", "24", "3", "0", "15", "2026"])


@settings(max_examples=400, deadline=None)
@given(
    words=st.lists(_WORDS | _NUMBERS, max_size=14),
    at=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    subtitle=st.none() | st.sampled_from(["$97,250 or above", "$1 to 2", "or above"]),
)
def test_fuzz_word_soup_with_numbers_never_raises(words, at, subtitle):
    result = parse_question(" ".join(words), at=at, subtitle=subtitle)
    assert isinstance(result, Parsed | Unsupported)
    if isinstance(result, Parsed):
        c = result.contract
        assert c.end is None or c.end > c.start
        assert all(
            v is None or v > 0 for v in (c.strike_usd, c.lower_usd, c.upper_usd, c.threshold)
        )
