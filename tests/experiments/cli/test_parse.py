from __future__ import annotations

import json

import pytest

from levercast.experiments.cli.main import main


def run(argv, capsys) -> tuple[int, object]:
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_parse_title_json(capsys):
    code, doc = run(
        ["parse", "Will Bitcoin dip to $80,000 in January?", "--at", "2026-01-02T00:00Z", "--json"],
        capsys,
    )
    assert code == 0 and set(doc) == {"contract", "yes_outcome", "assumptions"}
    contract = doc["contract"]
    assert (contract["kind"], contract["direction"], contract["strike_usd"]) == (
        "touch",
        "down",
        80000.0,
    )
    assert (contract["start"], contract["end"]) == ("2026-01-01T05:00:00Z", "2026-02-01T05:00:00Z")
    assert doc["yes_outcome"] == "Yes"


def test_parse_typed_question_without_a_store_names_its_assumptions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no ./data here, and none is needed
    monkeypatch.delenv("LEVERCAST_DATA", raising=False)
    argv = ["parse", "Will BTC touch $60k this week?", "--at", "2026-02-10T00:00Z", "--json"]
    code, doc = run(argv, capsys)
    contract = doc["contract"]
    assert code == 0 and (contract["kind"], contract["strike_usd"]) == ("touch", 60000.0)
    assert contract["end"] == "2026-02-16T05:00:00Z"  # Sunday 23:59:59 ET, end = Monday 00:00 ET
    assert any("week" in a for a in doc["assumptions"])


def test_parse_kalshi_title_with_its_subtitle(capsys):
    argv = ["parse", "Bitcoin price on Feb 12, 2026 at 5pm EST?", "--at", "2026-02-10T00:00Z"]
    code, doc = run([*argv, "--subtitle", "$97,250 or above", "--json"], capsys)
    contract = doc["contract"]
    assert code == 0 and (contract["kind"], contract["strike_usd"]) == ("close_above", 97250.0)
    assert contract["end"] == "2026-02-12T22:00:00Z"
    assert contract["resolution"]["source"] == "cf-brti"
    assert any("subtitle" in a for a in doc["assumptions"])


def test_parse_all_time_high_needs_data_for_its_level(synthetic_data, capsys):
    argv = ["parse", "Will Bitcoin hit a new all-time high in February?", "--at"]
    argv += ["2024-01-20T00:00Z", "--json"]
    code, doc = run(argv, capsys)
    assert code == 0 and "parse --data" in doc["unsupported"]
    code, doc = run([*argv, "--data", str(synthetic_data)], capsys)
    assert code == 0 and doc["contract"]["kind"] == "touch"
    assert doc["contract"]["strike_usd"] > 0


def test_parse_title_uses_created_at_and_rules(capsys):
    rules = (
        'This market will resolve to "Yes" if the Binance 1 minute candle for SOLUSDT 07 Mar \'25 '
        "12:00 in the ET timezone (noon) has a final Close price of 145.01 or higher."
    )
    code, doc = run(
        [
            "parse",
            "Solana above $145 on March 7?",
            "--rules",
            rules,
            "--created-at",
            "2025-03-01T00:00Z",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and doc["contract"]["end"] == "2025-03-07T17:00:00Z"
    assert doc["contract"]["start"] == "2025-03-01T00:00:00Z"


def test_parse_unsupported_title_exits_zero(capsys):
    code, doc = run(["parse", "Rabby airdrop in Q1 2025?", "--json"], capsys)
    assert code == 0 and doc == {"unsupported": "not a price question: it asks about an airdrop"}


def test_parse_naive_time_is_a_usage_error(capsys):
    assert main(["parse", "Will Bitcoin dip to $1 in May?", "--at", "2026-01-01T00:00"]) == 2
    assert "--at" in capsys.readouterr().err


def test_parse_human_output(capsys):
    assert main(["parse", "Will Bitcoin reach $1 in May?", "--at", "2026-01-01T00:00Z"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("BTC touches $1 (up) by 2026-06-01 04:00 UTC\n")
    assert "\n  assumed: " in out


def test_parse_data_synthetic(synthetic_data, capsys):
    code, doc = run(["parse", "--data", str(synthetic_data), "--json"], capsys)
    assert code == 0 and isinstance(doc, list) and len(doc) == 1
    assert doc[0]["market_id"] == "m1"
    assert doc[0]["contract"]["kind"] == "touch"
    assert doc[0]["contract"]["start"] == "2024-01-01T05:00:00Z"  # January 2024 in ET


def test_parse_data_without_markets_is_a_usage_error(tmp_path, capsys):
    assert main(["parse", "--data", str(tmp_path), "--json"]) == 2
    assert "markets" in capsys.readouterr().err


@pytest.mark.data
def test_parse_data_shared(shared_data, capsys):
    code, doc = run(["parse", "--data", str(shared_data), "--json"], capsys)
    assert code == 0 and len(doc) == 799
    unsupported = [d for d in doc if "unsupported" in d]
    assert len(unsupported) == 25
    assert all(set(d) == {"market_id", "contract", "yes_outcome"} for d in doc if "contract" in d)


def test_parse_text_says_the_contract_in_words(capsys):
    code = main(["parse", "Will Bitcoin dip to $80,000 in January?", "--at", "2026-01-02T00:00Z"])
    first, second, *assumed = capsys.readouterr().out.splitlines()
    assert code == 0
    assert first == "BTC touches $80,000 (down) by 2026-02-01 05:00 UTC"
    assert second == (
        "  touch, window from 2026-01-01 05:00 UTC; resolves on binance-spot BTCUSDT 1m low; "
        "YES is 'Yes'"
    )
    assert assumed and all(line.startswith("  assumed: ") for line in assumed)
