from __future__ import annotations

import json
import subprocess
import sys

import pytest

from levercast.experiments.cli.main import build_parser, main

HEAVY = ["pandas", "numpy", "sklearn", "lightgbm", "mlflow", "scipy", "pyarrow", "matplotlib"]


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from experiments.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("argv", [["--json", "data", "check"], ["data", "check", "--json"]])
def test_global_options_before_or_after_command(argv):
    args = build_parser().parse_args([*argv, "--data", "X"])
    assert args.json is True and args.data == "X"
    args = build_parser().parse_args(["--data", "Y", *argv])
    assert args.data == "Y"


def test_store_alias():
    assert build_parser().parse_args(["data", "check", "--store", "Z"]).data == "Z"


def test_data_check_json(shared_data, capsys):
    assert main(["data", "check", "--data", str(shared_data), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and set(doc) == {"ok", "tables", "problems", "warnings"}
    assert doc["tables"]["candles"]["rows"] == 297932


def test_missing_data_exits_2_with_one_line(tmp_path, capsys):
    assert main(["data", "check", "--data", str(tmp_path / "none"), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False


def test_usage_error_exits_2_with_one_line(capsys):
    assert main(["nope"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "COMMAND must be one of" in err
