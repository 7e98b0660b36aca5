"""data.binance.vision archive reader: file planning, CHECKSUM verification, klines and metrics."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from levercast.features.dataset.schema import validate_table
from levercast.features.errors import DataError
from levercast.features.http import HttpClient, HttpSettings
from levercast.features.sources.binance_archive import (
    BinanceArchive,
    archive_files,
    verify_checksum,
)
from tests.conftest import RESOURCES

RES = RESOURCES / "binance"
NOW = datetime(2026, 2, 3, 12, tzinfo=UTC)


def zipped(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def serve(server, path: str, blob: bytes, *, checksum: str | None = None) -> None:
    digest = checksum or hashlib.sha256(blob).hexdigest()
    server.expect_request(path).respond_with_data(blob, content_type="application/zip")
    server.expect_request(path + ".CHECKSUM").respond_with_data(
        f"{digest}  {path.rsplit('/', 1)[-1]}\n"
    )


def archive(server) -> BinanceArchive:
    settings = HttpSettings(base_url=server.url_for("/"), max_retries=1, backoff_secs=0.01)
    return BinanceArchive(HttpClient(settings, sleep=lambda s: None), now=lambda: NOW)


def kline_csv(start: str, hours: int, *, header: bool) -> str:
    rows = []
    for i, t in enumerate(pd.date_range(start, periods=hours, freq="1h")):
        open_ms = int(t.timestamp() * 1000)
        rows.append(
            f"{open_ms},{100 + i},{101 + i},{99 + i},{100.5 + i},{10 + i},"
            f"{open_ms + 3599999},1000,5,1,100,0"
        )
    head = (RES / "klines_um_header_and_docs_row.csv").read_text().splitlines()[0]
    return "\n".join(([head] if header else []) + rows) + "\n"


@pytest.mark.parametrize(
    ("since", "until", "today", "expected"),
    [
        ("2025-12-01", "2026-01-01", date(2026, 2, 3), [("monthly", "2025-12")]),
        (
            "2025-12-30",
            "2026-01-02",
            date(2026, 2, 3),
            [("daily", "2025-12-30"), ("daily", "2025-12-31"), ("daily", "2026-01-01")],
        ),
        (
            "2026-02-01",
            "2026-02-10",
            date(2026, 2, 3),
            [("daily", "2026-02-01"), ("daily", "2026-02-02")],
        ),
        (
            "2026-01-01",
            "2026-02-01",
            date(2026, 1, 20),
            [("daily", f"2026-01-{d:02d}") for d in range(1, 20)],
        ),
    ],
    ids=["whole-month", "days-across-months", "stops-before-today", "current-month-daily"],
)
def test_archive_files(since, until, today, expected):
    got = archive_files(
        pd.Timestamp(since, tz="UTC").to_pydatetime(),
        pd.Timestamp(until, tz="UTC").to_pydatetime(),
        today=today,
    )
    assert got == expected


def test_verify_checksum():
    verify_checksum(b"abc", hashlib.sha256(b"abc").hexdigest() + "  f.zip", name="f.zip")
    with pytest.raises(DataError, match="sha256 must match its CHECKSUM"):
        verify_checksum(b"abd", hashlib.sha256(b"abc").hexdigest() + "  f.zip", name="f.zip")
    with pytest.raises(DataError, match="must start with a sha256 hex digest"):
        verify_checksum(b"abc", "<html>not found</html>", name="f.zip")


def test_klines_monthly_with_header_and_daily_without(httpserver):
    base = "/data/futures/um"
    serve(
        httpserver,
        f"{base}/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2025-12.zip",
        zipped("BTCUSDT-1h-2025-12.csv", kline_csv("2025-12-01T00:00Z", 31 * 24, header=True)),
    )
    serve(
        httpserver,
        f"{base}/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-01-01.zip",
        zipped("BTCUSDT-1h-2026-01-01.csv", kline_csv("2026-01-01T00:00Z", 24, header=False)),
    )
    out = archive(httpserver).klines(
        "BTC",
        interval="1h",
        since=datetime(2025, 12, 1, tzinfo=UTC),
        until=datetime(2026, 1, 2, tzinfo=UTC),
    )
    validate_table("candles", out)
    assert len(out) == 32 * 24 and out["ts"].is_monotonic_increasing
    assert out["venue"].eq("binance-usdm").all()
    assert out["ts"].iloc[0] == pd.Timestamp("2025-12-01T00:00Z")
    assert (out["available_at"] - out["ts"] == pd.Timedelta("1h")).all()


def test_missing_monthly_falls_back_to_daily_files(httpserver):
    base = "/data/futures/um"
    for day in (1, 2):
        name = f"BTCUSDT-1h-2025-12-0{day}"
        serve(
            httpserver,
            f"{base}/daily/klines/BTCUSDT/1h/{name}.zip",
            zipped(f"{name}.csv", kline_csv(f"2025-12-0{day}T00:00Z", 24, header=True)),
        )
    httpserver.expect_request(
        f"{base}/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2025-12.zip"
    ).respond_with_data("", status=404)
    httpserver.expect_request(re.compile(r".*/daily/klines/.*")).respond_with_data("", status=404)
    out = archive(httpserver).klines(
        "BTC",
        interval="1h",
        since=datetime(2025, 12, 1, tzinfo=UTC),
        until=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert len(out) == 48  # days 3..31 are not published: the caller continues with REST


def test_checksum_mismatch_is_a_data_error(httpserver):
    path = "/data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2026-01-01.zip"
    serve(
        httpserver,
        path,
        zipped("x.csv", kline_csv("2026-01-01T00:00Z", 24, header=True)),
        checksum="0" * 64,
    )
    with pytest.raises(DataError, match="sha256 must match its CHECKSUM"):
        archive(httpserver).klines(
            "BTC",
            interval="1h",
            since=datetime(2026, 1, 1, tzinfo=UTC),
            until=datetime(2026, 1, 2, tzinfo=UTC),
        )


def test_metrics_hourly_oi_and_ratios(httpserver):
    header = (RES / "metrics_header_sample.csv").read_text().strip()
    lines = [header]
    for i, t in enumerate(pd.date_range("2026-01-05T00:00Z", periods=288, freq="5min")):
        lines.append(
            f"{t:%Y-%m-%d %H:%M:%S},BTCUSDT,{80000 + i},{(80000 + i) * 9e4},"
            f"1.{i % 10},2.{i % 10},1.5,0.9"
        )
    path = "/data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2026-01-05.zip"
    serve(httpserver, path, zipped("BTCUSDT-metrics-2026-01-05.csv", "\n".join(lines) + "\n"))
    oi, ratios = archive(httpserver).metrics(
        "BTC", since=datetime(2026, 1, 5, tzinfo=UTC), until=datetime(2026, 1, 6, tzinfo=UTC)
    )
    validate_table("open_interest", oi)
    validate_table("ratios", ratios)
    assert len(oi) == 24 and oi["venue"].eq("binance").all()
    assert oi["oi_base"].iloc[1] == 80012  # the 01:00 row is the 13th 5-minute row
    assert sorted(ratios["metric"].unique()) == [
        "global_account_ratio",
        "taker_buy_sell_ratio_5m",
        "top_account_ratio",
        "top_position_ratio",
    ]
    assert (ratios["available_at"] - ratios["ts"] == pd.Timedelta("1h")).all()


def test_metrics_schema_drift(httpserver):
    path = "/data/futures/um/daily/metrics/BTCUSDT/BTCUSDT-metrics-2026-01-05.zip"
    serve(
        httpserver,
        path,
        zipped("m.csv", "create_time,symbol,sum_open_interest\n2026-01-05 00:00:00,BTCUSDT,1\n"),
    )
    with pytest.raises(DataError, match=r"missing column\(s\)"):
        archive(httpserver).metrics(
            "BTC", since=datetime(2026, 1, 5, tzinfo=UTC), until=datetime(2026, 1, 6, tzinfo=UTC)
        )
