"""DefiLlama CEX holdings as a keyless reserve provider, on payloads built from the documented
shape (``tests/resources/reserves/README.md``) and replayed by a local server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from levercast.features.dataset.schema import validate_table
from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.features.http import HttpClient, HttpSettings
from levercast.features.sources.defillama import (
    DEFAULT_EXCHANGES,
    DefiLlamaReserves,
    defillama_exchanges,
    parse_holdings,
)
from levercast.features.sources.reserves import reserve_providers
from tests.conftest import RESOURCES

NOW = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = pd.date_range("2026-11-27T00:00Z", periods=5, freq="1D")


def load(slug: str):
    return json.loads((RESOURCES / "reserves" / f"defillama_protocol_{slug}.json").read_text())


def http(server):
    return HttpClient(
        HttpSettings(base_url=server.url_for("/"), max_retries=1, backoff_secs=0.01),
        sleep=lambda s: None,
    )


@pytest.fixture
def llama(httpserver):
    for slug in DEFAULT_EXCHANGES:
        httpserver.expect_request(f"/protocol/{slug}").respond_with_json(load(slug))
    return httpserver


def test_btc_is_native_bitcoin_daily_points_only():
    out = parse_holdings(load("binance-cex"), slug="binance-cex", assets=["BTC"])
    assert list(out["ts"]) == list(DAYS)  # the trailing 13:04:27 point is not a day
    assert out["amount_base"].tolist() == [612402.11, 612980.53, 611874.06, 613250.77, 613011.42]
    assert out["amount_usd"].iloc[0] == pytest.approx(55881876258.133)


def test_eth_is_weth_plus_eth_of_other_chains_without_staking_buckets():
    binance = parse_holdings(load("binance-cex"), slug="binance-cex", assets=["ETH"])
    assert binance["amount_base"].iloc[0] == pytest.approx(3951210.4 + 420110.3)
    bybit = parse_holdings(load("bybit"), slug="bybit", assets=["BTC", "ETH"])
    eth = bybit[bybit["asset"] == "ETH"]
    assert eth["amount_base"].iloc[0] == pytest.approx(612004.2)  # Ethereum-staking left out
    assert set(bybit["asset"]) == {"BTC", "ETH"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda p: p.update(misrepresentedTokens=True), "misrepresentedTokens"),
        (lambda p: p.pop("chainTvls"), "field 'chainTvls' must be present"),
        (lambda p: p["chainTvls"]["Bitcoin"].update(tokens=None), "tokens must be a list"),
        (lambda p: p["chainTvls"]["Bitcoin"]["tokens"][0].update(date="2026-11-27"), "unix sec"),
        (lambda p: p["chainTvls"].pop("Bitcoin"), "no daily holding under the keys"),
        (
            lambda p: p["chainTvls"]["Bitcoin"]["tokens"][0]["tokens"].update(BTC="1"),
            "must be numbers",
        ),
    ],
    ids=["misrepresented", "no-chainTvls", "null-tokens", "date-text", "no-btc", "string-amount"],
)
def test_schema_drift_is_a_data_error(change, match):
    payload = load("binance-cex")
    change(payload)
    with pytest.raises(DataError, match=match):
        parse_holdings(payload, slug="binance-cex", assets=["BTC"])


def test_unknown_asset_is_refused():
    with pytest.raises(ConfigError, match="assets must be among"):
        parse_holdings(load("okx"), slug="okx", assets=["SOL"])


def test_reserves_are_available_from_the_fetch_time_only(llama, monkeypatch):
    monkeypatch.setenv("LEVERCAST_DEFILLAMA_URL", llama.url_for("/"))
    provider = DefiLlamaReserves(now=lambda: NOW)  # the default client, on the local server
    out = provider.reserves("BTC", since=SINCE, until=NOW)
    validate_table("exchange_reserves", out)
    assert (out["available_at"] == pd.Timestamp(NOW)).all()  # history included: never earlier
    assert (out["fetched_at"] == pd.Timestamp(NOW)).all()
    summed = out[out["source"] == "defillama"].set_index("ts")["reserve_base"]
    assert list(summed.index) == list(DAYS)
    assert summed.iloc[0] == pytest.approx(612402.11 + 128911.07 + 95120.4)
    per = set(out["source"]) - {"defillama"}
    assert per == {f"defillama:{slug}" for slug in DEFAULT_EXCHANGES}
    assert all(r[0].headers.get("User-Agent") == "levercast" for r in llama.log)


def test_window_and_days_missing_on_one_exchange(llama):
    llama.clear()
    okx = load("okx")
    okx["chainTvls"]["Bitcoin"]["tokens"] = okx["chainTvls"]["Bitcoin"]["tokens"][1:]
    for slug in DEFAULT_EXCHANGES:
        llama.expect_request(f"/protocol/{slug}").respond_with_json(
            okx if slug == "okx" else load(slug)
        )
    out = DefiLlamaReserves(http(llama), now=lambda: NOW).reserves(
        "BTC", since=datetime(2026, 11, 27, tzinfo=UTC), until=datetime(2026, 11, 30, tzinfo=UTC)
    )
    summed = out[out["source"] == "defillama"]
    assert list(summed["ts"]) == list(DAYS[1:3])  # the sum needs every exchange's day
    assert list(out[out["source"] == "defillama:binance-cex"]["ts"]) == list(DAYS[:3])


def test_a_failing_exchange_fails_the_provider(httpserver):
    httpserver.expect_request("/protocol/binance-cex").respond_with_json(load("binance-cex"))
    httpserver.expect_request("/protocol/okx").respond_with_data("busy", status=503)
    provider = DefiLlamaReserves(http(httpserver), exchanges=["binance-cex", "okx"])
    with pytest.raises(MarketUnavailable, match=r"GET /protocol/okx"):
        provider.reserves("BTC", since=SINCE, until=NOW)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, DEFAULT_EXCHANGES),
        ("none", ()),
        ("", ()),
        ("Binance-CEX, okx", ("binance-cex", "okx")),
    ],
    ids=["default", "none", "empty", "list"],
)
def test_exchanges_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("LEVERCAST_DEFILLAMA_EXCHANGES", raising=False)
    else:
        monkeypatch.setenv("LEVERCAST_DEFILLAMA_EXCHANGES", value)
    assert defillama_exchanges() == expected


def test_bad_slug_and_default_provider(monkeypatch):
    monkeypatch.setenv("LEVERCAST_DEFILLAMA_EXCHANGES", "okx,../x")
    with pytest.raises(ConfigError, match="LEVERCAST_DEFILLAMA_EXCHANGES must list"):
        defillama_exchanges()
    for name in (
        "LEVERCAST_CRYPTOQUANT_KEY",
        "LEVERCAST_GLASSNODE_KEY",
        "LEVERCAST_RESERVES_CSV",
        "LEVERCAST_DEFILLAMA_EXCHANGES",
        "LEVERCAST_HTTP_DEADLINE_SECS",
    ):
        monkeypatch.delenv(name, raising=False)
    (provider,) = reserve_providers()
    assert provider.source == "defillama" and provider.exchanges == DEFAULT_EXCHANGES
    assert provider.http.settings.deadline_secs == 120.0
    monkeypatch.setenv("LEVERCAST_DEFILLAMA_EXCHANGES", "none")
    assert reserve_providers() == []
