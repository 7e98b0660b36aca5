"""Polymarket client (through polymarket-client) against pytest-httpserver replaying payloads.

The SDK is pointed at the local server through its environment (Gamma, CLOB and Data API all
under one server, at /gamma, /clob and /data) and talks through levercast's transport.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug import Response

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.markets.client import HISTORY_COLUMNS, MarketClient
from levercast.markets.fees import fee, fees_for_market
from levercast.markets.polymarket.client import PolymarketClient, is_crypto_price_market
from levercast.markets.polymarket.clob import parse_clob_book
from levercast.markets.polymarket.wire import (
    decode_gamma_market,
    parse_gamma_market,
    parse_gamma_resolution,
    wire_from_sdk,
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


def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def events_handler(request):
    args = request.args
    if args.get("closed") == "true":
        return json_response(load("events_keyset_closed.json"))
    page = "page2" if args.get("after_cursor") == "cursor-2" else "page1"
    return json_response(load(f"events_keyset_open_{page}.json"))


def history_handler(request):
    if request.args["token_id"] != "1001":
        return json_response(load("data_v2_prices_history_empty.json"))
    if "as_of" in request.args:
        return json_response(load("data_v2_prices_history_as_of_1001.json"))
    page = "page2" if "cursor" in request.args else "page1"
    return json_response(load(f"data_v2_prices_history_1001_{page}.json"))


def book_handler(request):
    name = "book_1001.json" if request.args["token_id"] == "1001" else "clob_book_empty_ask.json"
    return json_response(load(name))


def books_handler(request):
    wanted = [item["token_id"] for item in json.loads(request.data)]
    body = []
    for token in reversed(wanted):  # the server's order is not the request's
        book = load("book_1001.json")
        body.append(dict(book, asset_id=token))
    return json_response(body)


def serve(httpserver) -> None:
    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(events_handler)
    httpserver.expect_request("/data/v2/prices-history").respond_with_handler(history_handler)
    httpserver.expect_request("/data/v2/resolutions").respond_with_json(
        load("data_v2_resolutions_updown.json")
    )
    httpserver.expect_request("/clob/book").respond_with_handler(book_handler)
    httpserver.expect_request("/clob/books", method="POST").respond_with_handler(books_handler)
    httpserver.expect_request("/clob/midpoint").respond_with_json(load("midpoint_1001.json"))
    httpserver.expect_request("/clob/price").respond_with_json(load("price_1001_buy.json"))


def make_settings(httpserver, **changes) -> VenueSettings:
    base = VenueSettings(
        gamma_url=httpserver.url_for("/gamma"),
        clob_url=httpserver.url_for("/clob"),
        data_url=httpserver.url_for("/data"),
        kalshi_url=httpserver.url_for("/kalshi"),
        market_ws_url="ws://127.0.0.1:9/ws/market",
        timeout_secs=2.0,
        gamma_min_interval_secs=0.0,
        clob_min_interval_secs=0.0,
        data_min_interval_secs=0.0,
        kalshi_min_interval_secs=0.0,
    )
    return replace(base, **changes)


@pytest.fixture
def clients():
    made: list[PolymarketClient] = []
    yield made
    for client in made:
        client.close()


def make_client(httpserver, clients, sleeps=None, now=NOW, **changes) -> PolymarketClient:
    record = sleeps.append if sleeps is not None else (lambda s: None)
    client = PolymarketClient(
        make_settings(httpserver, **changes), sleep=record, now=lambda: now, seed=0
    )
    clients.append(client)
    return client


def listed(client: PolymarketClient, assets=("BTC",)):
    return {m.market_id: m for m in client.list_markets(list(assets))}


def test_list_markets_pages_filters_and_decodes(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    markets = listed(client, ["BTC", "ETH"])
    assert set(markets) == {C1, "0x" + "a2" * 32, C3, UPDOWN}  # the Saylor market is dropped
    m1 = markets[C1]
    assert m1.outcomes == ("Yes", "No") and m1.token_ids == ("1001", "1002")
    assert m1.event_title == "Bitcoin above ___ on August 28?"
    assert m1.event_ticker == "bitcoin-above-on-august-28"
    assert m1.created_at == datetime(2026, 8, 21, 16, tzinfo=UTC)  # raw createdAt (SDK drops it)
    v2 = markets[C3]
    assert v2.protocol_version == "v2" and v2.token_ids == ("3001", "3002")
    updown = markets[UPDOWN]
    assert (updown.category, updown.cadence, updown.fee_rate) == ("crypto", "5m", 0.07)
    keyset = [r for r, _ in httpserver.log if r.path == "/gamma/events/keyset"]
    assert len(keyset) == 3  # two open pages, one closed page
    assert keyset[0].args.getlist("version") == ["v1", "v2"]
    assert keyset[0].args["closed"] == "false" and keyset[0].args["tag_slug"] == "crypto"
    assert keyset[1].args["after_cursor"] == "cursor-2"
    assert keyset[2].args["closed"] == "true"
    assert keyset[2].args["end_date_min"] == "2026-08-19T16:10:00Z"
    assert isinstance(client, MarketClient)


def test_resolution_from_the_data_api(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    markets = listed(client)
    resolution = client.resolution(markets[UPDOWN])
    assert resolution is not None and resolution.winning_outcome == "Up"
    assert resolution.resolved_at == datetime(2026, 8, 22, 16, 6, 2, tzinfo=UTC)
    assert resolution.source == "data-api"
    assert client.resolution(markets[C1]) is None  # open
    [call] = [r for r, _ in httpserver.log if r.path == "/data/v2/resolutions"]
    assert call.args["condition_id"] == UPDOWN


def test_resolution_falls_back_to_gamma_prices(httpserver, clients):
    httpserver.expect_request("/data/v2/resolutions").respond_with_json({"data": []})
    serve(httpserver)
    client = make_client(httpserver, clients)
    resolution = client.resolution(listed(client)[UPDOWN])
    assert resolution is not None and resolution.winning_outcome == "Up"
    assert resolution.resolved_at == datetime(2026, 8, 22, 16, 5, 31, tzinfo=UTC)
    assert resolution.source == "gamma"


def test_malformed_condition_id_is_resolved_from_gamma_alone(httpserver, clients):
    page = load("events_keyset_closed.json")
    page["events"][0]["markets"][0]["conditionId"] = "0x2eea"
    httpserver.expect_request("/gamma/events/keyset").respond_with_json(page)
    client = make_client(httpserver, clients)
    [market] = client.list_markets(["BTC"])
    resolution = client.resolution(market)
    assert resolution is not None and resolution.source == "gamma"
    assert not [r for r, _ in httpserver.log if r.path.startswith("/data")]


def test_unresolved_data_api_status_is_not_a_resolution(httpserver, clients):
    body = load("data_v2_resolutions_updown.json")
    body["data"][0].update(status="proposed", payouts=None)
    httpserver.expect_request("/data/v2/resolutions").respond_with_json(body)
    serve(httpserver)
    client = make_client(httpserver, clients)
    assert client.resolution(listed(client)[UPDOWN]) is None


def test_eth_only_listing_keeps_eth(httpserver, clients):
    serve(httpserver)
    markets = make_client(httpserver, clients).list_markets(["ETH"])
    assert [m.market_id for m in markets] == [C3]


def test_unknown_asset_is_config_error(httpserver, clients):
    with pytest.raises(ConfigError, match=r"asset must be one of .* found 'DOT'"):
        make_client(httpserver, clients).list_markets(["DOT"])


@pytest.mark.parametrize(
    ("name", "expected"),
    [("gamma_market_btc_updown_5m.json", True), ("gamma_market_live_negrisk.json", False)],
)
def test_recorded_gamma_fixtures_decode_alike_through_sdk_and_raw(name, expected):
    from polymarket.models.gamma import Market

    raw = load(name)
    wire = decode_gamma_market(raw)
    assert wire_from_sdk(Market.parse_response(raw), raw) == wire  # two decoders, one answer
    market = parse_gamma_market(wire)
    assert len(market.outcomes) == 2 == len(market.token_ids)
    assert market.market_id.startswith("0x")
    assert is_crypto_price_market(wire, ["BTC"]) is expected
    assert parse_gamma_resolution(wire) is None  # both are open


def test_market_the_sdk_drops_is_skipped_with_a_reason(httpserver, clients):
    httpserver.expect_request("/gamma/events/keyset").respond_with_json(
        load("events_keyset_missing_outcomes.json")
    )
    client = make_client(httpserver, clients)
    assert client.list_markets(["ETH"]) == []
    assert "not a two-outcome market" in client.skipped["4003"]


def test_page_the_sdk_refuses_is_a_data_error_naming_the_field(httpserver, clients):
    page = load("events_keyset_closed.json")
    del page["events"][0]["markets"][0]["feeSchedule"]["rebateRate"]
    httpserver.expect_request("/gamma/events/keyset").respond_with_json(page)
    with pytest.raises(DataError, match=r"polymarket gamma /events/keyset: .*rebateRate") as info:
        make_client(httpserver, clients).list_markets(["BTC"])
    assert "\n" not in str(info.value) and "polymarket-client 0.14.0" in str(info.value)


# -- price history (Data API v2) ---------------------------------------------------------------
def test_price_history_rows_page_by_cursor(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    market = listed(client)[C1]
    frame = client.price_history(market)
    assert tuple(frame.columns) == HISTORY_COLUMNS
    assert len(frame) == 5 and set(frame["outcome"]) == {"Yes"}
    assert (frame["available_at"] == frame["ts"]).all()
    assert frame["price"].tolist() == pytest.approx([0.40, 0.41, 0.42, 0.43, 0.44])
    calls = [r for r, _ in httpserver.log if r.path == "/data/v2/prices-history"]
    assert {r.args["token_id"] for r in calls} == {"1001", "1002"}
    first = calls[0]
    assert first.args["start"] == str(int(market.created_at.timestamp()))
    assert first.args["end"] == str(int(NOW.timestamp()))
    assert first.args["bucket_seconds"] == "3600"
    assert calls[1].args["cursor"] == "Y3Vyc29yOjE3ODc0MDcyMDA"


def test_price_history_since_starts_after_last_point(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    market = listed(client)[C1]
    since = datetime(2026, 8, 22, 12, tzinfo=UTC)
    client.price_history(market, since=since)
    call = next(r for r, _ in httpserver.log if r.path == "/data/v2/prices-history")
    assert call.args["start"] == str(int(since.timestamp()) + 1)


def test_long_ranges_are_read_in_windows_of_15_days(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients, history_fidelity_mins=1)
    market = replace(listed(client)[C1], created_at=NOW - timedelta(days=40))
    client.price_history(market)
    calls = [
        (int(r.args["start"]), int(r.args["end"]))
        for r, _ in httpserver.log
        if r.path == "/data/v2/prices-history" and r.args["token_id"] == "1002"
    ]
    assert len(calls) == 3 and calls[0][0] == int(market.created_at.timestamp())
    assert all(end - start <= 15 * 86400 for start, end in calls)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(calls))  # contiguous
    assert calls[-1][1] == int(NOW.timestamp())
    bucket = {r.args["bucket_seconds"] for r, _ in httpserver.log if "bucket_seconds" in r.args}
    assert bucket == {"60"}


def test_price_as_of_is_point_in_time(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    market = listed(client)[C1]
    at = datetime(2026, 8, 22, 15, 30, tzinfo=UTC)
    assert client.price_as_of(market, at) == {"Yes": (datetime(2026, 8, 22, 15, tzinfo=UTC), 0.43)}
    call = next(r for r, _ in httpserver.log if "as_of" in r.args)
    assert call.args["as_of"] == str(int(at.timestamp()))
    with pytest.raises(DataError, match=r"at or before as_of"):
        client.price_as_of(market, datetime(2026, 8, 22, 14, tzinfo=UTC))
    with pytest.raises(ConfigError, match=r"at must be tz-aware"):
        client.price_as_of(market, datetime(2026, 8, 22, 14))


# -- books -------------------------------------------------------------------------------------
def test_order_book_best_prices_by_max_min(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    market = listed(client)[C1]
    book = client.order_book(market)
    assert book.best_bid == 0.41 and book.best_ask == 0.43  # the venue sends best last
    assert book.outcome == "Yes" and book.tick_size == 0.01
    assert book.observed_at == datetime.fromtimestamp(1787414400, tz=UTC)
    quote = client.quote(market)
    assert quote.mid == pytest.approx(0.42)
    assert client.midpoint(market) == 0.42
    assert client.clob.price("1001", "BUY") == 0.43
    assert client.tick_size(market) == 0.01
    with pytest.raises(ConfigError, match=r"side must be 'BUY' or 'SELL'"):
        client.clob.price("1001", "HOLD")


def test_order_books_batch_matches_on_asset_id(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    markets = listed(client, ["BTC", "ETH"])
    books = client.order_books(list(markets.values()))
    assert {b.market_id for b in books} == {C1, "0x" + "a2" * 32, C3, UPDOWN}
    [call] = [r for r, _ in httpserver.log if r.path == "/clob/books"]
    assert len(json.loads(call.data)) == 4


def test_empty_ask_fixture_and_v2_position_ids(httpserver, clients):
    serve(httpserver)
    client = make_client(httpserver, clients)
    book = client.order_book(listed(client, ["ETH"])[C3])
    assert book.asks == () and book.best_bid == 0.002
    assert [r.args["token_id"] for r, _ in httpserver.log if r.path == "/clob/book"] == ["3001"]


def test_v2_market_without_position_ids_is_reported(httpserver, clients):
    market = parse_gamma_market(
        decode_gamma_market(
            {"id": "7", "question": "q", "outcomes": '["Yes","No"]', "version": "v2"}
        )
    )
    with pytest.raises(MarketUnavailable, match=r"Protocol V2 market without position ids"):
        make_client(httpserver, clients).order_book(market)


# -- retries and failures ----------------------------------------------------------------------
def test_gamma_429_honours_retry_after(httpserver, clients):
    httpserver.expect_oneshot_request("/gamma/events/keyset").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    serve(httpserver)
    sleeps: list[float] = []
    markets = make_client(httpserver, clients, sleeps).list_markets(["ETH"])
    assert len(markets) == 1 and sleeps == [7.0]


def test_data_api_429_is_retried_by_levercast_not_by_the_sdk(httpserver, clients):
    # The SDK would retry this itself with a blocking time.sleep(1); levercast's transport turns
    # the 429 into its own signal so the injected sleep is used.
    httpserver.expect_oneshot_request("/data/v2/prices-history").respond_with_data(
        "busy", status=429, headers={"Retry-After": "1"}
    )
    serve(httpserver)
    sleeps: list[float] = []
    client = make_client(httpserver, clients, sleeps)
    market = listed(client)[C1]
    started = time.monotonic()
    assert len(client.price_history(market)) == 5
    assert sleeps == [1.0] and time.monotonic() - started < 0.9


@pytest.mark.parametrize(
    ("status", "body"), [(500, "oops"), (200, '{"events": [{"id": "9001", "mar')]
)
def test_gamma_transient_failure_then_success(httpserver, clients, status, body):
    httpserver.expect_oneshot_request("/gamma/events/keyset").respond_with_data(body, status=status)
    serve(httpserver)
    sleeps: list[float] = []
    assert len(make_client(httpserver, clients, sleeps).list_markets(["ETH"])) == 1
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
def test_gamma_persistent_failure_is_one_clear_error(httpserver, clients, status, body, message):
    httpserver.expect_request("/gamma/events/keyset").respond_with_data(
        body, status=status, content_type="text/plain"
    )
    with pytest.raises(MarketUnavailable, match=message) as info:
        make_client(httpserver, clients).list_markets(["BTC"])
    assert "\n" not in str(info.value) and "polymarket gamma" in str(info.value)


def slow_handler(request):
    time.sleep(0.4)
    return Response("{}", 200)


def test_gamma_timeout_is_retried_then_clear(httpserver, clients):
    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(slow_handler)
    client = make_client(httpserver, clients, timeout_secs=0.1, max_retries=1)
    with pytest.raises(MarketUnavailable, match=r"failed after 2 attempt.*timed out after 0.1 s"):
        client.list_markets(["BTC"])


def test_default_transport_has_a_total_deadline(httpserver, clients, monkeypatch):
    """A server trickling its body is cut at the request deadline (features.deadline)."""

    def trickle(request):
        def body():
            for _ in range(20):
                time.sleep(0.1)
                yield b" "

        return Response(body(), 200, content_type="application/json")

    monkeypatch.setenv("LEVERCAST_HTTP_DEADLINE_SECS", "0.5")
    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(trickle)
    client = make_client(httpserver, clients, timeout_secs=1.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(MarketUnavailable, match=r"total deadline of 0.5 s exceeded"):
        client.list_markets(["BTC"])
    assert time.monotonic() - started < 1.5


def test_messages_are_scrubbed(httpserver, clients, monkeypatch):
    monkeypatch.setenv("LEVERCAST_DEMO_KEY", "s3cr3t-value-42")
    httpserver.expect_request("/clob/book").respond_with_data(
        "no book for key s3cr3t-value-42", status=404, content_type="text/plain"
    )
    with pytest.raises(MarketUnavailable, match=r"HTTP 404") as info:
        make_client(httpserver, clients).clob.book("1001")
    assert "s3cr3t" not in str(info.value) and "***" in str(info.value)


def test_clob_429_retry_after_then_book(httpserver, clients):
    httpserver.expect_oneshot_request("/clob/book").respond_with_data(
        "busy", status=429, headers={"Retry-After": "3"}
    )
    serve(httpserver)
    sleeps: list[float] = []
    client = make_client(httpserver, clients, sleeps)
    market = listed(client)[C1]
    assert client.order_book(market).best_bid == 0.41
    assert sleeps == [3.0]


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (500, "boom", MarketUnavailable, "book .* failed after 4 attempt.*HTTP 500"),
        (200, '{"market": "0x1", "bids": [', MarketUnavailable, "malformed JSON body"),
        (404, '{"error": "No orderbook exists"}', MarketUnavailable, "HTTP 404"),
        (200, '{"market": "0x1", "asset_id": "1"}', DataError, "field 'bids': Field required"),
    ],
)
def test_clob_book_failures(httpserver, clients, status, body, error, message):
    httpserver.expect_request("/clob/book").respond_with_data(
        body, status=status, content_type="application/json"
    )
    client = make_client(httpserver, clients)
    with pytest.raises(error, match=message) as info:
        client.clob.book("1001")
    assert "\n" not in str(info.value)


def test_clob_truncated_then_ok_midpoint(httpserver, clients):
    httpserver.expect_oneshot_request("/clob/midpoint").respond_with_data('{"mid": "0.4')
    serve(httpserver)
    sleeps: list[float] = []
    assert make_client(httpserver, clients, sleeps).clob.midpoint("1001") == 0.42
    assert len(sleeps) == 1


def test_closed_port_fails_fast_with_one_line(clients):
    settings = VenueSettings(
        gamma_url="http://127.0.0.1:9",
        clob_url="http://127.0.0.1:9",
        data_url="http://127.0.0.1:9",
        max_retries=3,
    )
    client = PolymarketClient(settings, sleep=lambda s: None)
    clients.append(client)
    with pytest.raises(MarketUnavailable, match=r"failed after 2 attempt.*connection failed") as e:
        client.list_markets(["BTC"])
    assert "\n" not in str(e.value)
    with pytest.raises(MarketUnavailable, match=r"connection failed"):
        client.clob.book("1001")


def test_injected_http_transport_carries_every_request(httpserver, clients):
    """The hook issue 19's deadlines plug into: one httpx transport per service."""
    seen: list[tuple[str, str]] = []

    class Recording(httpx.BaseTransport):
        def __init__(self, service: str) -> None:
            self.service, self.inner = service, httpx.HTTPTransport(retries=0)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append((self.service, request.url.path))
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    serve(httpserver)
    client = PolymarketClient(
        make_settings(httpserver), sleep=lambda s: None, now=lambda: NOW, http_transport=Recording
    )
    clients.append(client)
    market = listed(client)[C1]
    client.order_book(market)
    client.price_history(market)
    assert {s for s, _ in seen} == {"gamma", "clob", "data"}
    assert ("clob", "/clob/book") in seen


def test_settings_from_env_overrides():
    env = {
        "LEVERCAST_POLYMARKET_GAMMA_URL": "http://127.0.0.1:1/g/",
        "LEVERCAST_POLYMARKET_CLOB_URL": "http://127.0.0.1:1/c",
        "LEVERCAST_POLYMARKET_DATA_URL": "http://127.0.0.1:1/d",
        "LEVERCAST_POLYMARKET_WS_URL": "ws://127.0.0.1:1/ws/market",
        "LEVERCAST_KALSHI_URL": "http://127.0.0.1:1/k",
        "LEVERCAST_HTTP_TIMEOUT_SECS": "1.5",
        "LEVERCAST_HTTP_MAX_RETRIES": "0",
    }
    s = venue_settings_from_env(env)
    assert (s.gamma_url, s.clob_url, s.data_url, s.kalshi_url) == (
        "http://127.0.0.1:1/g",
        "http://127.0.0.1:1/c",
        "http://127.0.0.1:1/d",
        "http://127.0.0.1:1/k",
    )
    assert s.market_ws_url == "ws://127.0.0.1:1/ws/market"
    assert s.timeout_secs == 1.5 and s.max_retries == 0 and s.gamma_http.timeout_secs == 1.5
    with pytest.raises(ConfigError, match=r"LEVERCAST_HTTP_TIMEOUT_SECS must be a float"):
        venue_settings_from_env({"LEVERCAST_HTTP_TIMEOUT_SECS": "fast"})
    with pytest.raises(ConfigError, match=r"gamma_url must start with http"):
        VenueSettings(gamma_url="ftp://x")
    with pytest.raises(ConfigError, match=r"market_ws_url must start with ws"):
        VenueSettings(market_ws_url="http://x")


def test_sdk_is_imported_only_when_used():
    code = (
        "import sys, levercast.markets.polymarket.client as c, levercast.markets.polymarket.stream;"
        "assert 'polymarket' not in sys.modules, 'imported early';"
        "c.PolymarketClient().sdk.client; assert 'polymarket' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- the 2026-10 recorded-style payloads (tests/resources/polymarket/README.md) -----------------
def test_recorded_2026_payloads_through_the_sdk(httpserver, clients):
    def events(request):
        name = "gamma_events_keyset_closed_last_page.json"
        if request.args.get("closed") != "true":
            after = request.args.get("after_cursor")
            name = "gamma_events_keyset_page.json" if after is None else None
        body = load(name) if name else {"events": [], "next_cursor": None}
        return json_response(body)

    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(events)
    httpserver.expect_request("/data/v2/resolutions").respond_with_json(
        load("data_v2_resolutions.json")
    )
    httpserver.expect_request("/clob/books", method="POST").respond_with_json(
        load("clob_books.json")
    )
    now = datetime(2026, 10, 20, 14, 5, tzinfo=UTC)
    client = make_client(httpserver, clients, now=now, resolved_lookback_days=8)
    markets = {m.slug: m for m in client.list_markets(["BTC"])}
    live = markets["btc-updown-15m-1792504800"]
    assert (live.outcomes, live.cadence, live.category) == (("Up", "Down"), "15m", "crypto")
    assert (live.fee_category, live.fee_rate, live.maker_rebate_rate) == ("crypto_fees", 0.07, 0.2)
    assert live.created_at == datetime(2026, 10, 19, 14, 3, 27, 915844, tzinfo=UTC)
    assert fees_for_market(live, at=now).taker_fee_usd(0.5, 100) == 1.75
    # 0.07 x 10 x 0.535 x 0.465 = 0.1741425, floored to 5 dp
    assert fee("polymarket", "crypto", now, 0.535, 10, market=live) == 0.17414
    closed = markets["btc-updown-15m-1791900000"]
    resolution = client.resolution(closed)
    assert resolution is not None and resolution.winning_outcome == "Down"
    assert resolution.resolved_at == datetime(2026, 10, 13, 14, 15, 41, tzinfo=UTC)
    books = {b.market_id: b for b in client.order_books([live])}
    assert books[live.market_id].best_bid == 0.53 and books[live.market_id].best_ask == 0.54


# -- properties --------------------------------------------------------------------------------
prices = st.lists(st.integers(1, 999), min_size=1, max_size=8, unique=True)


@settings(max_examples=50, deadline=None)
@given(bids=prices, asks=prices, seed=st.integers(0, 1000))
def test_book_best_prices_ignore_venue_order(bids, asks, seed):
    from polymarket.models.clob import OrderBook

    market = parse_gamma_market(
        decode_gamma_market(
            {"id": "1", "question": "q", "outcomes": '["Yes","No"]', "clobTokenIds": '["1","2"]'}
        )
    )
    rng = random.Random(seed)

    def levels(ticks):
        return [{"price": f"{p / 1000:.3f}", "size": "1"} for p in rng.sample(ticks, len(ticks))]

    book = OrderBook.parse_response(
        dict(load("book_1001.json"), bids=levels(bids), asks=levels(asks))
    )
    parsed = parse_clob_book(book, market, received_at=NOW)
    assert parsed.best_bid == max(bids) / 1000 and parsed.best_ask == min(asks) / 1000
