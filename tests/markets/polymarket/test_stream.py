"""BookStream (polymarket-client's market websocket) against a local websocket server."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from levercast.features.errors import ConfigError, MarketUnavailable
from levercast.markets.polymarket.stream import BookStream
from levercast.markets.settings import VenueSettings
from levercast.markets.types import VenueMarket
from tests.markets.polymarket.ws_server import (
    MarketWsServer,
    book_message,
    price_change_message,
)

NOW = datetime(2026, 8, 22, 16, 10, tzinfo=UTC)
A = VenueMarket(venue="polymarket", market_id="0xa", question="A?", token_ids=("101", "102"))
B = VenueMarket(venue="polymarket", market_id="0xb", question="B?", token_ids=("201", "202"))


def settings_for(server: MarketWsServer | None, **changes) -> VenueSettings:
    url = server.url if server else f"ws://127.0.0.1:{closed_port()}/ws/market"
    return VenueSettings(market_ws_url=url, **changes)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_books(asset: str, connection: int) -> list[dict]:
    bid = "0.41" if connection == 0 else "0.45"
    return [book_message(asset, [("0.38", "50"), (bid, "10")], [("0.47", "30"), ("0.43", "15")])]


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_connect_subscribe_and_books():
    with MarketWsServer(default_books) as server, BookStream(settings_for(server)) as stream:
        assert stream.watch([A, B]) == ["0xa", "0xb"]
        assert stream.wait_for_books([A, B], 5.0)
        batch = stream.drain()
        books = {b.market_id: (b, received) for b, received in batch.books}
        book, received = books["0xa"]
        assert book.best_bid == 0.41 and book.best_ask == 0.43 and book.tick_size == 0.01
        assert book.outcome == "Yes" and book.observed_at == datetime.fromtimestamp(
            1787414400, tz=UTC
        )
        assert received.tzinfo is not None and batch.dropped == 0 and batch.withheld == ()
        assert stream.drain().books == ()  # nothing changed since
        # the client's frames: one initial subscription, then one subscribe for B
        [frames] = server.connections
        assert frames[0]["type"] == "market" and frames[0]["assets_ids"] == ["101"]
        assert frames[1]["operation"] == "subscribe" and frames[1]["assets_ids"] == ["201"]
        assert stream.watch([B]) == []  # A is unsubscribed
        wait_until(lambda: any(f.get("operation") == "unsubscribe" for f in frames[2:]))
    assert not stream.running


def test_price_changes_update_the_book():
    def messages(asset: str, connection: int) -> list[dict]:
        return [
            *default_books(asset, 0),
            price_change_message(asset, "0.42", "7", "BUY"),  # a better bid
            price_change_message(asset, "0.43", "0", "SELL"),  # the best ask is gone
        ]

    with MarketWsServer(messages) as server, BookStream(settings_for(server)) as stream:
        stream.watch([A])
        wait_until(lambda: stream.received >= 3)
        [(book, _)] = stream.drain().books
        assert book.best_bid == 0.42 and book.best_ask == 0.47
        assert book.observed_at == datetime.fromtimestamp(1787414401, tz=UTC)


def test_reconnect_after_the_server_drops_the_connection():
    with (
        MarketWsServer(default_books, drop_first=True) as server,
        BookStream(settings_for(server)) as stream,
    ):
        stream.watch([A])
        wait_until(lambda: len(server.connections) == 2 and stream.received >= 2)
        [(book, _)] = stream.drain().books
        assert book.best_bid == 0.45  # the snapshot sent on the new connection
        assert server.subscribed() == [["101"], ["101"]]  # resubscribed on reconnect


@pytest.mark.parametrize(
    ("tail", "dropped", "best_bid", "withheld"),
    [
        # book, 5 changes, a new book: the backlog of 3 keeps c4, c5 and the new book
        (True, 4, 0.44, ()),
        # book, 5 changes: only changes are left, and a change needs a snapshot under it
        (False, 3, None, ("0xa",)),
    ],
)
def test_bounded_backlog_drops_oldest_and_withholds_incomplete_books(
    tail, dropped, best_bid, withheld
):
    def messages(asset: str, connection: int) -> list[dict]:
        out = default_books(asset, 0)
        out += [price_change_message(asset, f"0.3{i}", "1", "BUY") for i in range(5)]
        if tail:
            out.append(book_message(asset, [("0.44", "5")], [("0.46", "5")]))
        return out

    with MarketWsServer(messages) as server:
        settings = settings_for(server, stream_backlog=3)
        with BookStream(settings) as stream:
            stream.watch([A])
            wait_until(lambda: stream.received >= 6 + tail)
            batch = stream.drain()
    assert batch.dropped == dropped and batch.withheld == withheld
    assert [b.best_bid for b, _ in batch.books] == ([best_bid] if best_bid else [])


def test_subscribe_to_a_closed_port_is_market_unavailable():
    with BookStream(settings_for(None)) as stream:
        with pytest.raises(MarketUnavailable, match=r"polymarket websocket subscribe failed"):
            stream.watch([A])
    assert not stream.running


def test_use_before_start_is_config_error():
    with pytest.raises(ConfigError, match=r"must be started"):
        BookStream(VenueSettings()).watch([A])


def test_close_joins_the_thread():
    with MarketWsServer(default_books) as server:
        stream = BookStream(settings_for(server)).start()
        stream.watch([A])
        stream.close()
        stream.close()  # idempotent
    assert not any(
        t.name == "polymarket-book-stream" and t.is_alive() for t in threading.enumerate()
    )
