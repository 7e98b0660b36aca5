"""Exchange-reserve providers: Glassnode, CryptoQuant (recorded payloads) and CSV files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from levercast.features.dataset.schema import validate_table
from levercast.features.errors import DataError, MarketUnavailable
from levercast.features.http import HttpClient, HttpSettings
from levercast.features.sources.reserves import (
    CryptoQuantReserves,
    CsvReserves,
    GlassnodeReserves,
    reserve_providers,
)
from tests.conftest import RESOURCES

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def load(name: str):
    return json.loads((RESOURCES / name).read_text())


def http(server):
    return HttpClient(
        HttpSettings(base_url=server.url_for("/"), max_retries=1, backoff_secs=0.01),
        sleep=lambda s: None,
    )


def test_glassnode_fixture_key_is_redacted(httpserver, monkeypatch):
    monkeypatch.setenv("LEVERCAST_GLASSNODE_KEY", "GNSECRET")
    httpserver.expect_request("/v1/metrics/distribution/balance_exchanges").respond_with_json(
        load("reserves/glassnode_timeseries.docs_example.json")
    )
    provider = GlassnodeReserves(http(httpserver), now=lambda: NOW)
    out = provider.reserves("BTC", since=datetime(2024, 1, 1, tzinfo=UTC), until=NOW)
    validate_table("exchange_reserves", out)
    assert out["reserve_base"].iloc[0] == pytest.approx(12840.05066248)
    assert out["ts"].iloc[0] == pd.Timestamp("2024-01-26T00:00Z")
    assert (out["fetched_at"] == pd.Timestamp(NOW)).all()
    assert httpserver.log[0][0].args["api_key"] == "GNSECRET"
    httpserver.clear()
    httpserver.expect_request("/v1/metrics/distribution/balance_exchanges").respond_with_data(
        "invalid api_key GNSECRET", status=401
    )
    with pytest.raises(MarketUnavailable) as info:
        provider.reserves("BTC", since=datetime(2024, 1, 1, tzinfo=UTC), until=NOW)
    assert "GNSECRET" not in str(info.value)


def test_cryptoquant_bearer_header(httpserver, monkeypatch):
    monkeypatch.setenv("LEVERCAST_CRYPTOQUANT_KEY", "CQSECRET")
    monkeypatch.setenv("LEVERCAST_CRYPTOQUANT_URL", httpserver.url_for("/"))
    httpserver.expect_request(
        "/v1/btc/exchange-flows/reserve", headers={"Authorization": "Bearer CQSECRET"}
    ).respond_with_json(load("reserves/cryptoquant_reserve.json"))
    out = CryptoQuantReserves(now=lambda: NOW).reserves(
        "BTC", since=datetime(2026, 1, 1, tzinfo=UTC), until=NOW
    )
    validate_table("exchange_reserves", out)
    assert list(out["reserve_base"]) == [2400000.25, 2401234.5]
    assert (out["available_at"] - out["ts"] == pd.Timedelta("1D")).all()


def test_csv_reserves_and_providers(tmp_path, monkeypatch):
    path = tmp_path / "reserves.csv"
    path.write_text(
        "date,asset,reserve\n2026-01-01,BTC,2.4e6\n2026-01-02,BTC,2.39e6\n2026-01-01,ETH,1.5e7\n"
    )
    out = CsvReserves(path, now=lambda: NOW).reserves(
        "BTC", since=datetime(2025, 1, 1, tzinfo=UTC), until=NOW
    )
    validate_table("exchange_reserves", out)
    assert list(out["reserve_base"]) == [2.4e6, 2.39e6] and out["source"].eq("csv").all()
    for name in ("LEVERCAST_CRYPTOQUANT_KEY", "LEVERCAST_GLASSNODE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEVERCAST_RESERVES_CSV", str(path))
    monkeypatch.setenv("LEVERCAST_DEFILLAMA_EXCHANGES", "none")
    assert [p.source for p in reserve_providers()] == ["csv"]
    monkeypatch.delenv("LEVERCAST_DEFILLAMA_EXCHANGES")
    assert [p.source for p in reserve_providers()] == ["csv", "defillama"]  # keyless, by default
    path.write_text("day,value\n2026-01-01,1\n")
    with pytest.raises(DataError, match="columns must include date"):
        CsvReserves(path).reserves("BTC", since=datetime(2025, 1, 1, tzinfo=UTC), until=NOW)
