from __future__ import annotations

import json

import pytest

from levercast.experiments.cli.commands.price import contract_from_spec
from levercast.experiments.cli.main import main
from levercast.features.errors import UnsupportedContract
from levercast.features.timeutil import parse_utc
from tests.conftest import make_dataset

TOUCH = (
    '{"kind":"touch","asset":"BTC","strike_usd":60000,"direction":"down","end":"2025-06-08T00:00Z"}'
)
KEYS = {"contract", "at", "prob", "prob_lo", "prob_hi", "model", "components", "inputs", "warnings"}


def _run(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_price_touch_on_the_shared_dataset(shared_data, capsys):
    argv = ["price", TOUCH, "--at", "2025-06-01T00:00Z", "--data", str(shared_data), "--json"]
    code, out, _ = _run(capsys, argv)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == KEYS
    assert doc["model"] == "gbm" and 0 <= doc["prob_lo"] <= doc["prob"] <= doc["prob_hi"] <= 1
    assert doc["contract"]["kind"] == "touch" and doc["contract"]["start"] == "2025-06-01T00:00:00Z"
    assert doc["inputs"]["spot_venue"] == "binance-spot"
    assert doc["inputs"]["spot_ts"] == "2025-06-01T00:00:00Z"
    assert doc["prob"] < 0.01  # BTC was near 104,600: a fall to 60,000 in a week is remote


def test_price_mc_is_reproducible(tmp_path, capsys):
    data = make_dataset(tmp_path / "d", hours=24 * 30)
    spec = '{"kind":"touch","asset":"BTC","strike_usd":55000,"end":"2024-01-28T00:00Z"}'
    argv = ["price", spec, "--at", "2024-01-25T00:00Z", "--model", "mc", "--paths", "5000"]
    argv += ["--seed", "4", "--data", str(data), "--json"]
    first = json.loads(_run(capsys, argv)[1])
    second = json.loads(_run(capsys, argv)[1])
    assert first["prob"] == second["prob"] and first["inputs"]["mc_paths"] == 5000


def test_price_text_output(tmp_path, capsys):
    data = make_dataset(tmp_path / "d", hours=24 * 30)
    spec = '{"kind":"close_above","asset":"BTC","strike_usd":50000,"end":"2024-01-28T00:00Z"}'
    code, out, _ = _run(capsys, ["price", spec, "--at", "2024-01-25T00:00Z", "--data", str(data)])
    assert code == 0 and out.startswith("BTC above $50,000") and "P = " in out


def test_unsupported_contract_exits_2_with_one_line(tmp_path, capsys):
    data = make_dataset(tmp_path / "d", hours=24 * 30)
    spec = (
        '{"kind":"liquidations_above","asset":"BTC","threshold":1e9,"side":"long",'
        '"end":"2024-01-28T00:00Z"}'
    )
    argv = ["price", spec, "--at", "2024-01-25T00:00Z", "--data", str(data), "--model", "gbm"]
    code, out, err = _run(capsys, argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("unsupported contract: ")
    assert "liquidation-volume model" in lines[0]


def test_without_model_liquidations_go_to_the_liquidation_model(tmp_path, capsys):
    """``price`` without --model: gbm prices price paths, and a liquidations_above question goes
    to default's liquidation-volume model instead of being refused by gbm."""
    data = make_dataset(tmp_path / "d", hours=24 * 30)
    spec = (
        '{"kind":"liquidations_above","asset":"BTC","threshold":1e9,"side":"long",'
        '"end":"2024-01-28T00:00Z"}'
    )
    argv = ["--json", "price", spec, "--at", "2024-01-25T00:00Z", "--data", str(data)]
    code, out, err = _run(capsys, argv)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"] != "gbm" and 0.0 <= doc["prob"] <= 1.0


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ('{"kind":"touch"', "spec is not valid JSON"),
        ('{"kind":"touch","asset":"BTC","strike_usd":-5,"end":"2024-01-28T00:00Z"}', "strike_usd"),
    ],
    ids=["broken-json", "bad-strike"],
)
def test_bad_spec_exits_2(tmp_path, capsys, spec, match):
    code, _, err = _run(
        capsys, ["price", spec, "--at", "2024-01-25T00:00Z", "--data", str(tmp_path)]
    )
    assert code == 2 and match in err


def test_words_go_to_the_question_parser():
    at = parse_utc("2026-02-10T00:00Z")
    contract, yes = contract_from_spec("Will Bitcoin dip to $60,000 in February?", at)
    assert (contract.kind.value, contract.direction, contract.strike_usd) == ("touch", "down", 6e4)
    assert contract.end is not None and contract.end.month == 3 and yes is not None
    with pytest.raises(UnsupportedContract, match=r"unsupported|not a price"):
        contract_from_spec("Will the Ethereum Pectra upgrade ship in March?", at)


def test_price_text_reads_times_and_vol_for_people(tmp_path, capsys):
    data = make_dataset(tmp_path / "d", hours=24 * 30)
    spec = '{"kind":"touch","asset":"BTC","strike_usd":55000,"end":"2024-01-28T00:00Z"}'
    code, out, _ = _run(capsys, ["price", spec, "--at", "2024-01-25T00:00Z", "--data", str(data)])
    doc = json.loads(
        _run(capsys, ["price", spec, "--at", "2024-01-25T00:00Z", "--data", str(data), "--json"])[1]
    )
    lines = out.splitlines()
    assert code == 0 and lines[1].endswith("model gbm at 2024-01-25 00:00 UTC")
    vol = 100 * doc["inputs"]["vol_annual"]
    assert lines[2].endswith(f"2024-01-25 00:00 UTC)  vol {vol:.1f}% a year (ewma)"), lines[2]
