"""Kalshi client against pytest-httpserver replaying recorded and documented payloads."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug import Response

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.markets.client import HISTORY_COLUMNS, MarketClient
from levercast.markets.kalshi.client import KalshiClient
from levercast.markets.kalshi.wire import parse_candles, parse_kalshi_market, parse_kalshi_orderbook
from levercast.markets.settings import VenueSettings
from levercast.markets.types import VenueMarket
from tests.conftest import RESOURCES

RES = RESOURCES / "kalshi"
NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
OPEN1 = "KXBTCD-26AUG2817-T109999.99"
OPEN2 = "KXBTCD-26AUG2817-T119999.99"
SETTLED = "KXBTCD-26AUG2117-T114999.99"
HISTORICAL = "KXBTCD-26AUG1917-T111999.99"


def load(name: str):
    return json.loads((RES / name).read_text())


def events_handler(request):
    args = request.args
    if args["series_ticker"] != "KXBTCD":
        return Response(json.dumps(load("events_empty.json")), 200)
    if args["status"] == "settled":
        return Response(json.dumps(load("events_KXBTCD_settled.json")), 200)
    page = "page2" if args.get("cursor") == "page-2" else "page1"
    return Response(json.dumps(load(f"events_KXBTCD_open_{page}.json")), 200)


def historical_markets_handler(request):
    name = "historical_markets.json" if request.args["series_ticker"] == "KXBTCD" else None
    body = load(name) if name else {"markets": [], "cursor": ""}
    return Response(json.dumps(body), 200)


def serve(httpserver) -> None:
    httpserver.expect_request("/kalshi/events").respond_with_handler(events_handler)
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_json(
        load("historical_cutoff.json")
    )
    httpserver.expect_request("/kalshi/historical/markets").respond_with_handler(
        historical_markets_handler
    )
    httpserver.expect_request(
        re.compile(r"/kalshi/series/KXBTCD/markets/[^/]+/candlesticks")
    ).respond_with_json(load("candlesticks_KXBTCD.json"))
    httpserver.expect_request(
        re.compile(r"/kalshi/historical/markets/[^/]+/candlesticks")
    ).respond_with_json(load("historical_candlesticks.json"))
    httpserver.expect_request(re.compile(r"/kalshi/markets/[^/]+/orderbook")).respond_with_json(
        load("orderbook_KXBTCD.json")
    )


def make_client(httpserver, sleeps=None, **changes) -> KalshiClient:
    base = VenueSettings(
        kalshi_url=httpserver.url_for("/kalshi"), timeout_secs=2.0, kalshi_min_interval_secs=0.0
    )
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return KalshiClient(replace(base, **changes), sleep=record, now=lambda: NOW, seed=0)


def listed(client: KalshiClient, assets=("BTC",)) -> dict[str, VenueMarket]:
    return {m.market_id: m for m in client.list_markets(list(assets))}


def test_list_markets_pages_events_settled_and_historical(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = listed(client)
    assert set(markets) == {OPEN1, OPEN2, SETTLED, HISTORICAL}
    m = markets[OPEN1]
    assert m.question == "Bitcoin price on Aug 28, 2026 at 5pm EDT? [$109,999.99 or above]"
    assert m.strike_type == "greater" and m.floor_strike == 109999.99
    assert m.series_ticker == "KXBTCD" and m.event_ticker == "KXBTCD-26AUG2817"
    assert m.event_title == "Bitcoin price on Aug 28, 2026 at 5pm EDT?"
    assert m.close_time == datetime(2026, 8, 28, 21, tzinfo=UTC) == m.end_date
    assert m.active is True and m.closed is False
    assert "If the price of Bitcoin is above" in m.rules
    events = [r for r, _ in httpserver.log if r.path == "/kalshi/events"]
    assert {r.args["series_ticker"] for r in events} == {"KXBTC", "KXBTCD"}
    assert any(r.args.get("cursor") == "page-2" for r in events)
    settled = [r for r in events if r.args["status"] == "settled"]
    assert settled[0].args["min_close_ts"] == str(int(NOW.timestamp()) - 3 * 86400)
    assert isinstance(client, MarketClient)


def test_resolutions(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = listed(client)
    settled = client.resolution(markets[SETTLED])
    assert settled is not None and settled.winning_outcome == "Yes"
    assert settled.resolved_at == datetime(2026, 8, 21, 21, 5, 12, tzinfo=UTC)
    historical = client.resolution(markets[HISTORICAL])
    assert historical is not None and historical.winning_outcome == "No"
    assert client.resolution(markets[OPEN1]) is None


def test_unknown_asset_is_config_error(httpserver):
    with pytest.raises(ConfigError, match=r"asset must be one of .* found 'ADA'"):
        make_client(httpserver).list_markets(["ADA"])


def test_orderbook_yes_ask_is_one_minus_no_bid(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    book = client.order_book(listed(client)[OPEN1])
    assert book.best_bid == 0.41 and book.bids[0].size == 25.5
    assert book.best_ask == pytest.approx(0.44) and book.asks[0].size == 12.0
    assert [lv.price for lv in book.asks] == pytest.approx([0.44, 0.48])
    assert book.observed_at == NOW and book.outcome == "Yes"


def test_recorded_orderbook_and_market_fixtures():
    market = parse_kalshi_market(load("market_live_KXSPACEXSTARSHIP-12-26MAY19.json")["market"])
    assert market.market_id == "KXSPACEXSTARSHIP-12-26MAY19" and market.active is True
    book = parse_kalshi_orderbook(load("orderbook_fp.ccxt_comment.json"), market, observed_at=NOW)
    assert book.best_bid == 0.16 and book.best_ask == pytest.approx(0.84)
    points = list(parse_candles(load("candlesticks.ccxt_comment.json"), ticker="KXGDP"))
    assert points == [(datetime.fromtimestamp(1776109260, tz=UTC), 0.56)]


def test_price_history_live_and_historical_candles(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = listed(client)
    frame = client.price_history(markets[OPEN1])
    assert tuple(frame.columns) == HISTORY_COLUMNS
    assert frame["price"].tolist() == pytest.approx([0.40, 0.43, 0.43])  # mid when no trade
    assert (frame["outcome"] == "Yes").all() and (frame["kind"] == "history").all()
    call = next(r for r, _ in httpserver.log if "/series/KXBTCD/markets/" in r.path)
    assert call.args["period_interval"] == "60"
    assert call.args["start_ts"] == str(int(markets[OPEN1].created_at.timestamp()))
    old = client.price_history(markets[HISTORICAL])
    assert old["price"].tolist() == [0.21]
    assert any(
        r.path.startswith("/kalshi/historical/markets/KXBTCD-26AUG19") for r, _ in httpserver.log
    )


def test_orderbook_missing_field_is_clear_error(httpserver):
    httpserver.expect_request(re.compile(r"/kalshi/markets/.*/orderbook")).respond_with_json(
        {"orderbook": {"yes": [[41, 10]], "no": []}}
    )
    market = VenueMarket(venue="kalshi", market_id="KXBTCD-X", question="q")
    with pytest.raises(DataError, match=r"field 'orderbook_fp' is required"):
        make_client(httpserver).order_book(market)


def test_429_then_pages(httpserver):
    httpserver.expect_oneshot_request("/kalshi/historical/cutoff").respond_with_data(
        '{"error":"too many requests"}', status=429, headers={"Retry-After": "2"}
    )
    serve(httpserver)
    sleeps: list[float] = []
    assert len(listed(make_client(httpserver, sleeps))) == 4
    assert sleeps == [2.0]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, "oops", "failed after 4 attempt.*HTTP 500"),
        (200, '{"events": [{"event_ticker": "KX', "malformed JSON body"),
        (200, '{"cursor": ""}', "must hold a 'events' list"),
    ],
)
def test_events_failures(httpserver, status, body, message):
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_json(
        load("historical_cutoff.json")
    )
    httpserver.expect_request("/kalshi/events").respond_with_data(body, status=status)
    with pytest.raises((MarketUnavailable, DataError), match=message) as info:
        make_client(httpserver).list_markets(["BTC"])
    assert "\n" not in str(info.value) and "kalshi" in str(info.value)


def test_timeout_is_retried_then_clear(httpserver):
    def slow(request):
        time.sleep(0.4)
        return Response("{}", 200)

    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_handler(slow)
    client = make_client(httpserver, timeout_secs=0.1, max_retries=1)
    with pytest.raises(MarketUnavailable, match=r"timed out after 0.1 s"):
        client.list_markets(["BTC"])


def test_market_missing_ticker_is_clear_error():
    with pytest.raises(DataError, match=r"field 'ticker' is required"):
        parse_kalshi_market({"title": "Bitcoin?"})


@settings(max_examples=50, deadline=None)
@given(
    yes=st.lists(st.integers(1, 99), min_size=1, max_size=6, unique=True),
    no=st.lists(st.integers(1, 99), min_size=1, max_size=6, unique=True),
)
def test_orderbook_property(yes, no):
    def levels(cents):
        return [[f"{Decimal(c) / 100:.4f}", "1.00"] for c in cents]

    payload = {"orderbook_fp": {"yes_dollars": levels(yes), "no_dollars": levels(no)}}
    market = VenueMarket(venue="kalshi", market_id="T", question="q")
    book = parse_kalshi_orderbook(payload, market, observed_at=NOW)
    assert book.best_bid == max(yes) / 100
    assert book.best_ask == pytest.approx(1 - max(no) / 100)
