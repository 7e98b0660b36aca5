"""Liquidation stream parsing and aggregation (fixture payloads) and the websocket listener."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.dataset.schema import validate_table
from levercast.features.errors import ConfigError, DataError
from levercast.features.sources.liquidation_stream import (
    LiquidationEvent,
    aggregate_liquidations,
    listen,
    parse_binance_force_order,
    parse_bybit_liquidation,
    parse_message,
    parse_okx_liquidation,
)
from tests.conftest import RESOURCES

RES = RESOURCES


def load(name: str):
    return json.loads((RES / name).read_text())


def test_binance_force_order_fixture():
    (event,) = parse_binance_force_order(
        load("binance/ws_forceOrder.docs_example.json"), assets=["BTC"]
    )
    assert event.venue == "binance" and event.asset == "BTC"
    assert event.side == "long"  # a SELL liquidation order closes a long
    assert event.value_usd == pytest.approx(0.014 * 9910.12345678)
    assert event.ts == pd.Timestamp(1568014460893, unit="ms", tz="UTC")


def test_binance_combined_stream_and_other_assets():
    message = load("binance/ws_forceOrder.docs_example.json")
    wrapped = {"stream": "!forceOrder@arr", "data": message}
    assert len(parse_binance_force_order(wrapped, assets=["BTC"])) == 1
    assert parse_binance_force_order(message, assets=["ETH"]) == []


def test_bybit_all_liquidation_fixture():
    message = load("bybit/ws_allLiquidation.ccxt_comment.json")
    assert parse_bybit_liquidation(message, assets=["BTC"]) == []  # ROSEUSDT is not wanted
    (event,) = parse_bybit_liquidation(message, assets=["ROSE"])
    assert event.side == "short" and event.value_usd == pytest.approx(20000 * 0.04499)


def test_okx_liquidation_fixture_and_contract_value():
    message = load("okx/ws_liquidation-orders.ccxt_comment.json")
    assert parse_okx_liquidation(message, assets=["IOST"]) == []  # unknown contract value
    message["data"][0]["instId"] = "BTC-USDT-SWAP"
    (event,) = parse_okx_liquidation(message, assets=["BTC"])
    assert event.side == "short" and event.value_usd == pytest.approx(13 * 0.01 * 0.007831)
    assert parse_okx_liquidation({"event": "subscribe"}, assets=["BTC"]) == []


def test_parse_message_ignores_keepalives_and_rejects_drift():
    assert parse_message("okx", "pong", assets=["BTC"]) == []
    drifted = {"e": "forceOrder", "E": 1, "o": {"s": "BTCUSDT", "S": "SELL"}}
    with pytest.raises(DataError, match="field 'z' must be present"):
        parse_message("binance", json.dumps(drifted), assets=["BTC"])
    with pytest.raises(ConfigError, match="venue must be one of"):
        parse_message("kraken", "{}", assets=["BTC"])


def _event(minute: int, side: str, usd: float) -> LiquidationEvent:
    ts = pd.Timestamp("2026-01-01T00:00Z") + pd.Timedelta(minutes=minute)
    return LiquidationEvent("binance", "BTC", ts, side, usd)


def test_aggregate_only_covered_buckets_with_zeros():
    events = [
        _event(1, "long", 10.0),
        _event(3, "short", 5.0),
        _event(7, "long", 1.0),
        _event(20, "long", 100.0),
    ]
    out = aggregate_liquidations(
        events,
        interval="5m",
        series=[("binance", "BTC")],
        covered_from=datetime(2025, 12, 31, 23, 59, tzinfo=UTC),
        covered_until=datetime(2026, 1, 1, 0, 17, tzinfo=UTC),
    )
    validate_table("liquidations", out)
    assert list(out["ts"].dt.minute) == [0, 5, 10]  # 00:15-00:20 is not complete at 00:17
    assert list(out["long_usd"]) == [10.0, 1.0, 0.0]
    assert list(out["short_usd"]) == [5.0, 0.0, 0.0]
    assert out["lower_bound"].eq("true").all()
    assert (out["available_at"] - out["ts"] == pd.Timedelta("5min")).all()


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 59), st.sampled_from(["long", "short"]), st.floats(0, 1e6)),
        max_size=30,
    )
)
def test_aggregate_conserves_totals(items):
    events = [_event(m, side, usd) for m, side, usd in items]
    out = aggregate_liquidations(
        events,
        interval="15m",
        series=[("binance", "BTC")],
        covered_from=datetime(2026, 1, 1, tzinfo=UTC),
        covered_until=datetime(2026, 1, 1, 1, tzinfo=UTC),
    )
    assert len(out) == 4
    total = sum(usd for _, _, usd in items)
    assert out["long_usd"].sum() + out["short_usd"].sum() == pytest.approx(total, rel=1e-9)


def _serve_websocket(frames: list[str]) -> tuple[str, threading.Thread]:
    """A one-connection RFC 6455 server that sends ``frames`` as text messages, then idles."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def run():
        conn, _ = server.accept()
        with conn, server:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = re.search(rb"Sec-WebSocket-Key: (\S+)", request, re.IGNORECASE).group(1)
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            for text in frames:
                payload = text.encode()
                assert len(payload) < 126
                conn.sendall(bytes([0x81, len(payload)]) + payload)
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                while conn.recv(4096):
                    pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"ws://127.0.0.1:{port}/market/ws/!forceOrder@arr", thread


def test_listen_against_a_local_websocket_server(monkeypatch):
    message = load("binance/ws_forceOrder.docs_example.json")
    url, thread = _serve_websocket([_compact(message)])
    monkeypatch.setenv("LEVERCAST_BINANCE_WS_URL", url)
    stop = threading.Event()
    seen: list = []
    connects: list = []

    def on_events(events):
        seen.extend(events)
        stop.set()

    listen("binance", ["BTC"], on_events, stop, on_connect=connects.append, recv_timeout_secs=0.5)
    thread.join(timeout=5)
    assert len(seen) == 1 and seen[0].side == "long"
    assert connects and connects[0] is not None


def _compact(message) -> str:
    """The fixture without the fields the parser does not read, to fit a one-byte length."""
    order = {k: message["o"][k] for k in ("s", "S", "ap", "p", "z", "T")}
    return json.dumps({"o": order}, separators=(",", ":"))
