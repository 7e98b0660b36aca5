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
from levercast.markets.fees import fee
from levercast.markets.kalshi.client import KalshiClient
from levercast.markets.kalshi.wire import (
    ineligible_reason,
    parse_candles,
    parse_historical_cutoff,
    parse_kalshi_event,
    parse_kalshi_market,
    parse_kalshi_orderbook,
    parse_kalshi_resolution,
    parse_kalshi_series,
)
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
    name = "historical_markets.json" if request.args["event_ticker"] == "KXBTCD-26AUG1917" else None
    body = load(name) if name else {"markets": [], "cursor": ""}
    return Response(json.dumps(body), 200)


def serve(httpserver) -> None:
    httpserver.expect_request("/kalshi/series/KXBTCD").respond_with_json(load("series_KXBTCD.json"))
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
    # The event title carries the fixing hour; the (deprecated) market title drops it.
    assert m.question == "Bitcoin price on Aug 28, 2026 at 5pm EDT? [$110,000 or above]"
    assert m.strike_type == "greater" and m.floor_strike == 109999.99
    assert m.series_ticker == "KXBTCD" and m.event_ticker == "KXBTCD-26AUG2817"
    assert m.event_title == "Bitcoin price on Aug 28, 2026 at 5pm EDT?"
    assert m.close_time == datetime(2026, 8, 28, 21, tzinfo=UTC) == m.end_date
    assert m.active is True and m.closed is False
    assert "simple average of the sixty seconds" in m.rules
    assert (m.fee_category, m.fee_multiplier, m.cadence) == ("quadratic", 1.0, "hourly")
    assert markets[OPEN2].question.startswith("Bitcoin price on Aug 28, 2026 at 5pm EDT?")
    events = [r for r, _ in httpserver.log if r.path == "/kalshi/events"]
    assert {r.args["series_ticker"] for r in events} == {"KXBTC", "KXBTCD"}
    assert any(r.args.get("cursor") == "page-2" for r in events)
    settled = [r for r in events if r.args["status"] == "settled"]
    assert settled[0].args["min_close_ts"] == str(int(NOW.timestamp()) - 3 * 86400)
    series = [r for r, _ in httpserver.log if r.path.startswith("/kalshi/series/KXBTCD")]
    assert [r.path for r in series if not r.path.endswith("candlesticks")] == [
        "/kalshi/series/KXBTCD"
    ]  # read once, and only for a series that has markets
    assert isinstance(client, MarketClient)


def test_historical_markets_are_asked_per_event_without_time_filters(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = listed(client)
    [call] = [r for r, _ in httpserver.log if r.path == "/kalshi/historical/markets"]
    # The endpoint takes one of tickers / event_ticker / series_ticker and no min_close_ts.
    assert dict(call.args) == {"event_ticker": "KXBTCD-26AUG1917", "limit": "1000"}
    old = markets[HISTORICAL]
    assert old.event_title == "Bitcoin price on Aug 19, 2026 at 5pm EDT?"
    assert old.question == "Bitcoin price on Aug 19, 2026 at 5pm EDT? [$112,000 or above]"


def test_series_failure_leaves_fee_fields_unknown_not_the_listing(httpserver):
    httpserver.expect_request("/kalshi/series/KXBTCD").respond_with_data("down", status=503)
    serve(httpserver)
    client = make_client(httpserver, max_retries=0)
    market = listed(client)[OPEN1]
    assert (market.fee_category, market.fee_multiplier) == (None, None)
    assert "fee fields unknown" in client.notes[0] and "HTTP 503" in client.notes[0]
    at = datetime(2026, 10, 1, tzinfo=UTC)
    assert fee("kalshi", "crypto", at, 0.5, 1, market=market) == 0.0175  # quadratic x1 assumed


def test_no_historical_reads_inside_the_live_window(httpserver):
    serve(httpserver)
    client = make_client(httpserver, resolved_lookback_days=1.0)  # since > market_settled_ts
    assert HISTORICAL not in listed(client)
    assert not [r for r, _ in httpserver.log if r.path == "/kalshi/historical/markets"]


def test_resolutions(httpserver):
    serve(httpserver)
    client = make_client(httpserver)
    markets = listed(client)
    settled = client.resolution(markets[SETTLED])
    assert settled is not None and settled.winning_outcome == "Yes"
    assert settled.resolved_at == datetime(2026, 8, 21, 21, 5, 12, tzinfo=UTC)
    assert settled.settled_value == 115230.12 and settled.source == "kalshi"
    historical = client.resolution(markets[HISTORICAL])
    assert historical is not None and historical.winning_outcome == "No"
    assert historical.settled_value == 111630.40
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


def test_429_without_retry_after_backs_off(httpserver):
    # Kalshi's 429s carry no Retry-After (getting_started/rate_limits); the body varies.
    httpserver.expect_oneshot_request("/kalshi/historical/cutoff").respond_with_data(
        '{"error":{"code":"too_many_requests","message":"too many requests"}}', status=429
    )
    serve(httpserver)
    sleeps: list[float] = []
    assert len(listed(make_client(httpserver, sleeps))) == 4
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= 0.5  # full jitter under backoff_secs


def test_orderbook_401_is_market_unavailable(httpserver):
    httpserver.expect_request(re.compile(r"/kalshi/markets/.*/orderbook")).respond_with_data(
        '{"error":"unauthorized"}', status=401
    )
    market = VenueMarket(venue="kalshi", market_id="KXBTCD-X", question="q")
    with pytest.raises(MarketUnavailable, match=r"HTTP 401"):
        make_client(httpserver).order_book(market)


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
    with pytest.raises(DataError, match=r"event title, field 'title' or field 'yes_sub_title'"):
        parse_kalshi_market({"ticker": "KX-1"})


def test_title_falls_back_to_event_then_market_then_subtitle():
    raw = load("events_KXBTCD_open_page2.json")["events"][0]["markets"][0]
    assert "title" not in raw  # the deprecated title is optional (OpenAPI 3.29+)
    assert parse_kalshi_market(raw).question == "$120,000 or above"
    with_title = dict(raw, title="Bitcoin price on Aug 28, 2026?")
    assert parse_kalshi_market(with_title).question == (
        "Bitcoin price on Aug 28, 2026? [$120,000 or above]"
    )
    assert parse_kalshi_market(with_title, event_title="E?").question == "E? [$120,000 or above]"


def test_recorded_2026_shapes_parse():
    """OpenAPI 3.31 shapes (tests/resources/kalshi/README.md): range ladder, 15-minute market,
    a settled market with the empty-book sentinels, suffixed and historical candles."""
    page = load("events_KXBTC_range_page.json")
    event = parse_kalshi_event(page["events"][0])
    assert event.cadence == "hourly" and event.title.startswith("Bitcoin price range")
    ranges = [parse_kalshi_market(m, series_ticker="KXBTC", event=event) for m in
              page["events"][0]["markets"]]  # fmt: skip
    assert ranges[0].strike_type == "between"
    assert (ranges[0].floor_strike, ranges[0].cap_strike) == (69750.0, 69999.99)
    assert ranges[0].question.endswith("[$69,750 to 69,999.99]")
    fifteen = load("market_KXBTC15M-26OCT061715-15.json")["market"]
    assert parse_kalshi_market(fifteen).strike_type == "greater_or_equal"
    settled = load("market_settled_KXBTCD-26OCT0517-T69999.99.json")["market"]
    resolution = parse_kalshi_resolution(settled)
    assert resolution is not None and resolution.winning_outcome == "Yes"
    assert resolution.settled_value == 70213.58
    assert resolution.resolved_at == datetime(2026, 10, 5, 21, 1, 3, 884000, tzinfo=UTC)
    live = list(parse_candles(load("candlesticks_KXBTCD-26OCT0617-T69999.99.json"), ticker="T"))
    assert [p for _, p in live] == pytest.approx([0.40, 0.43, 0.43])  # no trade: bid/ask mid
    old = load("historical_candlesticks_KXBTCD-26JUN1517-T107999.99.json")
    assert all(0 <= p <= 1 for _, p in parse_candles(old, ticker="T"))


def test_cutoff_times_are_independent():
    cutoff = parse_historical_cutoff(load("historical_cutoff.json"))
    assert cutoff.market_settled_ts == datetime(2026, 8, 20, tzinfo=UTC)
    assert cutoff.orders_updated_ts == datetime(2026, 8, 8, tzinfo=UTC)
    assert parse_historical_cutoff({"market_settled_ts": 1787184000}).market_settled_ts == (
        datetime(2026, 8, 20, tzinfo=UTC)
    )
    with pytest.raises(DataError, match=r"market_settled_ts.*ISO-8601"):
        parse_historical_cutoff({"market_settled_ts": "yesterday"})


def test_series_fees_flow_into_market_and_fee():
    series = parse_kalshi_series(load("series_KXBTCD.json"))
    assert (series.fee_type, series.fee_multiplier) == ("quadratic", 1.0)
    raw = load("market_settled_KXBTCD-26OCT0517-T69999.99.json")["market"]
    event = parse_kalshi_event(
        {"event_ticker": "E", "title": "T?", "fee_multiplier_override": 0.5,
         "fee_type_override": "quadratic_with_maker_fees"}
    )  # fmt: skip
    market = parse_kalshi_market(raw, series_ticker="KXBTCD", event=event, series=series)
    assert (market.fee_category, market.fee_multiplier) == ("quadratic_with_maker_fees", 0.5)
    at = datetime(2026, 10, 5, tzinfo=UTC)
    # 0.5 x 0.07 x 100 x 0.43 x 0.57 = 0.857850 -> $0.8579 (direct member)
    assert fee("kalshi", "crypto", at, 0.43, 100, market=market) == pytest.approx(0.8579)
    waived = parse_kalshi_market(
        dict(raw, fee_waiver_expiration_time="2026-12-01T00:00:00Z"), series=series
    )
    assert fee("kalshi", "crypto", at, 0.43, 100, market=waived) == 0.0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"market_type": "scalar"}, "market_type is 'scalar'"),
        ({"notional_value_dollars": "100.0000"}, "notional_value_dollars"),
        ({"settlement_bounds_type": "floor"}, "settlement_bounds_type is 'floor'"),
        ({"mve_collection_ticker": "KXMVE-1"}, "multivariate"),
    ],
)
def test_ineligible_markets_are_skipped_with_a_reason(httpserver, change, reason):
    raw = load("market_settled_KXBTCD-26OCT0517-T69999.99.json")["market"]
    assert ineligible_reason(raw) is None
    assert reason in ineligible_reason(dict(raw, **change))
    page = load("events_KXBTCD_open_page1.json")
    page["events"][0]["markets"][0].update(change)
    page["cursor"] = ""
    httpserver.expect_request("/kalshi/series/KXBTCD").respond_with_json(load("series_KXBTCD.json"))
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_json(
        load("historical_cutoff.json")
    )

    def events(request):
        args = request.args
        body = page if args["series_ticker"] == "KXBTCD" and args["status"] == "open" else None
        return Response(json.dumps(body or load("events_empty.json")), 200)

    httpserver.expect_request("/kalshi/events").respond_with_handler(events)
    client = make_client(httpserver)
    assert OPEN1 not in listed(client)
    assert reason in client.skipped[OPEN1]


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
