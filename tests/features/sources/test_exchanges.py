"""Exchange clients (Binance, Bybit, OKX, Deribit) against a local server replaying payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from werkzeug import Response

from levercast.features.dataset.schema import validate_table
from levercast.features.errors import DataError, MarketUnavailable
from levercast.features.http import HttpClient, HttpSettings
from levercast.features.sources.binance import BinanceClient
from levercast.features.sources.bybit import BybitClient
from levercast.features.sources.deribit import DeribitClient
from levercast.features.sources.okx import OkxClient
from tests.conftest import RESOURCES

RES = RESOURCES
NOW = datetime(2026, 1, 10, tzinfo=UTC)
SINCE = datetime(2019, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 1, 9, tzinfo=UTC)
T0 = pd.Timestamp("2026-01-01T00:00Z")


def load(name: str):
    return json.loads((RES / name).read_text())


def http(server, **kw):
    settings = {"max_retries": 2, "backoff_secs": 0.01, "timeout_secs": 2.0, **kw}
    return HttpClient(HttpSettings(base_url=server.url_for("/"), **settings), sleep=lambda s: None)


def test_binance_klines_fixture(httpserver):
    httpserver.expect_request("/fapi/v1/klines").respond_with_json(load("binance/klines_1h.json"))
    out = BinanceClient(http(httpserver), now=lambda: NOW).candles(
        "BTC", interval="1h", since=SINCE, until=UNTIL
    )
    validate_table("candles", out)
    assert list(out["ts"]) == [T0, T0 + pd.Timedelta("1h")]
    assert (out["available_at"] - out["ts"] == pd.Timedelta("1h")).all()
    assert out["venue"].iloc[0] == "binance-usdm"
    assert out["close"].iloc[0] == pytest.approx(87400.2)
    assert out["volume_base"].iloc[1] == pytest.approx(987.654)
    query = httpserver.log[0][0].args
    assert query["symbol"] == "BTCUSDT" and query["interval"] == "1h" and query["limit"] == "1500"


def test_binance_klines_paginate_and_drop_open_bar(httpserver):
    start_ms = int(T0.timestamp() * 1000)

    def klines(request):
        begin = int(request.args["startTime"])
        limit = int(request.args["limit"])
        first = max(begin, start_ms)
        first += (-first) % 3_600_000
        rows = []
        t = first
        while len(rows) < limit and t <= int(request.args["endTime"]):
            rows.append([t, "1", "2", "0.5", "1.5", "10", t + 3_599_999, "0", 1, "0", "0", "0"])
            t += 3_600_000
        return Response(json.dumps(rows), content_type="application/json")

    httpserver.expect_request("/fapi/v1/klines").respond_with_handler(klines)
    now = datetime(2026, 4, 5, 12, 30, tzinfo=UTC)  # the 12:00 bar is still open
    out = BinanceClient(http(httpserver), now=lambda: now).candles(
        "BTC", interval="1h", since=T0.to_pydatetime(), until=now
    )
    expected = pd.date_range(T0, "2026-04-05T11:00Z", freq="1h")
    assert list(out["ts"]) == list(expected)
    assert len(httpserver.log) == 2  # 2268 bars: two pages of at most 1500


def test_binance_open_interest_and_ratios_fixtures(httpserver):
    httpserver.expect_request("/futures/data/openInterestHist").respond_with_json(
        load("binance/openInterestHist.ccxt_comment.json")
    )
    client = BinanceClient(http(httpserver), now=lambda: NOW)
    oi = client.open_interest("BTC", since=SINCE, until=UNTIL)
    validate_table("open_interest", oi)
    assert oi["oi_base"].iloc[0] == pytest.approx(75375.617)
    assert oi["oi_usd"].iloc[0] == pytest.approx(3248828883.7125144)
    assert oi["available_at"].iloc[0] - oi["ts"].iloc[0] == pd.Timedelta("1h")
    start = int(httpserver.log[0][0].args["startTime"])
    assert start >= int((NOW.timestamp() - 30 * 86400) * 1000)  # clamped to the ~30-day window

    httpserver.expect_request("/futures/data/topLongShortPositionRatio").respond_with_json(
        load("binance/topLongShortPositionRatio.json")
    )
    httpserver.expect_request("/futures/data/topLongShortAccountRatio").respond_with_json([])
    httpserver.expect_request("/futures/data/globalLongShortAccountRatio").respond_with_json(
        load("binance/globalLongShortAccountRatio.ccxt_comment.json")
    )
    httpserver.expect_request("/futures/data/takerlongshortRatio").respond_with_json(
        load("binance/takerlongshortRatio.json")
    )
    ratios = client.ratios("BTC", since=SINCE, until=UNTIL)
    validate_table("ratios", ratios)
    values = dict(zip(ratios["metric"], ratios["value"], strict=True))
    assert values == pytest.approx(
        {
            "top_position_ratio": 1.4342,
            "global_account_ratio": 0.8376,
            "taker_buy_sell_ratio_1h": 1.5586,
        }
    )


def test_binance_funding_fixture_snaps_to_minute(httpserver):
    rows = [
        *load("binance/fundingRate.ccxt_comment.json"),
        {"symbol": "BTCUSDT", "fundingRate": "-0.0001", "fundingTime": 1621296000004},
    ]
    httpserver.expect_request("/fapi/v1/fundingRate").respond_with_json(rows)
    out = BinanceClient(http(httpserver), now=lambda: NOW).funding("BTC", since=SINCE, until=UNTIL)
    validate_table("funding", out)
    assert list(out["ts"]) == [pd.Timestamp("2021-05-17T16:00Z"), pd.Timestamp("2021-05-18T00:00Z")]
    assert (out["available_at"] == out["ts"]).all()
    assert list(out["interval_hours"]) == [8, 8]
    assert out["rate"].iloc[0] == pytest.approx(0.00063521)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            [{"symbol": "BTCUSDT", "sumOpenInterestValue": "1", "timestamp": 1642179900000}],
            "field 'sumOpenInterest' must be present",
        ),
        (
            [
                {
                    "symbol": "BTCUSDT",
                    "sumOpenInterest": "n/a",
                    "sumOpenInterestValue": "1",
                    "timestamp": 1642179900000,
                }
            ],
            "sumOpenInterest must be a number; found 'n/a'",
        ),
        ({"code": -1121, "msg": "Invalid symbol."}, "body must be a list"),
        (
            [
                {
                    "symbol": "BTCUSDT",
                    "sumOpenInterest": "1",
                    "sumOpenInterestValue": "1",
                    "timestamp": 1642179900,
                }
            ],
            "timestamp must be a millisecond epoch",
        ),
    ],
    ids=["missing-field", "non-number", "object-not-list", "seconds-not-ms"],
)
def test_binance_schema_drift_is_a_clear_data_error(httpserver, body, match):
    httpserver.expect_request("/futures/data/openInterestHist").respond_with_json(body)
    with pytest.raises(DataError, match=match):
        BinanceClient(http(httpserver), now=lambda: NOW).open_interest(
            "BTC", since=SINCE, until=UNTIL
        )


def test_binance_429_then_success(httpserver):
    httpserver.expect_oneshot_request("/fapi/v1/fundingRate").respond_with_data(
        "", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_request("/fapi/v1/fundingRate").respond_with_json(
        load("binance/fundingRate.ccxt_comment.json")
    )
    out = BinanceClient(http(httpserver), now=lambda: NOW).funding("BTC", since=SINCE, until=UNTIL)
    assert len(out) == 1


def test_bybit_fixtures(httpserver):
    httpserver.expect_request("/v5/market/kline").respond_with_json(load("bybit/kline.json"))
    httpserver.expect_request("/v5/market/funding/history").respond_with_json(
        load("bybit/funding-history.ccxt_comment.json")
    )
    httpserver.expect_request("/v5/market/account-ratio").respond_with_json(
        load("bybit/account-ratio.ccxt_comment.json")
    )
    client = BybitClient(http(httpserver), now=lambda: NOW)
    candles = client.candles("BTC", interval="1h", since=SINCE, until=UNTIL)
    validate_table("candles", candles)
    assert list(candles["ts"]) == [T0, T0 + pd.Timedelta("1h")]
    assert candles["volume_base"].iloc[0] == pytest.approx(1200.25)
    assert httpserver.log[0][0].args["interval"] == "60"
    funding = client.funding("ETH", since=SINCE, until=UNTIL)
    validate_table("funding", funding)
    assert funding["rate"].iloc[0] == pytest.approx(0.0001)
    ratios = client.ratios("BTC", since=SINCE, until=UNTIL)
    assert ratios["value"].iloc[0] == pytest.approx(0.5707 / 0.4293)


def test_bybit_open_interest_walks_cursor_backwards(httpserver):
    page1 = load("bybit/open-interest.ccxt_comment.json")
    page1["result"]["nextPageCursor"] = "c2"
    page2 = json.loads(json.dumps(page1))
    page2["result"]["list"] = [{"openInterest": "100.5", "timestamp": "1669570800000"}]
    page2["result"]["nextPageCursor"] = ""
    httpserver.expect_request(
        "/v5/market/open-interest",
        query_string={
            "category": "linear",
            "symbol": "BTCUSDT",
            "intervalTime": "1h",
            "startTime": str(int(SINCE.timestamp() * 1000)),
            "endTime": str(int(UNTIL.timestamp() * 1000) - 1),
            "limit": "200",
            "cursor": "c2",
        },
    ).respond_with_json(page2)
    httpserver.expect_request("/v5/market/open-interest").respond_with_json(page1)
    marks = load("bybit/mark-price-kline.docs_example.json")  # one bar, 2022-12-09T18:00Z
    marks["result"]["list"] = [
        [str(1669568400000 + i * 3_600_000), "1", "1", "1", str(16000.0 + i)] for i in (1, 0)
    ]  # the bars opening 2022-11-27T17:00Z and 18:00Z, newest first as Bybit sends them
    httpserver.expect_request("/v5/market/mark-price-kline").respond_with_json(marks)
    out = BybitClient(http(httpserver), now=lambda: NOW).open_interest(
        "BTC", since=SINCE, until=UNTIL
    )
    validate_table("open_interest", out)
    assert len(out) == 3
    assert out["oi_base"].iloc[0] == pytest.approx(100.5)
    # coins x the mark close of the hour that starts at ts (all three rows are in 17:00-18:00)
    assert out["oi_usd"].tolist() == pytest.approx([v * 16000.0 for v in out["oi_base"]])
    mark_call = httpserver.log[2][0].args
    assert (mark_call["category"], mark_call["symbol"], mark_call["interval"]) == (
        "linear",
        "BTCUSDT",
        "60",
    )
    assert len(httpserver.log) == 3


def test_bybit_open_interest_usd_from_the_mark_price(httpserver):
    hour = 3_600_000
    t0 = int(pd.Timestamp("2026-01-09T20:00Z").timestamp() * 1000)
    oi = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {
            "list": [
                {"openInterest": "50000", "timestamp": str(t0 + i * hour)} for i in (3, 2, 1, 0)
            ],
            "nextPageCursor": "",
        },
    }
    marks = load("bybit/mark-price-kline.docs_example.json")
    # the 22:00 bar is missing at the venue; the 23:00 bar has not closed at NOW (23:30)
    marks["result"]["list"] = [
        [str(t0 + i * hour), "1", "1", "1", str(90000.0 + i)] for i in (3, 1, 0)
    ]
    httpserver.expect_request("/v5/market/open-interest").respond_with_json(oi)
    httpserver.expect_request("/v5/market/mark-price-kline").respond_with_json(marks)
    now = datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
    out = BybitClient(http(httpserver), now=lambda: now).open_interest(
        "BTC", since=datetime(2026, 1, 9, tzinfo=UTC), until=now
    )
    validate_table("open_interest", out)
    t = pd.Timestamp("2026-01-09T20:00Z")
    assert list(out["ts"]) == [t, t + pd.Timedelta("1h"), t + pd.Timedelta("2h")]
    assert out["oi_usd"].iloc[0] == pytest.approx(50000 * 90000.0)
    assert out["oi_usd"].iloc[1] == pytest.approx(50000 * 90001.0)
    assert np.isnan(out["oi_usd"].iloc[2])  # a closed hour without a mark bar stays NaN
    assert (out["available_at"] - out["ts"] == pd.Timedelta("1h")).all()


def test_bybit_error_envelope(httpserver):
    httpserver.expect_request("/v5/market/kline").respond_with_json(
        load("bybit/error_retcode.json")
    )
    with pytest.raises(MarketUnavailable, match="retCode=10001: params error"):
        BybitClient(http(httpserver), now=lambda: NOW).candles(
            "BTC", interval="1h", since=SINCE, until=UNTIL
        )


def test_okx_fixtures(httpserver):
    # each recorded page is served once; the next (older) page is empty, as OKX answers when a
    # walk reaches the start of the history
    for path, fixture in [
        ("/api/v5/market/history-candles", "okx/history-candles.json"),
        (
            "/api/v5/rubik/stat/contracts/open-interest-history",
            "okx/rubik_contracts_open-interest-history.ccxt_comment.json",
        ),
        (
            "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
            "okx/rubik_long-short-account-ratio-contract.ccxt_comment.json",
        ),
        ("/api/v5/public/funding-rate-history", "okx/funding-rate-history.ccxt_comment.json"),
    ]:
        httpserver.expect_oneshot_request(path).respond_with_json(load(fixture))
        httpserver.expect_request(path).respond_with_json({"code": "0", "msg": "", "data": []})
    client = OkxClient(http(httpserver), now=lambda: datetime(2027, 1, 1, tzinfo=UTC))
    until = datetime(2027, 1, 1, tzinfo=UTC)
    candles = client.candles("BTC", interval="1h", since=SINCE, until=until)
    assert list(candles["ts"]) == [T0, T0 + pd.Timedelta("1h")]  # the unconfirmed bar is dropped
    assert candles["volume_base"].iloc[0] == pytest.approx(120.02)
    assert httpserver.log[0][0].args["instId"] == "BTC-USDT-SWAP"
    oi = client.open_interest("BTC", since=SINCE, until=until)
    validate_table("open_interest", oi)
    assert oi["oi_base"].iloc[0] == pytest.approx(28006.5419)
    assert oi["oi_usd"].iloc[0] == pytest.approx(2360916466.88)
    ratios = client.ratios("BTC", since=SINCE, until=until)
    assert len(ratios) == 2 and ratios["metric"].eq("global_account_ratio").all()
    funding = client.funding("BTC", since=SINCE, until=until)
    validate_table("funding", funding)
    assert funding["rate"].iloc[0] == pytest.approx(0.018)


def test_okx_error_code(httpserver):
    httpserver.expect_request("/api/v5/public/funding-rate-history").respond_with_json(
        {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    )
    with pytest.raises(MarketUnavailable, match="code='51001'"):
        OkxClient(http(httpserver), now=lambda: NOW).funding("BTC", since=SINCE, until=UNTIL)


def test_deribit_dvol_follows_continuation(httpserver):
    end_ms = int(UNTIL.timestamp() * 1000) - 1
    httpserver.expect_request(
        "/api/v2/public/get_volatility_index_data",
        query_string={
            "currency": "BTC",
            "start_timestamp": str(int(SINCE.timestamp() * 1000)),
            "end_timestamp": "1767225600000",
            "resolution": "3600",
        },
    ).respond_with_json(load("deribit/dvol_page2.json"))
    httpserver.expect_request("/api/v2/public/get_volatility_index_data").respond_with_json(
        load("deribit/dvol_page1.json")
    )
    out = DeribitClient(http(httpserver), now=lambda: NOW).implied_vol(
        "BTC", since=SINCE, until=UNTIL
    )
    validate_table("implied_vol", out)
    assert len(out) == 4 and out["source"].eq("deribit-dvol").all()
    assert out["iv"].iloc[-1] == pytest.approx(0.4625)
    assert (out["available_at"] - out["ts"] == pd.Timedelta("1h")).all()
    assert httpserver.log[0][0].args["end_timestamp"] == str(end_ms)


def test_5xx_exhausts_retries_with_clear_error(httpserver):
    httpserver.expect_request("/api/v2/public/get_volatility_index_data").respond_with_data(
        "bad gateway", status=502
    )
    with pytest.raises(MarketUnavailable, match=r"failed after 3 attempt\(s\): HTTP 502"):
        DeribitClient(http(httpserver), now=lambda: NOW).implied_vol(
            "BTC", since=SINCE, until=UNTIL
        )


def test_truncated_body_then_clear_error(httpserver):
    httpserver.expect_request("/v5/market/kline").respond_with_data('{"retCode":0,"result":{"li')
    with pytest.raises(MarketUnavailable, match="malformed JSON"):
        BybitClient(http(httpserver), now=lambda: NOW).candles(
            "BTC", interval="1h", since=SINCE, until=UNTIL
        )
