"""Corrupted datasets (issue 19): ``data check`` names each broken rule (exit 2) or heuristic
(a warning); commands read around the bad rows with one named warning and its count, so no
model sees them; a table whose format is broken is one line and exit 2. Bounded time, store
unchanged."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from levercast.experiments.cli.main import main
from tests.conftest import make_dataset
from tests.faults.corrupt import CORRUPTIONS, FORMAT_BREAKS

AT = "2024-01-25T00:00Z"
CANDLE_CASES = [c for c in CORRUPTIONS if c.table == "candles"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("clean") / "d", hours=24 * 30)


def _broken(clean: Path, tmp_path: Path, corrupt) -> Path:
    root = tmp_path / "d"
    shutil.copytree(clean, root)
    corrupt(root)
    return root


def _digest(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def _run(capsys, argv: list[str]) -> tuple[int, str, list[str], float]:
    start = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    return code, out, [line for line in err.splitlines() if line.strip()], elapsed


@pytest.mark.parametrize("case", CORRUPTIONS, ids=[c.name for c in CORRUPTIONS])
def test_data_check_names_the_rule_and_count(clean, tmp_path, monkeypatch, capsys, case):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    root = _broken(clean, tmp_path, case.corrupt)
    before = _digest(root)
    code, out, err, elapsed = _run(capsys, ["data", "check", "--json", "--data", str(root)])
    report = json.loads(out)
    where = report["problems"] if case.problem else report["warnings"]
    hits = [line for line in where if line.startswith(f"{case.table}: 1 row(s) excluded")]
    assert len(hits) == 1 and case.rule in hits[0], where
    assert (code, report["ok"]) == ((2, False) if case.problem else (0, True))
    assert err == [] and elapsed < 30 and _digest(root) == before


@pytest.mark.parametrize("case", CANDLE_CASES, ids=[c.name for c in CANDLE_CASES])
def test_features_read_around_bad_bars_with_one_named_warning(
    clean, tmp_path, monkeypatch, capsys, case
):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    root = _broken(clean, tmp_path, case.corrupt)
    before = _digest(root)
    argv = ["features", "--asset", "BTC", "--at", AT, "--json", "--data", str(root)]
    with pytest.warns(UserWarning, match="excluded") as caught:  # Python's display on stderr
        code, out, err, elapsed = _run(capsys, argv)
    assert code == 0, err
    quarantine = [w for w in caught if type(w.message).__name__ == "QuarantineWarning"]
    assert len(quarantine) == 1
    text = str(quarantine[0].message)
    assert text.startswith("candles: excluded 1 of 720 row(s)") and case.rule in text
    doc = json.loads(out)
    values = [v for v in doc["features"].values() if isinstance(v, float)]
    assert values and all(math.isfinite(v) for v in values)
    assert abs(doc["features"]["price_usd"]) < 1e6  # the 1e12 and x10 bars never reach a model
    assert elapsed < 60 and _digest(root) == before


@pytest.mark.parametrize("case", FORMAT_BREAKS, ids=[c.name for c in FORMAT_BREAKS])
def test_a_broken_format_is_one_line_and_exit_2(clean, tmp_path, monkeypatch, capsys, case):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    root = _broken(clean, tmp_path, case.corrupt)
    before = _digest(root)
    if case.table == "candles":
        command = ["features", "--asset", "BTC", "--at", AT]
    else:
        command = ["data", "check"]
    code, out, err, elapsed = _run(capsys, [*command, "--data", str(root)])
    assert code == 2
    if command[0] == "data":
        assert "NOT ok" in out and case.rule in out
    else:
        assert len(err) == 1 and case.rule in err[0] and "Traceback" not in err[0]
    assert elapsed < 30 and _digest(root) == before


def test_an_out_of_range_forward_log_is_read_around(tmp_path):
    import levercast.experiments.evaluation.forward_log as fl
    from levercast.features.dataset.sanity import QuarantineWarning
    from levercast.models.contracts import Contract

    contract = Contract.from_json(
        {
            "kind": "touch",
            "asset": "BTC",
            "strike_usd": 5e4,
            "start": AT,
            "end": "2024-01-28T00:00Z",
        }
    )
    good = {
        "logged_at": AT, "at": AT, "source": "scan", "venue": "polymarket", "market_id": "m",
        "question": "q", "contract": json.dumps(contract.to_json_dict()), "yes_outcome": "Yes",
        "prob": 0.4, "prob_lo": 0.3, "prob_hi": 0.5, "components": "{}", "prob_bid": 0.38,
        "prob_ask": 0.42, "quote_observed_at": AT, "quote_source": "book", "model": "gbm",
        "model_version": "gbm@f", "data_fingerprint": "abc",
    }  # fmt: skip
    rows = [good]
    rows.append({**good, "market_id": "m2", "prob": 5.0})
    rows.append({**good, "market_id": "m3", "prob_ask": -0.1})
    rows.append({**good, "market_id": "m4", "contract": '{"kind": "touch", "strike_usd": true}'})
    rows.append({**good, "market_id": "m5", "contract": "[" * 10_000})
    rows.append({**good, "market_id": "m6", "prob_hi": 1.5})
    rows.append({**good, "market_id": "m7", "prob_lo": None, "prob_hi": None})  # no band: kept
    frame = fl._frame(rows)
    frame.to_parquet(tmp_path / "forecasts.parquet", index=False)
    with pytest.warns(QuarantineWarning, match=r"excluded 5 of 7 forward-log row\(s\)") as w:
        log = fl.read_forecasts(tmp_path)
    text = str(w[0].message)
    assert "prob missing or outside [0, 1]: 1" in text
    assert "prob_lo or prob_hi outside [0, 1]: 1" in text
    assert "prob_bid or prob_ask outside [0, 1]: 1" in text
    assert "contract not a valid contract JSON: 2" in text
    assert log["market_id"].tolist() == ["m", "m7"]
    assert [c.strike_usd for c in fl.forecast_contracts(log)] == [5e4, 5e4]
    pd.testing.assert_frame_equal(log.iloc[:1], fl._frame([good]), check_dtype=False)
