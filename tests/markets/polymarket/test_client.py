"""Polymarket client against pytest-httpserver replaying recorded and documented payloads."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug import Response

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.markets.client import HISTORY_COLUMNS, MarketClient
from levercast.markets.polymarket.client import PolymarketClient, is_crypto_price_market
from levercast.markets.polymarket.clob import parse_clob_book
from levercast.markets.polymarket.wire import (
    decode_gamma_market,
    parse_gamma_market,
    parse_gamma_resolution,
)
from levercast.markets.settings import VenueSettings, venue_settings_from_env
from tests.conftest import RESOURCES

RES = RESOURCES / "polymarket"
NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
C1 = "0x" + "a1" * 32
C3 = "0x" + "c3" * 32
UPDOWN = "0x2eea28aa905ace2f5cace17ea2b9e0e7b85a27f32ee14ed292f02fa104956bc4"


def load(name: str):
    return json.loads((RES / name).read_text())


def events_handler(request):
    args = request.args
    if args.get("closed") == "true":
        return Response(json.dumps(load("events_keyset_closed.json")), 200)
    page = "page2" if args.get("after_cursor") == "cursor-2" else "page1"
    return Response(json.dumps(load(f"events_keyset_open_{page}.json")), 200)


def history_handler(request):
    body = load("prices_history_1001.json") if request.args["market"] == "1001" else {"history": []}
    return Response(json.dumps(body), 200)


def book_handler(request):
    name = "book_1001.json" if request.args["token_id"] == "1001" else "clob_book_empty_ask.json"
    return Response((RES / name).read_text(), 200)


def serve(httpserver) -> None:
    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(events_handler)
    httpserver.expect_request("/clob/prices-history").respond_with_handler(history_handler)
    httpserver.expect_request("/clob/book").respond_with_handler(book_handler)
    for path, name in [
        ("/clob/midpoint", "midpoint_1001.json"),
        ("/clob/price", "price_1001_buy.json"),
        ("/clob/tick-size", "tick_size_1001.json"),
        ("/clob/fee-rate", "fee_rate_1001.json"),
    ]:
        httpserver.expect_request(path).respond_with_json(load(name))


def make_settings(httpserver, **changes) -> VenueSettings:
    base = VenueSettings(
        gamma_url=httpserver.url_for("/gamma"),
        clob_url=httpserver.url_for("/clob"),
        kalshi_url=httpserver.url_for("/kalshi"),
        timeout_secs=2.0,
        gamma_min_interval_secs=0.0,
        clob_min_interval_secs=0.0,
        kalshi_min_interval_secs=0.0,
    )
    return replace(base, **changes)


def make_client(httpserver, sleeps=None, **changes) -> PolymarketClient:
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return PolymarketClient(
        make_settings(httpserver, **changes), sleep=record, now=lambda: NOW, seed=0
    )


def test_list_markets_pages_filters_and_decodes(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = {m.market_id: m for m in client.list_markets(["BTC", "ETH"])}
    assert set(markets) == {C1, "0x" + "a2" * 32, C3, UPDOWN}  # the Saylor market is dropped
    m1 = markets[C1]
    assert m1.outcomes == ("Yes", "No") and m1.token_ids == ("1001", "1002")
    assert m1.event_title == "Bitcoin above ___ on August 28?"
    assert m1.event_ticker == "bitcoin-above-on-august-28"
    assert m1.created_at == datetime(2026, 8, 21, 16, tzinfo=UTC)
    v2 = markets[C3]
    assert v2.protocol_version == "v2" and v2.token_ids == ("3001", "3002")
    keyset = [r for r, _ in httpserver.log if r.path == "/gamma/events/keyset"]
    assert len(keyset) == 3  # two open pages, one closed page
    assert keyset[0].args.getlist("version") == ["v1", "v2"]
    assert keyset[1].args["after_cursor"] == "cursor-2"
    assert keyset[2].args["end_date_min"] == "2026-08-19T16:10:00Z"
    assert isinstance(client, MarketClient)


def test_resolution_of_closed_updown_market(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = {m.market_id: m for m in client.list_markets(["BTC"])}
    resolution = client.resolution(markets[UPDOWN])
    assert resolution is not None and resolution.winning_outcome == "Up"
    assert resolution.resolved_at == datetime(2026, 8, 22, 16, 5, 31, tzinfo=UTC)
    assert client.resolution(markets[C1]) is None


def test_eth_only_listing_keeps_eth(httpserver):
    serve(httpserver)
    markets = make_client(httpserver).list_markets(["ETH"])
    assert [m.market_id for m in markets] == [C3]


def test_unknown_asset_is_config_error(httpserver):
    with pytest.raises(ConfigError, match=r"asset must be one of .* found 'DOT'"):
        make_client(httpserver).list_markets(["DOT"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [("gamma_market_btc_updown_5m.json", True), ("gamma_market_live_negrisk.json", False)],
)
def test_recorded_gamma_fixtures_decode(name, expected):
    wire = decode_gamma_market(load(name))
    market = parse_gamma_market(wire)
    assert len(market.outcomes) == 2 == len(market.token_ids)
    assert market.market_id.startswith("0x")
    assert is_crypto_price_market(wire, ["BTC"]) is expected
    assert parse_gamma_resolution(wire) is None  # both are open


def test_missing_outcomes_is_clear_error(httpserver):
    httpserver.expect_request("/gamma/events/keyset").respond_with_json(
        load("events_keyset_missing_outcomes.json")
    )
    with pytest.raises(DataError, match=r"market 4003: field 'outcomes' is required"):
        make_client(httpserver).list_markets(["ETH"])


def test_price_history_rows(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    market = {m.market_id: m for m in client.list_markets(["BTC"])}[C1]
    frame = client.price_history(market)
    assert tuple(frame.columns) == HISTORY_COLUMNS
    assert len(frame) == 5 and set(frame["outcome"]) == {"Yes"}
    assert (frame["available_at"] == frame["ts"]).all()
    assert frame["price"].tolist() == pytest.approx([0.40, 0.41, 0.42, 0.43, 0.44])
    calls = [r for r, _ in httpserver.log if r.path == "/clob/prices-history"]
    assert {r.args["market"] for r in calls} == {"1001", "1002"}
    assert calls[0].args["startTs"] == str(int(market.created_at.timestamp()))
    assert calls[0].args["endTs"] == str(int(NOW.timestamp()))


def test_price_history_since_starts_after_last_point(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    market = {m.market_id: m for m in client.list_markets(["BTC"])}[C1]
    since = datetime(2026, 8, 22, 12, tzinfo=UTC)
    client.price_history(market, since=since)
    call = next(r for r, _ in httpserver.log if r.path == "/clob/prices-history")
    assert call.args["startTs"] == str(int(since.timestamp()) + 1)


def test_order_book_best_prices_by_max_min(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    market = {m.market_id: m for m in client.list_markets(["BTC"])}[C1]
    book = client.order_book(market)
    assert book.best_bid == 0.41 and book.best_ask == 0.43  # the venue sends best last
    assert book.outcome == "Yes" and book.tick_size == 0.01
    assert book.observed_at == datetime.fromtimestamp(1787414400, tz=UTC)
    quote = client.quote(market)
    assert quote.mid == pytest.approx(0.42)
    assert client.midpoint(market) == 0.42
    assert client.clob.price("1001", "BUY") == 0.43
    assert client.tick_size(market) == 0.01
    assert client.fee_rate_bps(market) == 1000


def test_empty_ask_fixture_and_v2_position_ids(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    market = {m.market_id: m for m in client.list_markets(["ETH"])}[C3]
    book = client.order_book(market)
    assert book.asks == () and book.best_bid == 0.002
    assert [r.args["token_id"] for r, _ in httpserver.log if r.path == "/clob/book"] == ["3001"]


def test_v2_market_without_position_ids_is_reported(httpserver):
    market = parse_gamma_market(
        decode_gamma_market(
            {"id": "7", "question": "q", "outcomes": '["Yes","No"]', "version": "v2"}
        )
    )
    with pytest.raises(MarketUnavailable, match=r"Protocol V2 market without position ids"):
        make_client(httpserver).order_book(market)


# -- retries and failures ----------------------------------------------------------------------
def test_gamma_429_honours_retry_after(httpserver):
    httpserver.expect_oneshot_request("/gamma/events/keyset").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    serve(httpserver)
    sleeps: list[float] = []
    markets = make_client(httpserver, sleeps).list_markets(["ETH"])
    assert len(markets) == 1 and 7.0 in sleeps


@pytest.mark.parametrize(
    ("status", "body"), [(500, "oops"), (200, '{"events": [{"id": "9001", "mar')]
)
def test_gamma_transient_failure_then_success(httpserver, status, body):
    httpserver.expect_oneshot_request("/gamma/events/keyset").respond_with_data(body, status=status)
    serve(httpserver)
    sleeps: list[float] = []
    assert len(make_client(httpserver, sleeps).list_markets(["ETH"])) == 1
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "oops", "failed after 4 attempt.*HTTP 500"),
        (429, "slow", "failed after 4 attempt.*HTTP 429"),
        (200, '{"events": [', "malformed JSON body"),
        (404, "not here", "HTTP 404: not here"),
    ],
)
def test_gamma_persistent_failure_is_one_clear_error(httpserver, status, body, message):
    httpserver.expect_request("/gamma/events/keyset").respond_with_data(body, status=status)
    with pytest.raises(MarketUnavailable, match=message) as info:
        make_client(httpserver).list_markets(["BTC"])
    assert "\n" not in str(info.value) and "polymarket gamma" in str(info.value)


def slow_handler(request):
    time.sleep(0.4)
    return Response("{}", 200)


def test_gamma_timeout_is_retried_then_clear(httpserver):
    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(slow_handler)
    client = make_client(httpserver, timeout_secs=0.1, max_retries=1)
    with pytest.raises(MarketUnavailable, match=r"failed after 2 attempt.*timed out after 0.1 s"):
        client.list_markets(["BTC"])


def test_clob_429_retry_after_then_book(httpserver):
    httpserver.expect_oneshot_request("/clob/book").respond_with_data(
        "busy", status=429, headers={"Retry-After": "3"}
    )
    serve(httpserver)
    sleeps: list[float] = []
    client = make_client(httpserver, sleeps)
    market = {m.market_id: m for m in client.list_markets(["BTC"])}[C1]
    assert client.order_book(market).best_bid == 0.41
    assert sleeps == [3.0]


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (500, "boom", MarketUnavailable, "book .* failed after 4 attempt.*HTTP 500"),
        (200, '{"market": "0x1", "bids": [', MarketUnavailable, "malformed response body"),
        (404, '{"error": "No orderbook exists"}', MarketUnavailable, "HTTP 404"),
        (200, '{"market": "0x1", "asset_id": "1"}', DataError, "field 'bids' is required"),
    ],
)
def test_clob_book_failures(httpserver, status, body, error, message):
    httpserver.expect_request("/clob/book").respond_with_data(body, status=status)
    client = make_client(httpserver)
    with pytest.raises(error, match=message) as info:
        client.clob.book("1001")
    assert "\n" not in str(info.value)


def test_clob_truncated_then_ok_midpoint(httpserver):
    httpserver.expect_oneshot_request("/clob/midpoint").respond_with_data('{"mid": "0.4')
    serve(httpserver)
    sleeps: list[float] = []
    assert make_client(httpserver, sleeps).clob.midpoint("1001") == 0.42
    assert len(sleeps) == 1


def test_clob_timeout_becomes_market_unavailable(httpserver):
    httpserver.expect_request("/clob/book").respond_with_handler(slow_handler)
    client = make_client(httpserver, timeout_secs=0.1, max_retries=1)
    with pytest.raises(MarketUnavailable, match=r"timeout or no connection"):
        client.clob.book("1001")


def test_closed_port_fails_fast_with_one_line():
    settings = VenueSettings(
        gamma_url="http://127.0.0.1:9", clob_url="http://127.0.0.1:9", max_retries=1
    )
    client = PolymarketClient(settings, sleep=lambda s: None)
    with pytest.raises(MarketUnavailable, match=r"connection failed") as info:
        client.list_markets(["BTC"])
    assert "\n" not in str(info.value)
    with pytest.raises(MarketUnavailable, match=r"timeout or no connection"):
        client.clob.book("1001")


def test_settings_from_env_overrides():
    env = {
        "LEVERCAST_POLYMARKET_GAMMA_URL": "http://127.0.0.1:1/g/",
        "LEVERCAST_POLYMARKET_CLOB_URL": "http://127.0.0.1:1/c",
        "LEVERCAST_KALSHI_URL": "http://127.0.0.1:1/k",
        "LEVERCAST_HTTP_TIMEOUT_SECS": "1.5",
        "LEVERCAST_HTTP_MAX_RETRIES": "0",
    }
    s = venue_settings_from_env(env)
    assert (s.gamma_url, s.clob_url, s.kalshi_url) == (
        "http://127.0.0.1:1/g",
        "http://127.0.0.1:1/c",
        "http://127.0.0.1:1/k",
    )
    assert s.timeout_secs == 1.5 and s.max_retries == 0 and s.gamma_http.timeout_secs == 1.5
    with pytest.raises(ConfigError, match=r"LEVERCAST_HTTP_TIMEOUT_SECS must be a float"):
        venue_settings_from_env({"LEVERCAST_HTTP_TIMEOUT_SECS": "fast"})
    with pytest.raises(ConfigError, match=r"gamma_url must start with http"):
        VenueSettings(gamma_url="ftp://x")


# -- properties --------------------------------------------------------------------------------
class _Level:
    def __init__(self, price: float, size: float) -> None:
        self.price, self.size = f"{price:.3f}", f"{size:.2f}"


class _Summary:
    def __init__(self, bids, asks) -> None:
        self.bids, self.asks = bids, asks
        self.timestamp, self.tick_size = "1787414400000", "0.001"


prices = st.lists(st.integers(1, 999), min_size=1, max_size=8, unique=True)


@settings(max_examples=50, deadline=None)
@given(bids=prices, asks=prices, seed=st.integers(0, 1000))
def test_book_best_prices_ignore_venue_order(bids, asks, seed):
    market = parse_gamma_market(
        decode_gamma_market(
            {"id": "1", "question": "q", "outcomes": '["Yes","No"]', "clobTokenIds": '["1","2"]'}
        )
    )
    rng = random.Random(seed)
    shuffled = [rng.sample(bids, len(bids)), rng.sample(asks, len(asks))]
    summary = _Summary(
        [_Level(p / 1000, 1) for p in shuffled[0]], [_Level(p / 1000, 1) for p in shuffled[1]]
    )
    book = parse_clob_book(summary, market, received_at=NOW)
    assert book.best_bid == max(bids) / 1000 and book.best_ask == min(asks) / 1000
