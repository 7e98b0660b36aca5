"""``heatmap`` and ``features validate-map`` on a synthetic dataset (no network)."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from levercast.experiments.cli.commands.validate_map import JSON_KEYS, run_validate_map
from levercast.experiments.cli.main import main


def test_heatmap_writes_a_png_and_prints_the_interface_json(synthetic_data, tmp_path, capsys):
    out = tmp_path / "plots" / "heat.png"
    code = main(
        [
            "heatmap",
            "--data",
            str(synthetic_data),
            "--asset",
            "btc",
            "--start",
            "2024-01-10T00:00Z",
            "--end",
            "2024-01-12T00:00Z",
            "--out",
            str(out),
            "--bin-bps",
            "20",
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"out", "bins", "snapshots"}
    assert payload["out"] == str(out)
    assert payload["snapshots"] == 49  # bar closes 10th 00:00 .. 12th 00:00 inclusive
    assert payload["bins"] > 10
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2024-01-12T00:00Z", "2024-01-10T00:00Z", "--end must be after --start"),
        ("2024-01-12T00:00", "2024-01-13T00:00Z", "UTC offset"),
        ("2030-01-01T00:00Z", "2030-01-02T00:00Z", "no binance-usdm BTC 1h bar"),
    ],
    ids=["reversed", "naive", "no-data"],
)
def test_heatmap_bad_input_exits_2_with_one_line(
    synthetic_data, tmp_path, capsys, start, end, message
):
    argv = ["heatmap", "--data", str(synthetic_data), "--asset", "BTC", "--start", start]
    code = main([*argv, "--end", end, "--out", str(tmp_path / "x.png"), "--json"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_validate_map_prints_exactly_the_interface_keys(synthetic_data, capsys):
    args = argparse.Namespace(
        data=str(synthetic_data),
        json=True,
        asset="BTC",
        start="2024-01-08T00:00Z",
        end="2024-01-20T00:00Z",
    )
    assert run_validate_map(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert tuple(payload) == JSON_KEYS
    assert payload["hours"] == 12 * 24
    for key in JSON_KEYS[1:5]:
        assert payload[key] is None or -1 <= payload[key] <= 1
    for key in JSON_KEYS[5:]:
        assert 0 <= payload[key] <= 1


def test_validate_map_needs_start_and_end(synthetic_data):
    from levercast.features.errors import ConfigError

    args = argparse.Namespace(
        data=str(synthetic_data), json=True, asset="BTC", start=None, end=None
    )
    with pytest.raises(ConfigError, match="needs --start and --end"):
        run_validate_map(args)


def _heatmap(data, out, *extra):
    return main(
        [
            "heatmap", "--data", str(data), "--asset", "BTC", "--start", "2024-01-10T00:00Z",
            "--end", "2024-01-12T00:00Z", "--out", str(out), "--json", *extra,
        ]
    )  # fmt: skip


def test_heatmap_lookback_changes_the_map(synthetic_data, tmp_path, capsys):
    assert _heatmap(synthetic_data, tmp_path / "default.png") == 0
    assert _heatmap(synthetic_data, tmp_path / "day.png", "--lookback", "24") == 0
    capsys.readouterr()
    assert (tmp_path / "default.png").read_bytes() != (tmp_path / "day.png").read_bytes()
    assert _heatmap(synthetic_data, tmp_path / "bad.png", "--lookback", "500") == 2
    assert "--lookback must be a number of hours in [24, 168]" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


def test_validate_map_lookback(synthetic_data, capsys):
    from levercast.experiments.studies.liquidation_map.fit import score_map
    from levercast.features.dataset.store import Store
    from levercast.features.liqmap.map import LiqMapParams

    window = {"start": "2024-01-08T00:00Z", "end": "2024-01-20T00:00Z"}
    args = argparse.Namespace(
        data=str(synthetic_data), json=True, asset="BTC", lookback=48.0, **window
    )
    assert run_validate_map(args) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = score_map(
        Store(synthetic_data),
        "BTC",
        start=pd.Timestamp(window["start"]),
        end=pd.Timestamp(window["end"]),
        params=LiqMapParams.default(lookback_hours=48.0),
    ).scores()
    assert payload == {key: expected[key] for key in JSON_KEYS}
    code = main(
        ["features", "validate-map", "--data", str(synthetic_data), "--asset", "BTC",
         "--start", window["start"], "--end", window["end"], "--lookback", "23", "--json"]
    )  # fmt: skip
    assert code == 2


@pytest.mark.parametrize(
    ("out", "where"),
    [("maps", "maps"), ("new/", "new"), ("plain", "plain")],
    ids=["existing-dir", "trailing-slash", "no-suffix"],
)
def test_heatmap_out_dir_writes_into_it(synthetic_data, tmp_path, capsys, out, where):
    (tmp_path / "maps").mkdir()
    target = f"{tmp_path / out}/" if out.endswith("/") else str(tmp_path / out)
    assert _heatmap(synthetic_data, target) == 0
    payload = json.loads(capsys.readouterr().out)
    written = tmp_path / where / "heatmap-BTC-20240110T0000Z-20240112T0000Z.png"
    assert payload["out"] == str(written)  # the JSON names the file written
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / f"{where}.png").exists()  # never DIR.png beside it


def test_heatmap_refuses_other_suffixes_and_too_many_bins(synthetic_data, tmp_path, capsys):
    assert _heatmap(synthetic_data, tmp_path / "x.jpg") == 2
    assert "--out must be a .png file or a directory" in capsys.readouterr().err
    assert _heatmap(synthetic_data, tmp_path / "x.png", "--bin-bps", "1") == 2
    err = capsys.readouterr().err
    assert "the cap is MAX_BINS = 2000" in err and len(err.strip().splitlines()) == 1
