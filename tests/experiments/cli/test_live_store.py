"""Issue 16 "every written source is read": a store filled only by ``levercast fetch`` and
``record`` from recorded payloads on local servers gets live leverage features.

The REST venues are ``tests.experiments.cli.test_fetch.fake_exchange`` (the venues' shapes,
generated for any window; DefiLlama's recorded payloads with their days moved to today); the
liquidation streams are local websocket servers replaying the recorded stream messages with their
times moved to now. The store is filled with the real clock, as a user would fill it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from levercast.experiments.cli.main import main
from levercast.experiments.ingest.record import record
from levercast.features.dataset.store import Store
from tests.conftest import RESOURCES
from tests.experiments.cli.test_fetch import KEY_VARS, URL_VARS, fake_exchange

WS_VARS = {
    "binance": "LEVERCAST_BINANCE_WS_URL",
    "bybit": "LEVERCAST_BYBIT_WS_URL",
    "okx": "LEVERCAST_OKX_WS_URL",
}
# Features the issue names: OI, map, clusters, distances, dominance, ELR.
LIVE = (
    "oi_usd",
    "oi_change_1d",
    "liq_long_nearest_dist_pct",
    "liq_short_nearest_dist_pct",
    "liq_long_largest_dist_vol",
    "liq_short_largest_dist_vol",
    "liq_mass_above_5pct_usd",
    "oi_dominance_score",
    "dominance_top_trader",
    "dominance_taker",
    "dominance_account",
    "dominance_oi_flow",
    "dominance_funding",
    "elr",
    "elr_proxy_oi_supply",
)


def _frame(text: str) -> bytes:
    payload = text.encode()
    if len(payload) < 126:
        return bytes([0x81, len(payload)]) + payload
    return bytes([0x81, 126]) + len(payload).to_bytes(2, "big") + payload


def serve_websocket(messages: list[str]) -> tuple[str, threading.Event]:
    """A one-connection RFC 6455 server: handshake, ``messages`` as text frames, then idle.

    Returns its URL and an event set once every message was sent."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    sent = threading.Event()

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
            for text in messages:
                conn.sendall(_frame(text))
            sent.set()
            conn.settimeout(10)
            with contextlib.suppress(OSError):
                while conn.recv(4096):
                    pass

    threading.Thread(target=run, daemon=True).start()
    return f"ws://127.0.0.1:{server.getsockname()[1]}/ws", sent


def _load(name: str) -> dict:
    return json.loads((RESOURCES / name).read_text())


def stream_messages(at: datetime) -> dict[str, str]:
    """The recorded liquidation messages of the three streams, for BTC, timed at ``at``."""
    ms = int(at.timestamp() * 1000)
    binance = _load("binance/ws_forceOrder.docs_example.json")
    binance["o"].update(T=ms, z="2.0", ap="90000")  # a long liquidated: $180k
    bybit = _load("bybit/ws_allLiquidation.ccxt_comment.json")
    bybit["topic"] = "allLiquidation.BTCUSDT"
    bybit["data"][0].update(T=ms, s="BTCUSDT", S="Sell", v="1.0", p="90000")  # a short: $90k
    okx = _load("okx/ws_liquidation-orders.ccxt_comment.json")
    okx["data"][0].update(instId="BTC-USDT-SWAP", instFamily="BTC-USDT", uly="BTC-USDT")
    okx["data"][0]["details"][0].update(ts=str(ms), sz="100", bkPx="90000")  # 1 BTC short
    messages = {"binance": binance, "bybit": bybit, "okx": okx}
    return {venue: json.dumps(m, separators=(",", ":")) for venue, m in messages.items()}


@pytest.fixture
def venues(httpserver, monkeypatch):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    for name in URL_VARS:
        monkeypatch.setenv(name, httpserver.url_for("/").rstrip("/"))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    offline = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    for name in ("LEVERCAST_POLYMARKET_GAMMA_URL", "LEVERCAST_POLYMARKET_CLOB_URL"):
        monkeypatch.setenv(name, offline)
    monkeypatch.setenv("LEVERCAST_KALSHI_URL", offline)
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    return httpserver


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_liquidations(data, monkeypatch, *, connected: datetime, until: datetime) -> dict:
    """``record liquidations --every 5m`` on the three local streams; the recorder's clock jumps
    from the first bucket boundary to ``until`` so that an hour of buckets is flushed at once."""
    sent = []
    for venue, message in stream_messages(connected + timedelta(minutes=10)).items():
        url, done = serve_websocket([message])
        monkeypatch.setenv(WS_VARS[venue], url)
        sent.append(done)
    calls = []

    def clock():
        calls.append(1)
        if len(calls) == 1:
            for done in sent:
                done.wait(10)
            time.sleep(0.5)  # the listeners parse what they received
            now = datetime.now(UTC)
            boundary = now - (now - datetime.min.replace(tzinfo=UTC)) % timedelta(minutes=5)
            return boundary + timedelta(minutes=5) - timedelta(milliseconds=5)
        return until

    return record(
        Store(data),
        "liquidations",
        every="5m",
        assets=["BTC"],
        max_runs=1,
        clock=clock,
    )


def test_a_fetched_and_recorded_store_has_live_leverage_features(venues, tmp_path, monkeypatch):
    data = tmp_path / "data"
    _clear_of_funding_time()
    since = _iso(datetime.now(UTC) - timedelta(days=10))
    code = main(["fetch", "all", "--asset", "BTC", "--since", since, "--data", str(data), "--json"])
    assert code == 0
    # the first whole second after the fetch: every fetched row and the reserve fetch time are
    # known, and no funding time has passed since the funding fetch
    at = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    stored = Store(data)
    oi = stored.read("open_interest")
    assert oi["oi_usd"].notna().all()  # Bybit's coins are valued at the mark price
    assert set(oi["venue"]) == {"binance", "bybit", "okx"}
    assert "defillama" in set(stored.read("exchange_reserves")["source"])

    connected = datetime.now(UTC)
    later = connected + timedelta(minutes=66)
    result = _record_liquidations(data, monkeypatch, connected=connected, until=later)
    assert result["failed"] == [] and result["written"]["liquidations"] >= 3 * 12

    snap = _features(at, data)
    missing = {n: snap["missing"].get(n) for n in LIVE if snap["features"][n] is None}
    assert not missing, missing
    assert snap["features"]["oi_dominance_inputs"] == 5.0
    assert snap["clusters"], "the map has clusters"
    sources = snap["sources"]
    assert sources["open_interest"]["venue"] == "binance+bybit+okx"
    assert sources["open_interest_flow"]["venue"] == "binance+bybit+okx"
    assert sources["exchange_reserves"]["venue"] == "defillama"
    assert sources["account_ratio"]["venue"] == "binance"

    # the recorder's buckets are read: per exchange, and summed as the liquidations input
    late = _features(later.replace(second=0, microsecond=0), data)
    values = late["features"]
    assert late["sources"]["liquidations"]["venue"] == "binance+bybit+okx"
    assert values["liq_total_usd_1h_binance"] == pytest.approx(180_000.0)
    assert values["liq_skew_1h_binance"] == 1.0
    assert values["liq_skew_1h_bybit"] == -1.0
    assert values["liq_total_usd_1h_okx"] == pytest.approx(90_000.0)
    assert values["liq_total_usd_1h"] == pytest.approx(360_000.0)
    assert values["liq_cascade_1h"] is None  # no 30 days of totals recorded yet
    assert "of 720 hourly totals" in late["missing"]["liq_total_usd_1h_q95_30d"]


def _clear_of_funding_time(margin: timedelta = timedelta(minutes=2)) -> None:
    """Wait until the next 8-hourly funding time is more than ``margin`` away.

    A fetch that ends just before 00:00, 08:00 or 16:00 UTC followed by features a little after
    it would rightly report the funding row due at that time as missing (the store was filled
    before it existed); the test reads features right after its fetch, inside this margin."""
    now = datetime.now(UTC)
    since_funding = (now - datetime.min.replace(tzinfo=UTC)) % timedelta(hours=8)
    wait = timedelta(hours=8) - since_funding
    if wait <= margin:
        time.sleep(wait.total_seconds() + 1.0)


def _features(at: datetime, data) -> dict:
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["features", "--asset", "BTC", "--at", _iso(at), "--data", str(data), "--json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_the_reserve_fetch_time_bounds_elr(venues, tmp_path):
    """DefiLlama rows are known only from their fetch time: before it, ELR has no reserve."""
    data = tmp_path / "data"
    since = _iso(datetime.now(UTC) - timedelta(days=3))
    before = datetime.now(UTC) - timedelta(minutes=2)
    assert main(["fetch", "reserves", "--asset", "BTC", "--since", since, "--data", str(data)]) == 0
    rows = Store(data).read("exchange_reserves")
    assert (rows["available_at"] > pd.Timestamp(before)).all()
    assert rows["ts"].min() < pd.Timestamp(before)  # history, yet not known before the fetch
