"""The network fault suite (issue 19): every source against loopback servers that misbehave.

Each fault (trickle, hang, same page forever, redirect loop, 429 with Retry-After, 5xx, truncated
body, HTML body, schema drift) is played against every REST source client with a 2 s deadline.
Each case asserts a clear one-line error of the vocabulary (``MarketUnavailable`` for the
network, ``DataError`` for a payload of the wrong shape), a bounded time, and that no secret of
the source appears in the message. ``fetch`` cases then assert that the store is byte-identical
after a fault, that the CLI exits 2 with one line, and that one venue's fault keeps the other
venues' rows.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from levercast.experiments.cli.main import main
from levercast.experiments.ingest.fetch import fetch
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError, ForecastError, MarketUnavailable
from levercast.features.http import HttpClient, HttpSettings
from levercast.features.sources.binance import BinanceClient
from levercast.features.sources.binance_archive import BinanceArchive
from levercast.features.sources.bybit import BybitClient
from levercast.features.sources.defillama import DefiLlamaReserves
from levercast.features.sources.deribit import DeribitClient
from levercast.features.sources.okx import OkxClient
from levercast.features.sources.reserves import GlassnodeReserves
from tests.conftest import make_dataset
from tests.faults.servers import (
    Behaviour,
    fault_server,
    hang,
    json_body,
    respond,
    response_bytes,
    trickle,
    truncated,
)

NOW = datetime(2026, 1, 10, tzinfo=UTC)
UNTIL = datetime(2026, 1, 9, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=20)
DEADLINE_SECS = 2.0
BOUND_SECS = 5.0  # deadline + retries' backoff + process noise; the old code took 240-420 s
SECRET = "GN-SECRET-KEY-42"


def _http(url: str) -> HttpClient:
    settings = HttpSettings(
        base_url=url, deadline_secs=DEADLINE_SECS, timeout_secs=1.0, max_retries=2,
        backoff_secs=0.05, max_backoff_secs=1.0,
    )  # fmt: skip
    return HttpClient(settings, seed=0)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _hours_back(n: int) -> list[datetime]:
    return [UNTIL - timedelta(hours=i + 1) for i in range(n)]


# One full page per source (so the walk asks for another), served forever: the same page.
FULL_PAGES: dict[str, Any] = {
    "binance": [
        {"symbol": "BTCUSDT", "fundingTime": _ms(t), "fundingRate": "0.0001"}
        for t in reversed(_hours_back(1000))
    ],
    "bybit": {
        "retCode": 0,
        "result": {
            "list": [
                {"fundingRateTimestamp": str(_ms(t)), "fundingRate": "0.0001"}
                for t in _hours_back(200)
            ]
        },
    },
    "okx": {
        "code": "0",
        "data": [{"fundingTime": str(_ms(t)), "fundingRate": "0.0001"} for t in _hours_back(100)],
    },
    "deribit": {
        "result": {
            "data": [[_ms(t), 50, 51, 49, 50] for t in reversed(_hours_back(100))],
            "continuation": _ms(UNTIL - timedelta(hours=100)),
        }
    },
    "glassnode": [{"t": int(t.timestamp()), "v": 1.0} for t in _hours_back(10)],
}

Call = Callable[[str], object]


def _glassnode(url: str) -> object:
    return GlassnodeReserves(_http(url), now=lambda: NOW).reserves("BTC", since=SINCE, until=UNTIL)


SOURCES: dict[str, Call] = {
    "binance": lambda url: BinanceClient(_http(url), now=lambda: NOW).funding(
        "BTC", since=SINCE, until=UNTIL
    ),
    "bybit": lambda url: BybitClient(_http(url), now=lambda: NOW).funding(
        "BTC", since=SINCE, until=UNTIL
    ),
    "okx": lambda url: OkxClient(_http(url), now=lambda: NOW).funding(
        "BTC", since=SINCE, until=UNTIL
    ),
    "deribit": lambda url: DeribitClient(_http(url), now=lambda: NOW).implied_vol(
        "BTC", since=SINCE, until=UNTIL
    ),
    "glassnode": _glassnode,
    "binance-archive": lambda url: BinanceArchive(_http(url), now=lambda: NOW).klines(
        "BTC", interval="1h", since=SINCE, until=UNTIL
    ),
    "defillama": lambda url: DefiLlamaReserves(_http(url), now=lambda: NOW).reserves(
        "BTC", since=SINCE, until=UNTIL
    ),
}


def _redirect_to_self(conn, request) -> None:
    conn.sendall(response_bytes(b"", status="302 Found", headers={"Location": request.target}))


FAULTS: dict[str, tuple[Callable[[str], Behaviour], type[ForecastError], str]] = {
    "trickle-headers": (
        lambda source: trickle(0.3, headers_too=True),
        MarketUnavailable,
        "timed out: total deadline of 2 s exceeded",
    ),
    "trickle-body": (
        lambda source: trickle(0.3, headers_too=False),
        MarketUnavailable,
        "timed out: total deadline of 2 s exceeded",
    ),
    "hang": (lambda source: hang, MarketUnavailable, "timed out"),
    "same-page-forever": (
        lambda source: respond(json_body(FULL_PAGES[source])),
        MarketUnavailable,
        "pagination stopped: ",
    ),
    "redirect-loop": (lambda source: _redirect_to_self, MarketUnavailable, "redirect loop"),
    "429-retry-after": (
        lambda source: respond(
            b"slow down", status="429 Too Many Requests", headers={"Retry-After": "1"}
        ),
        MarketUnavailable,
        r"failed after \d attempt\(s\): HTTP 429",
    ),
    "429-retry-after-an-hour": (  # capped at max_backoff_secs, bounded by the deadline
        lambda source: respond(
            b"", status="429 Too Many Requests", headers={"Retry-After": "3600"}
        ),
        MarketUnavailable,
        r"failed after \d attempt\(s\): HTTP 429",
    ),
    "5xx": (
        lambda source: respond(b"upstream down", status="503 Service Unavailable"),
        MarketUnavailable,
        r"failed after 3 attempt\(s\): HTTP 503",
    ),
    "truncated-body": (
        lambda source: truncated(b'[{"fundingTime": 1', declared=5000),
        MarketUnavailable,
        "truncated body or dropped connection",
    ),
    "html-body": (
        lambda source: respond(
            b"<!DOCTYPE html><html><body>Attention Required</body></html>",
            headers={"Content-Type": "text/html"},
        ),
        MarketUnavailable,
        "an HTML page instead of JSON",
    ),
    "schema-drift": (
        lambda source: respond(json_body({"unexpected": "shape", "api_key": SECRET})),
        DataError,
        "must be",
    ),
}

# The archive reads zip files, not JSON: pagination, HTML and schema drift do not apply to its
# transport (a wrong zip fails its checksum, tested in test_binance_archive.py).
SKIP = {
    ("binance-archive", "same-page-forever"),
    ("binance-archive", "html-body"),
    ("binance-archive", "schema-drift"),
    ("glassnode", "same-page-forever"),  # one request, no pagination
    ("defillama", "same-page-forever"),  # one request per exchange, no pagination
}
CASES = [
    pytest.param(source, fault, id=f"{source}-{fault}")
    for source in SOURCES
    for fault in FAULTS
    if (source, fault) not in SKIP
]


@pytest.mark.parametrize(("source", "fault"), CASES)
def test_each_source_fails_clearly_and_in_bounded_time(monkeypatch, source, fault):
    monkeypatch.setenv("LEVERCAST_GLASSNODE_KEY", SECRET)
    behaviour, error, match = FAULTS[fault]
    with fault_server(behaviour(source)) as server:
        started = time.monotonic()
        with pytest.raises(error, match=match) as info:
            SOURCES[source](server.url)
        elapsed = time.monotonic() - started
    message = str(info.value)
    assert elapsed < BOUND_SECS, f"{source} {fault}: {elapsed:.1f} s"
    assert "\n" not in message and len(message) < 600
    assert SECRET not in message  # the key goes out as ?api_key= for Glassnode
    assert "Traceback" not in message


# -- through fetch: the store is unchanged, other venues keep their rows ---------------------------
def _tables(root) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*.parquet")}


def _funding_page() -> list[dict[str, Any]]:
    start = NOW - timedelta(days=2)
    return [
        {"symbol": "BTCUSDT", "fundingTime": _ms(start + timedelta(hours=8 * i)),
         "fundingRate": "0.0001"}
        for i in range(6)
    ]  # fmt: skip


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_leaves_the_store_byte_identical(tmp_path, fault):
    data = make_dataset(tmp_path / "data", hours=48)
    before = _tables(data)
    behaviour, _, match = FAULTS[fault]
    with fault_server(behaviour("binance")) as server:
        clients = {"binance": BinanceClient(_http(server.url), now=lambda: NOW)}
        started = time.monotonic()
        result = fetch(
            Store(data), "funding", assets=["BTC"], venues=["binance"], clients=clients,
            since=SINCE, until=UNTIL, now=NOW,
        )  # fmt: skip
        assert time.monotonic() - started < BOUND_SECS
    assert sum(result["written"].values()) == 0
    [failure] = result["failed"]
    assert failure["what"] == "funding binance BTC"
    assert failure["error"].count("\n") == 0
    assert re.search(match, failure["error"])
    assert _tables(data) == before


def test_one_venue_redirect_loop_keeps_the_other_venues_rows(tmp_path):
    data = make_dataset(tmp_path / "data", hours=48)
    good = respond(json_body(_funding_page()))
    with fault_server(_redirect_to_self) as broken, fault_server(good) as working:
        clients = {
            "binance": BinanceClient(_http(working.url), now=lambda: NOW),
            "bybit": BybitClient(_http(broken.url), now=lambda: NOW),
            "okx": OkxClient(_http(broken.url), now=lambda: NOW),
        }
        result = fetch(
            Store(data), "funding", assets=["BTC"], clients=clients,
            since=NOW - timedelta(days=3), until=NOW, now=NOW,
        )  # fmt: skip
    assert result["written"] == {"funding": 6}
    assert sorted(f["what"] for f in result["failed"]) == ["funding bybit BTC", "funding okx BTC"]
    assert all("redirect loop" in f["error"] for f in result["failed"])
    stored = Store(data).read("funding")
    assert (stored["venue"] == "binance").sum() >= 6


def test_cli_fetch_against_a_trickling_venue_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    data = make_dataset(tmp_path / "data", hours=48)
    before = _tables(data)
    with fault_server(trickle(0.3, headers_too=False)) as server:
        monkeypatch.setenv("LEVERCAST_BINANCE_FAPI_URL", server.url)
        monkeypatch.setenv("LEVERCAST_HTTP_DEADLINE_SECS", str(DEADLINE_SECS))
        started = time.monotonic()
        code = main(["fetch", "funding", "--venue", "binance", "--asset", "BTC",
                     "--data", str(data), "--json"])  # fmt: skip
        elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    assert code == 2
    assert elapsed < 2 * DEADLINE_SECS + 3  # one call, its deadline, a little start-up
    assert len(captured.err.strip().splitlines()) == 1
    assert "timed out: total deadline of 2 s exceeded" in captured.err
    assert json.loads(captured.out)["failed"]
    assert _tables(data) == before


# -- secrets on every path -------------------------------------------------------------------------
def test_coinglass_key_is_not_forwarded_on_a_cross_host_redirect(monkeypatch):
    """Issue 19: the CG-API-KEY header went to another host on redirect."""
    from levercast.features.sources.coinglass import CoinGlassLiquidations

    seen: list[dict[str, str]] = []

    def record(conn, request):
        seen.append(request.headers)
        conn.sendall(response_bytes(json_body({"code": "0", "data": []})))

    with fault_server(record) as elsewhere:

        def redirect(conn, request):
            location = {"Location": elsewhere.url + request.target}
            conn.sendall(response_bytes(b"", status="302 Found", headers=location))

        with fault_server(redirect) as home:
            monkeypatch.setenv("LEVERCAST_COINGLASS_KEY", "CG-KEY-0123456")
            monkeypatch.setenv("LEVERCAST_COINGLASS_URL", home.url)
            CoinGlassLiquidations().liquidations("BTC", interval="1h", since=SINCE, until=UNTIL)
    assert home.requests[0].headers["cg-api-key"] == "CG-KEY-0123456"
    assert seen and all("cg-api-key" not in headers for headers in seen)


@pytest.mark.parametrize(
    "key",
    ["line-one-part\nline-two-part", "carriage\rreturn-key", "escape\x1b[31m-inside-key"],
    ids=["newline", "carriage-return", "control-character"],
)
def test_a_malformed_key_is_refused_without_being_printed(monkeypatch, key):
    """Issue 19: an API key containing a newline was printed whole in an error."""
    from levercast.features.errors import ConfigError
    from levercast.features.sources.reserves import CryptoQuantReserves

    monkeypatch.setenv("LEVERCAST_CRYPTOQUANT_KEY", key)
    with pytest.raises(ConfigError) as info:
        CryptoQuantReserves()
    for part in re.split(r"[\x00-\x1f]", key):
        assert part not in str(info.value)


def test_a_key_echoed_by_the_server_is_scrubbed(monkeypatch):
    monkeypatch.setenv("LEVERCAST_GLASSNODE_KEY", SECRET)
    echo = respond(f"invalid api key {SECRET}; token={SECRET}".encode(), status="401 Unauthorized")
    with fault_server(echo) as server:
        with pytest.raises(MarketUnavailable, match="HTTP 401") as info:
            _glassnode(server.url)
    assert SECRET not in str(info.value)
