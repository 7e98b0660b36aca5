"""``levercast features --asset A --at T --json`` (INTERFACE.md §4) on the shared dataset."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from levercast.experiments.cli.main import main

AT = "2026-02-20T00:00Z"
KEYS = {"asset", "at", "features", "missing", "clusters", "sources"}


def _run(capsys, data, *extra):
    code = main(["features", "--asset", "BTC", "--at", AT, "--data", str(data), "--json", *extra])
    out = capsys.readouterr()
    return code, out


def test_features_json_on_shared_data(shared_data, capsys):
    code, out = _run(capsys, shared_data)
    assert code == 0, out.err
    doc = json.loads(out.out)
    assert set(doc) == KEYS
    assert doc["asset"] == "BTC" and doc["at"] == "2026-02-20T00:00:00Z"
    values = doc["features"]
    non_null = [k for k, v in values.items() if v is not None]
    assert len(non_null) >= 10, non_null
    assert set(doc["missing"]) == {k for k, v in values.items() if v is None}
    assert all(isinstance(r, str) and r for r in doc["missing"].values())
    assert isinstance(doc["clusters"], list)
    assert doc["sources"]["open_interest"]["venue"] == "aggregate"
    assert doc["sources"]["price"] == {"venue": "binance-usdm", "last_ts": "2026-02-19T23:00:00Z"}
    assert doc["missing"]["elr"].startswith("exchange_reserves (cryptoquant-style) stale since")
    assert values["elr_proxy_oi_supply"] is not None


def test_features_identical_on_a_copy_truncated_after_t(shared_data, tmp_path, capsys):
    cut = pd.Timestamp(AT) + pd.Timedelta("3h")
    for path in shared_data.glob("*.parquet"):
        frame = pd.read_parquet(path)
        if "ts" in frame.columns:
            frame = frame[frame["ts"] <= cut]
        frame.to_parquet(tmp_path / path.name, index=False)
    code_full, full = _run(capsys, shared_data)
    code_cut, truncated = _run(capsys, tmp_path)
    assert code_full == code_cut == 0
    assert json.loads(full.out) == json.loads(truncated.out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--asset", "BTC", "--at", "2026-02-20T00:00"], "UTC offset"),
        (["--asset", "DOGE", "--at", AT], "--asset must be one of"),
        (["--asset", "BTC"], "--at is required"),
    ],
    ids=["naive-at", "unknown-asset", "no-at"],
)
def test_features_bad_arguments_exit_2(shared_data, capsys, argv, message):
    code = main(["features", *argv, "--data", str(shared_data), "--json"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err


def test_features_text_output(shared_data, capsys):
    assert main(["features", "--asset", "ETH", "--at", AT, "--data", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ETH features at 2026-02-20 00:00 UTC")
    assert "exchange_reserves: no rows for ETH" in out
    assert "liquidation clusters" in out and "distance from spot" in out  # the cluster table
    assert "$" in out and "%" in out  # money and percentages, not raw floats
    assert not re.search(r"\d\.\d+e[-+]\d", out) and "None" not in out and "True" not in out


MAP_NAMES = ("liq_long_mass_usd", "liq_short_mass_usd", "liq_long_nearest_dist_pct")


def test_lookback_changes_only_the_map_and_matches_the_library(shared_data, capsys):
    from levercast.features.dataset.store import Store
    from levercast.features.liqmap.clusters import liqmap_features
    from levercast.features.liqmap.map import LiqMapParams

    code, default = _run(capsys, shared_data)
    code_48, short = _run(capsys, shared_data, "--lookback", "48")
    assert code == code_48 == 0
    full, part = json.loads(default.out), json.loads(short.out)
    params = LiqMapParams.default(lookback_hours=48.0)
    expected, _, clusters = liqmap_features(
        Store(shared_data).at(pd.Timestamp(AT)), "BTC", params=params
    )
    for name in MAP_NAMES:
        assert part["features"][name] == pytest.approx(expected[name])
    assert part["features"]["liq_long_mass_usd"] < full["features"]["liq_long_mass_usd"]
    assert part["clusters"] == json.loads(json.dumps(clusters))
    from levercast.features.liqmap.snapshots import FEATURE_NAMES

    on_the_map = {*FEATURE_NAMES, "liq_cascade_1h"}
    unchanged = [n for n in full["features"] if n not in on_the_map]
    assert {n: part["features"][n] for n in unchanged} == {
        n: full["features"][n] for n in unchanged
    }
    # the default is the committed lookback
    code_168, same = _run(capsys, shared_data, "--lookback", "168")
    assert code_168 == 0 and json.loads(same.out) == full


@pytest.mark.parametrize("value", ["12", "200", "nan"], ids=["short", "long", "nan"])
def test_lookback_out_of_range_exits_2(shared_data, capsys, value):
    code, out = _run(capsys, shared_data, "--lookback", value)
    assert code == 2
    assert "--lookback must be a number of hours in [24, 168]" in out.err
    assert out.err.count("\n") == 1
