"""CoinGlass aggregated liquidation history (recorded payload, local HTTP server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from levercast.features.dataset.schema import validate_table
from levercast.features.errors import ConfigError
from levercast.features.sources.coinglass import CoinGlassLiquidations
from tests.conftest import RESOURCES

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def load(name: str):
    return json.loads((RESOURCES / name).read_text())


def test_coinglass_requires_key(monkeypatch):
    monkeypatch.delenv("LEVERCAST_COINGLASS_KEY", raising=False)
    with pytest.raises(ConfigError, match="LEVERCAST_COINGLASS_KEY must be set"):
        CoinGlassLiquidations()


def test_coinglass_history(httpserver, monkeypatch):
    monkeypatch.setenv("LEVERCAST_COINGLASS_KEY", "CGSECRET")
    monkeypatch.setenv("LEVERCAST_COINGLASS_URL", httpserver.url_for("/"))
    httpserver.expect_request(
        "/api/futures/liquidation/aggregated-history", headers={"CG-API-KEY": "CGSECRET"}
    ).respond_with_json(load("coinglass/aggregated_liquidation_history.json"))
    out = CoinGlassLiquidations().liquidations(
        "BTC", interval="1h", since=datetime(2026, 1, 1, tzinfo=UTC), until=NOW
    )
    validate_table("liquidations", out)
    assert out["venue"].eq("aggregate").all() and out["lower_bound"].isna().all()
    assert out["long_usd"].iloc[0] == pytest.approx(1250000.5)
