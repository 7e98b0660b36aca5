"""fetch_markets / record_books: the real clients against pytest-httpserver (and a local market
websocket for Polymarket's books), into a real store."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Response

from levercast.experiments.ingest.venues import fetch_markets, record_books
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.markets.kalshi.client import KalshiClient
from levercast.markets.polymarket.client import PolymarketClient
from levercast.markets.settings import VenueSettings
from tests.conftest import RESOURCES
from tests.markets.polymarket.ws_server import MarketWsServer, book_message

RES = RESOURCES
NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
C1 = "0x" + "a1" * 32
UPDOWN = "0x2eea28aa905ace2f5cace17ea2b9e0e7b85a27f32ee14ed292f02fa104956bc4"


def load(venue: str, name: str):
    return json.loads((RES / venue / name).read_text())


def json_response(body) -> Response:
    return Response(json.dumps(body), 200, content_type="application/json")


def pm_events(request):
    if request.args.get("closed") == "true":
        return json_response(load("polymarket", "events_keyset_closed.json"))
    page = "page2" if request.args.get("after_cursor") == "cursor-2" else "page1"
    return json_response(load("polymarket", f"events_keyset_open_{page}.json"))


def pm_history(request):
    if request.args["token_id"] != "1001":
        return json_response(load("polymarket", "data_v2_prices_history_empty.json"))
    page = "page2" if "cursor" in request.args else "page1"
    return json_response(load("polymarket", f"data_v2_prices_history_1001_{page}.json"))


def pm_books(request):
    book = load("polymarket", "book_1001.json")
    return json_response([dict(book, asset_id=i["token_id"]) for i in json.loads(request.data)])


def ws_books(asset: str, connection: int) -> list[dict]:
    """The websocket's snapshot: book_1001's levels (connection 0), a better bid after a drop."""
    bid = "0.41" if connection == 0 else "0.42"
    stamp = 1787414400000 + 60_000 * connection
    bids = [("0.38", "50"), ("0.40", "120.5"), (bid, "10")]
    asks = [("0.47", "30"), ("0.45", "80"), ("0.43", "15")]
    return [book_message(asset, bids, asks, timestamp_ms=stamp)]


def pm_book(request):
    name = "book_1001.json" if request.args["token_id"] == "1001" else "clob_book_empty_ask.json"
    return json_response(load("polymarket", name))


def kalshi_events(request):
    args = request.args
    if args["series_ticker"] != "KXBTCD":
        return json_response(load("kalshi", "events_empty.json"))
    if args["status"] == "settled":
        return json_response(load("kalshi", "events_KXBTCD_settled.json"))
    page = "page2" if args.get("cursor") == "page-2" else "page1"
    return json_response(load("kalshi", f"events_KXBTCD_open_{page}.json"))


def kalshi_historical(request):
    if request.args["event_ticker"] == "KXBTCD-26AUG1917":
        return json_response(load("kalshi", "historical_markets.json"))
    return json_response({"markets": [], "cursor": ""})


def serve(httpserver) -> None:
    httpserver.expect_request("/gamma/events/keyset").respond_with_handler(pm_events)
    httpserver.expect_request("/data/v2/prices-history").respond_with_handler(pm_history)
    httpserver.expect_request("/data/v2/resolutions").respond_with_json(
        load("polymarket", "data_v2_resolutions_updown.json")
    )
    httpserver.expect_request("/clob/book").respond_with_handler(pm_book)
    httpserver.expect_request("/clob/books", method="POST").respond_with_handler(pm_books)
    httpserver.expect_request("/kalshi/series/KXBTCD").respond_with_json(
        load("kalshi", "series_KXBTCD.json")
    )
    httpserver.expect_request("/kalshi/events").respond_with_handler(kalshi_events)
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_json(
        load("kalshi", "historical_cutoff.json")
    )
    httpserver.expect_request("/kalshi/historical/markets").respond_with_handler(kalshi_historical)
    httpserver.expect_request(re.compile(r"/kalshi/series/.+/candlesticks")).respond_with_json(
        load("kalshi", "candlesticks_KXBTCD.json")
    )
    httpserver.expect_request(
        re.compile(r"/kalshi/historical/markets/.+/candlesticks")
    ).respond_with_json(load("kalshi", "historical_candlesticks.json"))
    httpserver.expect_request(re.compile(r"/kalshi/markets/.+/orderbook")).respond_with_json(
        load("kalshi", "orderbook_KXBTCD.json")
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_clients(httpserver, ws_url: str | None = None, **changes):
    settings = VenueSettings(
        gamma_url=httpserver.url_for("/gamma"),
        clob_url=httpserver.url_for("/clob"),
        data_url=httpserver.url_for("/data"),
        kalshi_url=httpserver.url_for("/kalshi"),
        market_ws_url=ws_url or f"ws://127.0.0.1:{closed_port()}/ws/market",
        timeout_secs=2.0,
        gamma_min_interval_secs=0.0,
        clob_min_interval_secs=0.0,
        data_min_interval_secs=0.0,
        kalshi_min_interval_secs=0.0,
    )
    settings = replace(settings, **changes)
    kwargs = {"sleep": lambda s: None, "now": lambda: NOW, "seed": 0}
    return {
        "polymarket": PolymarketClient(settings, **kwargs),
        "kalshi": KalshiClient(settings, **kwargs),
    }


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*")) if p.is_file()}


def fetch(store, httpserver, venues="polymarket,kalshi", **changes):
    return fetch_markets(
        store, venues=venues, assets="BTC,ETH", clients=make_clients(httpserver, **changes)
    )


def test_fetch_into_empty_store(httpserver, tmp_path):
    serve(httpserver)
    store = Store(tmp_path / "data")
    result = fetch(store, httpserver)
    assert result["failed"] == []
    assert result["written"] == {"markets": 8, "market_prices": 5 + 3 * 3 + 1}
    markets = Store(tmp_path / "data").read("markets").set_index("market_id")
    assert markets.loc[C1, "outcomes"] == "Yes|No"
    assert markets.loc[C1, "token_ids"] == "1001|1002"
    assert markets.loc[C1, "condition_id"] == C1
    assert markets.loc[C1, "family"] == "bitcoin-above-on-august-28"
    assert markets.loc[UPDOWN, "winning_outcome"] == "Up"
    assert markets.loc[UPDOWN, "resolved_at"] == pd.Timestamp("2026-08-22T16:06:02Z")  # Data API
    kalshi = markets.loc["KXBTCD-26AUG2117-T114999.99"]
    assert kalshi["venue"] == "kalshi" and kalshi["winning_outcome"] == "Yes"
    assert pd.isna(kalshi["condition_id"]) and kalshi["family"] == "kxbtcd-26aug2117"
    prices = Store(tmp_path / "data").read("market_prices")
    assert set(prices["kind"]) == {"history"}
    assert (prices["available_at"] == prices["ts"]).all()


def test_fetch_is_idempotent_and_incremental(httpserver, tmp_path):
    serve(httpserver)
    store = Store(tmp_path / "data")
    fetch(store, httpserver)
    before = snapshot(store.root)
    httpserver.clear_log()
    again = fetch(Store(store.root), httpserver)
    assert again == {"written": {"markets": 0, "market_prices": 0}, "failed": []}
    assert snapshot(store.root) == before
    calls = [r for r, _ in httpserver.log if r.path == "/data/v2/prices-history"]
    first_token = next(r for r in calls if r.args["token_id"] == "1001")
    last_ts = 1787400000 + 3600 * 4
    assert first_token.args["start"] == str(last_ts + 1)


def test_known_market_keeps_its_stored_id(httpserver, synthetic_data):
    serve(httpserver)
    store = Store(synthetic_data)
    frame = store.read("markets").copy()
    frame.loc[0, "condition_id"] = C1
    frame.loc[0, "family"] = "btc-test"
    with store.writer() as w:
        w.upsert("markets", frame)
    fetch(store, httpserver, venues="polymarket")
    markets = Store(synthetic_data).read("markets").set_index("market_id")
    assert C1 not in markets.index
    assert markets.loc["m1", "question"].startswith("Will the price of Bitcoin be above $110,000")
    assert markets.loc["m1", "family"] == "bitcoin-above-on-august-28"


def fail_with(status: int, body: str, delay: float = 0.0):
    def handler(request):
        time.sleep(delay)
        return Response(body, status)

    return handler


FAILURES = {
    "500": fail_with(500, "oops"),
    "429": fail_with(429, "slow down"),
    "truncated": fail_with(200, '{"data": [{"timestamp": 17874'),
    "missing-field": fail_with(200, '{"prices": []}'),
    "timeout": fail_with(200, '{"data": []}', delay=0.3),
}


@pytest.mark.parametrize("mode", sorted(FAILURES))
def test_failure_midway_leaves_store_byte_identical(httpserver, tmp_path, mode):
    serve(httpserver)
    store = Store(tmp_path / "data")
    fetch(store, httpserver)
    before = snapshot(store.root)
    httpserver.clear()
    # Gamma listing succeeds, then the second token's history fails: the venue is half-fetched.
    failing = FAILURES[mode]

    def history(request):
        return failing(request) if request.args["token_id"] == "1002" else pm_history(request)

    httpserver.expect_request("/data/v2/prices-history").respond_with_handler(history)
    serve(httpserver)
    result = fetch(Store(store.root), httpserver, venues="polymarket", timeout_secs=0.1)
    assert result["written"] == {"markets": 0, "market_prices": 0}
    [failure] = result["failed"]
    assert failure["what"] == "polymarket markets" and "\n" not in failure["error"]
    assert snapshot(store.root) == before


def test_fetch_of_one_failing_venue_still_writes_the_other(httpserver, tmp_path):
    serve(httpserver)
    httpserver.clear()
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_data("down", status=503)
    serve(httpserver)
    result = fetch(Store(tmp_path / "data"), httpserver)
    assert result["written"]["markets"] == 4
    assert [f["what"] for f in result["failed"]] == ["kalshi markets"]
    assert "HTTP 503" in result["failed"][0]["error"]


def test_fetch_reports_a_series_without_fee_fields(httpserver, tmp_path):
    httpserver.expect_request("/kalshi/series/KXBTCD").respond_with_data("down", status=503)
    serve(httpserver)
    result = fetch(Store(tmp_path / "data"), httpserver, venues="kalshi", max_retries=0)
    assert result["written"]["markets"] == 4
    [note] = result["failed"]
    assert note["what"] == "kalshi markets" and "fee fields unknown" in note["error"]


def test_no_network_fails_with_one_line_and_unchanged_store(monkeypatch, synthetic_data):
    for var in ("POLYMARKET_GAMMA_URL", "POLYMARKET_CLOB_URL", "POLYMARKET_DATA_URL", "KALSHI_URL"):
        monkeypatch.setenv(f"LEVERCAST_{var}", "http://127.0.0.1:9")
    monkeypatch.setenv("LEVERCAST_HTTP_MAX_RETRIES", "1")
    before = snapshot(synthetic_data)
    result = fetch_markets(Store(synthetic_data), venues=None, assets=None)
    assert result["written"] == {"markets": 0, "market_prices": 0}
    assert [f["what"] for f in result["failed"]] == ["polymarket markets", "kalshi markets"]
    assert all(
        "connection failed" in f["error"] and "\n" not in f["error"] for f in result["failed"]
    )
    assert snapshot(synthetic_data) == before


def test_bad_venue_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"venue must be one of .* found 'binance'"):
        fetch_markets(Store(tmp_path), venues="binance", assets="BTC", clients={})


def check_one_round(books: pd.DataFrame) -> None:
    c1 = books[books["market_id"] == C1]
    assert set(c1["side"]) == {"bid", "ask"} and len(c1) == 6
    assert c1.loc[c1["side"] == "bid", "price"].max() == 0.41
    assert (books["available_at"] >= books["ts"]).all()
    kalshi = books[books["market_id"] == "KXBTCD-26AUG2817-T109999.99"]
    assert kalshi.loc[kalshi["side"] == "ask", "price"].min() == pytest.approx(0.44)
    assert UPDOWN not in set(books["market_id"])  # closed markets have no live book


def test_record_books_one_round_on_the_websocket(httpserver, tmp_path):
    serve(httpserver)
    store = Store(tmp_path / "data")
    with MarketWsServer(ws_books) as ws:
        result = record_books(
            store,
            every="5m",
            venues="polymarket,kalshi",
            assets="BTC,ETH",
            max_runs=1,
            clients=make_clients(httpserver, ws.url),
            now=lambda: NOW,
        )
    assert result["failed"] == []
    books = Store(store.root).read("books")
    assert result["written"] == {"books": len(books)}
    check_one_round(books)
    assert sorted(a for frames in ws.subscribed() for a in frames) == ["1001", "2001", "3001"]
    assert not [r for r, _ in httpserver.log if r.path.startswith("/clob/book")]  # no REST


def test_record_books_falls_back_to_rest_when_the_websocket_is_down(httpserver, tmp_path):
    serve(httpserver)
    store = Store(tmp_path / "data")
    result = record_books(
        store,
        every="5m",
        venues="polymarket,kalshi",
        assets="BTC,ETH",
        max_runs=1,
        clients=make_clients(httpserver),  # the websocket URL is a closed port
        now=lambda: NOW,
    )
    [failure] = result["failed"]
    assert failure["what"] == "polymarket books stream" and "subscribe failed" in failure["error"]
    check_one_round(Store(store.root).read("books"))
    assert [r.path for r, _ in httpserver.log if r.path.startswith("/clob/book")] == ["/clob/books"]


def test_record_books_survives_a_dropped_websocket(httpserver, tmp_path):
    serve(httpserver)
    store = Store(tmp_path / "data")
    with MarketWsServer(ws_books, drop_first=True) as ws:
        result = record_books(
            store,
            every=timedelta(seconds=1.5),
            venues="polymarket",
            assets="ETH",
            max_runs=2,
            clients=make_clients(httpserver, ws.url),
            now=lambda: NOW,
        )
        assert len(ws.connections) == 2  # the SDK reconnected and resubscribed
    assert result["failed"] == []
    books = Store(store.root).read("books")
    bids = books[books["side"] == "bid"].groupby("ts")["price"].max()
    # the snapshot before the drop, then the one the server sent on the new connection
    assert bids.tolist() == [0.41, 0.42]


@pytest.mark.parametrize("venue", ["kalshi", "polymarket"])
def test_record_books_stops_on_sigterm(httpserver, tmp_path, venue):
    serve(httpserver)
    store = Store(tmp_path / "data")
    timer = threading.Timer(1.0, os.kill, args=(os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM)
    with MarketWsServer(ws_books) as ws:
        timer.start()
        started = time.monotonic()
        try:
            result = record_books(
                store,
                every="1h",
                venues=venue,
                assets="BTC",
                clients=make_clients(httpserver, ws.url),
                now=lambda: NOW,
            )
        finally:
            timer.cancel()
    assert time.monotonic() - started < 10
    assert result["written"]["books"] > 0 and result["failed"] == []
    streams = [t for t in threading.enumerate() if t.name == "polymarket-book-stream"]
    assert not [t for t in streams if t.is_alive()]  # the websocket thread was joined
    with Store(store.root).writer(timeout_secs=0.5):  # the lock was released (the file may stay)
        pass
    assert signal.getsignal(signal.SIGTERM) == previous


def test_record_books_failure_is_reported_not_written(httpserver, tmp_path):
    httpserver.expect_request("/kalshi/historical/cutoff").respond_with_data("down", status=500)
    store = Store(tmp_path / "data")
    result = record_books(
        store,
        every="5m",
        venues="kalshi",
        assets="BTC",
        max_runs=1,
        clients=make_clients(httpserver),
    )
    assert result["written"] == {"books": 0}
    assert result["failed"][0]["what"] == "kalshi books"
    assert not store.has("books")


def test_fetch_then_parse_then_price_end_to_end(httpserver, tmp_path, capsys):
    """Markets fetched from the local venues parse (Kalshi included) and price on the store."""
    from levercast.experiments.cli.main import main
    from tests.conftest import make_candles

    serve(httpserver)
    data = tmp_path / "data"
    store = Store(data)
    assert fetch(store, httpserver)["failed"] == []
    with store.writer() as w:  # what `fetch candles` would add (tested in test_fetch_cli.py)
        w.upsert("candles", make_candles(start="2026-07-01T00:00Z", hours=24 * 70,
                                         venue="binance-usdm", spot=110_000.0))  # fmt: skip
    assert main(["parse", "--data", str(data), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    by_id = {row["market_id"]: row for row in parsed}
    assert "contract" in by_id[C1]
    kalshi = by_id["KXBTCD-26AUG2117-T114999.99"]
    assert kalshi["contract"]["kind"] == "close_above"
    assert kalshi["contract"]["resolution"]["source"] == "cf-brti"
    spec = json.dumps(by_id[C1]["contract"])
    at = "2026-08-22T16:00Z"
    assert main(["price", spec, "--at", at, "--data", str(data), "--json", "--model", "gbm"]) == 0
    forecast = json.loads(capsys.readouterr().out)
    assert 0.0 <= forecast["prob"] <= 1.0
    assert forecast["inputs"]["spot_venue"] == "binance-usdm"
