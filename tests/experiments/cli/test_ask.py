"""``levercast ask`` (INTERFACE.md §4 ``ask`` row): the command over ``experiments.api.ask``."""

from __future__ import annotations

import json

import pytest

from levercast.experiments.cli.main import main

AT = "2024-01-25T00:00Z"
MARKET = "09ea848b-8b2b-4776-a404-5f6b28e4ccca"  # "Will Bitcoin reach $100,000 in January?"


def test_ask_cli_json_and_text(synthetic_data, capsys):
    argv = ["ask", "m1", "--at", "2024-01-20T00:00Z", "--model", "gbm"]
    argv += ["--data", str(synthetic_data)]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["market"]["market_id"] == "m1" and doc["drivers"] == []
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("BTC touches $60,000") and "market: polymarket m1" in out
    assert "edge " in out and "drivers: none" in out


def test_ask_cli_unknown_market_exits_2(synthetic_data, capsys):
    argv = ["ask", "https://kalshi.com/markets/kxbtcd/x/kxbtcd-26feb1017", "--at", AT]
    assert main([*argv, "--data", str(synthetic_data)]) == 2
    assert "names no market" in capsys.readouterr().err


@pytest.mark.data
def test_ask_a_shared_market_by_id_and_by_title(shared_data, capsys):
    argv = ["ask", MARKET, "--at", "2026-01-15T00:00Z", "--model", "gbm", "--json"]
    assert main([*argv, "--data", str(shared_data)]) == 0
    doc = json.loads(capsys.readouterr().out)
    market = doc["market"]
    assert market["market_id"] == MARKET and market["prob_market"] == pytest.approx(0.505)
    assert market["fee"] == 0.0  # crypto monthly markets traded fee-free in January 2026
    side_price = market["price"]
    prob = doc["prob"] if market["side"] == "yes" else 1.0 - doc["prob"]
    assert market["edge"] == pytest.approx(prob - side_price - market["fee"])
    assert doc["contract"]["kind"] == "touch" and doc["contract"]["strike_usd"] == 100000.0
    title = ["ask", "Will Bitcoin reach $100,000 in January?", "--at", "2026-01-15T00:00Z"]
    assert main([*title, "--model", "gbm", "--json", "--data", str(shared_data)]) == 0
    assert json.loads(capsys.readouterr().out)["market"]["market_id"] == MARKET
