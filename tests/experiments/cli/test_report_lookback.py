"""``levercast report --lookback H`` (INTERFACE.md §4a): the report's maps use the window."""

from __future__ import annotations

import json
import re
from pathlib import Path

from levercast.experiments.cli.main import main
from tests.conftest import make_dataset

AT = "2024-01-25T12:00Z"  # inside the synthetic dataset (2024-01-01..31)


def _key_numbers(markdown: Path) -> dict[str, str]:
    rows = re.findall(r"^\| (BTC [^|]+?) \| ([^|]+?) \|$", markdown.read_text(), re.MULTILINE)
    return dict(rows)


def _report(data, out, capsys, *extra) -> tuple[int, dict]:
    code = main(["report", "--data", str(data), "--asset", "BTC", "--at", AT, "--out", str(out),
                 "--json", "--model", "gbm", *extra])  # fmt: skip
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {"err": captured.err})


def test_report_lookback_reaches_the_map_sections(tmp_path, monkeypatch, capsys):
    data = make_dataset(tmp_path / "data")
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    code, default = _report(data, tmp_path / "default", capsys)
    code_day, day = _report(data, tmp_path / "day", capsys, "--lookback", "24")
    assert code == code_day == 0
    full, short = _key_numbers(Path(default["markdown"])), _key_numbers(Path(day["markdown"]))
    moved = [k for k in full if "cluster" in k and full[k] != short[k]]
    assert moved, (full, short)  # the nearest clusters come from the 24 h map
    assert full["BTC ELR"] == short["BTC ELR"]  # what is not on the map is unchanged
    code_bad, bad = _report(data, tmp_path / "bad", capsys, "--lookback", "169")
    assert code_bad == 2 and "--lookback must be a number of hours in [24, 168]" in bad["err"]
