"""Black-box look-ahead test: ``price --model default`` at an off-hour T answers the same from the
full shared dataset and from a copy holding only the rows known at T."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from levercast.experiments.cli.main import main
from levercast.features.dataset.schema import TABLES
from levercast.features.dataset.store import Store

AT = "2026-02-20T12:30Z"  # off the hour: the bucket that opened at 12:00 is not known yet
CONTRACTS = {
    "touch": {
        "kind": "touch",
        "asset": "BTC",
        "strike_usd": 60000,
        "direction": "down",
        "end": "2026-02-27T00:00Z",
    },
    "liquidations_above": {
        "kind": "liquidations_above",
        "asset": "BTC",
        "side": "long",
        "threshold": 200_000_000,
        "start": "2026-02-20T00:00Z",
        "end": "2026-02-21T00:00Z",
    },
}


def _cut_copy(source: Store, root, at: pd.Timestamp):
    root.mkdir()
    for table in source.tables():
        frame = source.read(table)
        if "available_at" in TABLES[table].columns:
            frame = frame[frame["available_at"] <= at]
        elif table == "markets":
            frame = source.markets_as_of(at)
        frame.to_parquet(root / f"{table}.parquet", index=False)
    return root


def _price(data, spec, capsys) -> dict:
    argv = ["--data", str(data), "--json", "price", json.dumps(spec), "--at", AT]
    assert main([*argv, "--model", "default"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
@pytest.mark.data
def test_default_price_is_the_same_from_the_data_cut_at_t(
    shared_data, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LEVERCAST_COLD_BUDGET_SECS", "100000")
    cut = _cut_copy(Store(shared_data), tmp_path / "cut", pd.Timestamp(AT))
    for name, spec in CONTRACTS.items():
        full, known = _price(shared_data, spec, capsys), _price(cut, spec, capsys)
        assert full["model"] == known["model"] == "default", name
        for key in ("prob", "prob_lo", "prob_hi", "components"):
            assert full[key] == known[key], (name, key)
