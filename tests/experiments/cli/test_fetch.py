"""``levercast fetch``/``record`` end to end against a local fake exchange (no network).

``fake_exchange`` answers every REST endpoint the fetchers call in the venues' recorded shapes
(generated for any window) and replays the DefiLlama payloads of ``tests/resources/reserves``
with their days moved to the present (``defillama_payload``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from levercast.experiments.cli.main import main
from levercast.experiments.ingest.fetch import fetch
from levercast.experiments.ingest.record import record
from levercast.features.dataset.store import Store
from tests.conftest import RESOURCES, make_dataset

HOUR_MS = 3_600_000
NOW = datetime(2026, 1, 10, 6, 30, tzinfo=UTC)
URL_VARS = [
    "LEVERCAST_BINANCE_FAPI_URL",
    "LEVERCAST_BINANCE_ARCHIVE_URL",
    "LEVERCAST_BYBIT_URL",
    "LEVERCAST_OKX_URL",
    "LEVERCAST_DERIBIT_URL",
    "LEVERCAST_COINGLASS_URL",
    "LEVERCAST_DEFILLAMA_URL",
]
MARKET_VARS = [
    "LEVERCAST_POLYMARKET_GAMMA_URL",
    "LEVERCAST_POLYMARKET_CLOB_URL",
    "LEVERCAST_KALSHI_URL",
]
KEY_VARS = [
    "LEVERCAST_CRYPTOQUANT_KEY",
    "LEVERCAST_GLASSNODE_KEY",
    "LEVERCAST_COINGLASS_KEY",
    "LEVERCAST_RESERVES_CSV",
    "LEVERCAST_DEFILLAMA_EXCHANGES",
]
DAY_S = 86_400


def _json(obj) -> Response:
    return Response(json.dumps(obj), content_type="application/json")


def _hours(start_ms: int, end_ms: int, *, step_ms: int = HOUR_MS) -> list[int]:
    first = start_ms + (-start_ms) % step_ms
    return list(range(first, end_ms + 1, step_ms))


def _price(t_ms: int) -> float:
    return 90_000 + (t_ms // HOUR_MS) % 97 * 10.0


def _oi_coins(t_ms: int) -> float:
    """Open interest that builds up and unwinds (a 13-hour cycle), so the map has new notional."""
    return 50_000 + (t_ms // HOUR_MS) % 13 * 400.0


def defillama_payload(slug: str, *, today: datetime | None = None) -> dict:
    """The recorded ``/protocol/{slug}`` payload with every ``date`` moved by whole days so that
    its last daily point is ``today`` 00:00 UTC (default: the current day)."""
    payload = json.loads((RESOURCES / "reserves" / f"defillama_protocol_{slug}.json").read_text())
    day = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    last = max(p["date"] for p in payload["tokens"] if p["date"] % DAY_S == 0)
    shift = int(day.timestamp()) - last

    def move(node):
        if isinstance(node, dict):
            return {k: (v + shift if k == "date" else move(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [move(v) for v in node]
        return node

    return move(payload)


def fake_exchange(request: Request) -> Response:
    """Every REST endpoint the fetchers call, generating hourly data for any window."""
    a, path = request.args, request.path
    if path == "/fapi/v1/klines":
        step = HOUR_MS if a["interval"] == "1h" else HOUR_MS // 2
        ts = _hours(int(a["startTime"]), int(a["endTime"]), step_ms=step)[: int(a["limit"])]
        return _json(
            [
                [
                    t,
                    str(_price(t)),
                    str(_price(t) + 50),
                    str(_price(t) - 50),
                    str(_price(t) + 5),
                    "12.5",
                    t + step - 1,
                    "0",
                    1,
                    "0",
                    "0",
                    "0",
                ]
                for t in ts
            ]
        )
    if path.startswith("/futures/data/"):
        ts = _hours(int(a["startTime"]), int(a["endTime"]))[: int(a["limit"])]
        return _json(
            [
                {
                    "symbol": a["symbol"],
                    "sumOpenInterest": str(1.6 * _oi_coins(t)),
                    "sumOpenInterestValue": str(1.6 * _oi_coins(t) * _price(t)),
                    "longShortRatio": "1.2",
                    "buySellRatio": "0.9",
                    "timestamp": t,
                }
                for t in ts
            ]
        )
    if path == "/fapi/v1/fundingRate":
        ts = _hours(int(a["startTime"]), int(a["endTime"]), step_ms=8 * HOUR_MS)
        return _json(
            [
                {"symbol": a["symbol"], "fundingRate": "0.0001", "fundingTime": t + 3}
                for t in ts[: int(a["limit"])]
            ]
        )
    if path.startswith("/v5/market/"):
        start = int(a.get("start") or a.get("startTime"))
        end = int(a.get("end") or a.get("endTime"))
        ts = _hours(start, end)[::-1][: int(a["limit"])]
        if path.endswith("/mark-price-kline"):
            rows = [[str(t), str(_price(t)), str(_price(t) + 40), str(_price(t) - 40),
                     str(_price(t) + 4)] for t in ts]  # fmt: skip
        elif path.endswith("/kline"):
            rows = [
                [
                    str(t),
                    str(_price(t)),
                    str(_price(t) + 50),
                    str(_price(t) - 50),
                    str(_price(t) + 5),
                    "100",
                    "9e6",
                ]
                for t in ts
            ]
        elif path.endswith("/funding/history"):
            rows = [
                {"symbol": a["symbol"], "fundingRate": "0.0001", "fundingRateTimestamp": str(t)}
                for t in ts
                if t % (8 * HOUR_MS) == 0
            ]
        elif path.endswith("/account-ratio"):
            rows = [
                {"symbol": a["symbol"], "buyRatio": "0.6", "sellRatio": "0.4", "timestamp": str(t)}
                for t in ts
            ]
        else:
            rows = [{"openInterest": str(_oi_coins(t)), "timestamp": str(t)} for t in ts]
        return _json({"retCode": 0, "retMsg": "OK", "result": {"list": rows, "nextPageCursor": ""}})
    if path.startswith("/api/v5/"):
        cursor = int(a.get("after") or a.get("end"))
        begin = int(a.get("begin", cursor - 100 * HOUR_MS))
        ts = [t for t in _hours(begin, cursor - 1)[::-1] if t > begin][: int(a["limit"])]
        if "candles" in path:
            rows = [
                [
                    str(t),
                    str(_price(t)),
                    str(_price(t) + 50),
                    str(_price(t) - 50),
                    str(_price(t) + 5),
                    "1000",
                    "10",
                    "9e5",
                    "1",
                ]
                for t in ts
            ]
        elif "funding" in path:
            rows = [
                {"instId": a["instId"], "fundingRate": "0.0001", "fundingTime": str(t)}
                for t in ts
                if t % (8 * HOUR_MS) == 0
            ]
        elif "open-interest" in path:
            rows = [
                [str(t), str(100 * 0.6 * _oi_coins(t)), str(0.6 * _oi_coins(t)),
                 str(0.6 * _oi_coins(t) * _price(t))]
                for t in ts
            ]  # fmt: skip
        else:
            rows = [[str(t), "0.95"] for t in ts]
        return _json({"code": "0", "msg": "", "data": rows})
    if path == "/api/v2/public/get_volatility_index_data":
        ts = _hours(int(a["start_timestamp"]), int(a["end_timestamp"]))
        return _json(
            {"result": {"data": [[t, 50, 51, 49, 50.5] for t in ts], "continuation": None}}
        )
    if path == "/api/futures/liquidation/aggregated-history":
        ts = _hours(int(a["start_time"]), int(a["end_time"]))
        return _json(
            {
                "code": "0",
                "data": [
                    {
                        "time": t,
                        "aggregated_long_liquidation_usd": 1e6,
                        "aggregated_short_liquidation_usd": 5e5,
                    }
                    for t in ts
                ],
            }
        )
    if path.startswith("/protocol/"):
        slug = path.rsplit("/", 1)[-1]
        if (RESOURCES / "reserves" / f"defillama_protocol_{slug}.json").exists():
            return _json(defillama_payload(slug))
    return Response("not found", status=404)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def offline_markets(monkeypatch):
    url = _closed_port_url()
    for name in MARKET_VARS:
        monkeypatch.setenv(name, url)
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def exchange(httpserver, monkeypatch, offline_markets):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    for name in URL_VARS:
        monkeypatch.setenv(name, httpserver.url_for("/").rstrip("/"))
    return httpserver


def _digest(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.iterdir())
        if p.is_file()
    }


def test_fetch_into_empty_store_then_data_check(exchange, tmp_path, monkeypatch, capsys):
    csv = tmp_path / "reserves.csv"
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    csv.write_text(f"date,reserve\n{yesterday - timedelta(days=1)},2400000\n{yesterday},2399000\n")
    monkeypatch.setenv("LEVERCAST_RESERVES_CSV", str(csv))
    monkeypatch.setenv("LEVERCAST_COINGLASS_KEY", "CG-TEST-SECRET")
    data = tmp_path / "data"
    since = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:00Z")
    code = main(["fetch", "all", "--asset", "BTC", "--since", since, "--data", str(data), "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert code == 0, result
    assert set(result["written"]) >= {
        "candles",
        "open_interest",
        "funding",
        "ratios",
        "implied_vol",
        "exchange_reserves",
        "liquidations",
    }
    assert all(
        rows > 0
        for table, rows in result["written"].items()
        if table not in {"markets", "market_prices"}
    )
    assert all("markets" in f["what"] for f in result["failed"])  # market hosts are offline
    assert "CG-TEST-SECRET" not in captured.out + captured.err
    store = Store(data)
    venues = set(store.read("candles")["venue"])
    assert venues == {"binance-usdm", "bybit", "okx"}
    assert set(store.read("open_interest")["venue"]) == {"binance", "bybit", "okx"}

    assert main(["data", "check", "--data", str(data), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    # every fetched table validates; only the tables of the market fetcher are missing
    assert report["problems"] == [
        f"{name}: required table missing from {data}" for name in ("markets", "market_prices")
    ]
    assert report["tables"]["candles"]["rows"] > 0

    at = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:00Z")
    assert main(["features", "--asset", "BTC", "--at", at, "--data", str(data), "--json"]) == 0
    snap = json.loads(capsys.readouterr().out)
    assert snap["features"]["price_usd"] is not None
    assert snap["features"]["funding_rate_8h"] is not None
    assert snap["sources"]

    before = _digest(data)
    code = main(["fetch", "all", "--asset", "BTC", "--data", str(data), "--json"])
    again = json.loads(capsys.readouterr().out)
    assert sum(again["written"].get(t, 0) for t in ("candles", "funding", "implied_vol")) <= 6
    # the market hosts still fail, so a run that had nothing new to write exits 2
    assert code == (2 if sum(again["written"].values()) == 0 else 0)
    assert set(_digest(data)) == set(before)


def test_fetch_all_offline_fails_with_one_line_and_unchanged_store(
    tmp_path, monkeypatch, offline_markets, capsys
):
    url = _closed_port_url()
    for name in URL_VARS:
        monkeypatch.setenv(name, url)
    data = make_dataset(tmp_path / "data", hours=48)
    before = _digest(data)
    code = main(["fetch", "all", "--data", str(data), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    result = json.loads(captured.out)
    assert sum(result["written"].values()) == 0 and result["failed"]
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("levercast: fetch all: nothing written;")
    assert "connection failed" in captured.err
    assert _digest(data) == before
    assert not (data / ".levercast.lock").exists()


@pytest.mark.parametrize("status", [429, 500, 503])
def test_server_errors_leave_the_store_byte_identical(httpserver, tmp_path, status):
    httpserver.expect_request(re.compile(".*")).respond_with_data(
        "busy", status=status, headers={"Retry-After": "0"}
    )
    data = make_dataset(tmp_path / "data", hours=48)
    before = _digest(data)
    result = fetch(
        Store(data),
        ["candles", "funding"],
        assets=["BTC"],
        venues=["bybit"],
        clients=_clients(httpserver),
        now=NOW,
        progress=io.StringIO(),
    )
    assert result["written"] == {}
    assert {f["what"] for f in result["failed"]} == {"candles bybit BTC 1h", "funding bybit BTC"}
    assert _digest(data) == before


@pytest.mark.parametrize(
    "body",
    [
        '{"retCode":0,"result":{"list":[["17',
        '{"retCode":0,"result":{"rows":[]}}',
        '{"retCode":0,"result":{"list":[["x","1","1","1","1","1","1"]]}}',
    ],
    ids=["truncated", "schema-drift", "bad-timestamp"],
)
def test_bad_bodies_leave_the_store_byte_identical(httpserver, tmp_path, body):
    httpserver.expect_request(re.compile(".*")).respond_with_data(body)
    data = make_dataset(tmp_path / "data", hours=48)
    before = _digest(data)
    result = fetch(
        Store(data),
        "candles",
        assets=["BTC"],
        venues=["bybit"],
        clients=_clients(httpserver),
        now=NOW,
        progress=io.StringIO(),
    )
    assert result["written"] == {} and len(result["failed"]) == 1
    assert _digest(data) == before


def test_partial_failure_stores_what_succeeded(httpserver, tmp_path):
    httpserver.expect_request(re.compile("/v5/.*")).respond_with_data("down", status=500)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    data = tmp_path / "data"
    result = fetch(
        Store(data),
        "funding",
        assets=["BTC", "ETH"],
        venues=["binance", "bybit"],
        since=NOW - timedelta(days=3),
        clients=_clients(httpserver),
        now=NOW,
        progress=io.StringIO(),
    )
    assert result["written"] == {"funding": 18}  # 9 funding times x 2 assets from Binance
    assert sorted(f["what"] for f in result["failed"]) == ["funding bybit BTC", "funding bybit ETH"]
    stored = Store(data).read("funding")
    assert set(stored["venue"]) == {"binance"}


def test_incremental_resume_and_idempotence(httpserver, tmp_path):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    store = Store(tmp_path / "data")
    clients = _clients(httpserver)
    first = fetch(
        store,
        "candles",
        assets=["BTC"],
        venues=["okx"],
        since=NOW - timedelta(days=2),
        clients=clients,
        now=NOW,
        progress=io.StringIO(),
    )
    assert first["written"] == {"candles": 47}  # 07:00 on day 1 .. 05:00 (06:00 is open)
    httpserver.clear_log()
    later = NOW + timedelta(hours=3)
    second = fetch(
        store,
        "candles",
        assets=["BTC"],
        venues=["okx"],
        clients=_clients(httpserver, now=later),
        now=later,
        progress=io.StringIO(),
    )
    assert second["written"] == {"candles": 3}
    begins = [int(r.args["after"]) for r, _ in httpserver.log]
    assert begins == [int(later.timestamp() * 1000)]
    before = _digest(tmp_path / "data")
    third = fetch(
        store,
        "candles",
        assets=["BTC"],
        venues=["okx"],
        since=NOW - timedelta(days=2),
        clients=_clients(httpserver, now=later),
        now=later,
        progress=io.StringIO(),
    )
    assert third["written"] == {"candles": 0}
    assert _digest(tmp_path / "data") == before


def _clients(server, now=NOW):
    from levercast.features.http import HttpClient, HttpSettings
    from levercast.features.sources.binance import BinanceClient
    from levercast.features.sources.binance_archive import BinanceArchive
    from levercast.features.sources.bybit import BybitClient
    from levercast.features.sources.deribit import DeribitClient
    from levercast.features.sources.okx import OkxClient

    def http():
        settings = HttpSettings(base_url=server.url_for("/"), max_retries=1, backoff_secs=0.01)
        return HttpClient(settings, sleep=lambda s: None)

    clock = lambda: now  # noqa: E731
    return {
        "binance": BinanceClient(http(), now=clock),
        "binance-archive": BinanceArchive(http(), now=clock),
        "bybit": BybitClient(http(), now=clock),
        "okx": OkxClient(http(), now=clock),
        "deribit": DeribitClient(http(), now=clock),
        "reserves": [],
        "coinglass": None,
    }


def test_record_derivatives_runs_rounds(httpserver, tmp_path):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    store = Store(tmp_path / "data")
    result = record(
        store,
        "derivatives",
        every="1s",
        assets=["BTC"],
        venues=["okx"],
        max_runs=2,
        clients=_clients(httpserver),
    )
    assert result["failed"] == []
    assert result["written"]["open_interest"] > 0 and result["written"]["ratios"] > 0


def test_record_liquidations_with_stub_listener(tmp_path):
    from levercast.features.sources.liquidation_stream import LiquidationEvent

    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    ready = threading.Event()
    calls = []

    def clock():
        calls.append(1)
        if len(calls) == 1:  # the first boundary is (almost) now: no real waiting
            ready.wait(5)
            return datetime(2026, 1, 1, 0, 4, 59, 990000, tzinfo=UTC)
        return datetime(2026, 1, 1, 0, 10, 1, tzinfo=UTC)

    def listen(venue, assets, on_events, stop, *, on_connect):
        on_connect(start)
        on_events(
            [LiquidationEvent(venue, "BTC", pd.Timestamp("2026-01-01T00:06Z"), "long", 1000.0)]
        )
        ready.set()
        stop.wait(5)

    result = record(
        Store(tmp_path / "data"),
        "liquidations",
        every="5m",
        assets=["BTC"],
        venues=["binance"],
        max_runs=1,
        listen=listen,
        clock=clock,
    )
    rows = Store(tmp_path / "data").read("liquidations")
    assert result["written"] == {"liquidations": 1}
    assert rows["ts"].tolist() == [pd.Timestamp("2026-01-01T00:05Z")]
    assert rows["long_usd"].tolist() == [1000.0] and rows["lower_bound"].tolist() == ["true"]


def test_fetch_markets_is_delegated(tmp_path, offline_markets, capsys):
    code = main(["fetch", "markets", "--venue", "binance", "--data", str(tmp_path), "--json"])
    assert code == 2
    result = json.loads(capsys.readouterr().out)
    assert "no venue of --venue ['binance'] serves markets" in result["failed"][0]["error"]


def test_fetch_all_lists_unconfigured_sources_as_skipped(exchange, tmp_path, monkeypatch):
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    store = Store(tmp_path / "data")
    since = datetime.now(UTC) - timedelta(hours=6)
    result = fetch(store, "all", assets=["BTC"], venues=["binance"], since=since)
    skipped = {s["what"] for s in result["skipped"]}
    assert {"reserves", "liquidations"} <= skipped
    assert not any(f["what"] in {"reserves", "liquidations"} for f in result["failed"])
    # DefiLlama needs no key: `fetch reserves` writes its rows, stamped with the fetch time
    before = datetime.now(UTC)
    keyless = fetch(store, "reserves", assets=["BTC"])
    assert keyless["failed"] == [] and keyless["written"]["exchange_reserves"] > 0
    rows = store.read("exchange_reserves")
    assert set(rows["source"]) == {
        "defillama",
        "defillama:binance-cex",
        "defillama:okx",
        "defillama:bybit",
    }
    assert (rows["available_at"] >= pd.Timestamp(before)).all()
    assert (rows["available_at"] == rows["fetched_at"]).all()
    monkeypatch.setenv("LEVERCAST_DEFILLAMA_EXCHANGES", "none")
    explicit = fetch(store, "reserves", assets=["BTC"])
    assert explicit["failed"][0]["what"] == "reserves"  # asked for by name: a failure


def test_record_derivatives_fetches_reserves_at_most_hourly(httpserver, tmp_path):
    from levercast.features.http import HttpClient, HttpSettings
    from levercast.features.sources.defillama import DefiLlamaReserves

    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    clients = _clients(httpserver, now=datetime.now(UTC))
    settings = HttpSettings(base_url=httpserver.url_for("/"), max_retries=1, backoff_secs=0.01)
    clients["reserves"] = [DefiLlamaReserves(HttpClient(settings, sleep=lambda s: None))]
    result = record(
        Store(tmp_path / "data"),
        "derivatives",
        every="1s",
        assets=["BTC"],
        venues=["okx", "defillama"],
        max_runs=2,
        clients=clients,
    )
    assert result["failed"] == []
    assert result["written"]["exchange_reserves"] > 0
    protocol_calls = [r for r, _ in httpserver.log if r.path.startswith("/protocol/")]
    assert len(protocol_calls) == 3  # one round: three exchanges, once


def test_bybit_open_interest_without_usd_is_fetched_again(httpserver, tmp_path):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake_exchange)
    ts = pd.date_range(NOW - timedelta(hours=30), periods=24, freq="1h").floor("h")
    old = pd.DataFrame(
        {
            "venue": "bybit",
            "asset": "BTC",
            "ts": ts,
            "available_at": ts + pd.Timedelta("1h"),
            "oi_base": 50_000.0,
            "oi_usd": float("nan"),  # as written before the mark price valued Bybit's coins
        }
    )
    store = Store(tmp_path / "data")
    with store.writer() as writer:
        writer.upsert("open_interest", old)
    result = fetch(
        store,
        "open-interest",
        assets=["BTC"],
        venues=["bybit"],
        clients=_clients(httpserver),  # no since: an incremental fetch
        now=NOW,
        progress=io.StringIO(),
    )
    assert result["failed"] == []
    rows = Store(tmp_path / "data").read("open_interest")
    assert rows["oi_usd"].notna().all() and set(ts) <= set(rows["ts"])
