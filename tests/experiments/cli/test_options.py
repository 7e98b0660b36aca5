"""What the command line accepts (experiments/cli/options.py): checked while parsing, before any
data is loaded, and in step with the vocabularies it copies (models, assets, kinds, variables)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from levercast.experiments.cli import options as o
from levercast.experiments.cli.main import build_parser, main

REPO = Path(__file__).resolve().parents[3]
HEAVY = ["pandas", "numpy", "sklearn", "lightgbm", "mlflow", "scipy", "pyarrow", "matplotlib"]


def test_vocabularies_match_their_owners():
    from levercast.experiments.learning.pricers import MODEL_NAMES
    from levercast.markets.questions.common import ASSETS
    from levercast.models.contracts import Kind

    assert tuple(o.MODELS) == tuple(MODEL_NAMES)
    assert set(o.ASSETS) == set(ASSETS.values())
    assert tuple(k.value for k in Kind) == o.KINDS


def test_every_levercast_variable_the_code_reads_is_in_the_help():
    names = set()
    for layer in ("features", "models", "markets", "experiments", "levercast"):
        for path in (REPO / layer).rglob("*.py"):
            names |= set(re.findall(r"LEVERCAST_[A-Z][A-Z0-9_]*[A-Z0-9]", path.read_text()))
    helptext = build_parser().format_help()
    missing = sorted(n for n in names if n not in helptext)
    assert not missing, missing


def test_help_shows_defaults_choices_and_examples():
    parser = build_parser()
    sub = {a.dest: a for a in parser._actions}["command"].choices
    for name, command in sub.items():
        for action in command._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
        assert "examples:" in command.format_help(), name
    scan = sub["scan"].format_help()
    assert "(default: 0.02)" in scan and "market_aware" in scan
    assert "(default: None)" not in scan


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["price", "x", "--at", "2026-01-01T00:00Z", "--model", "nope"], "--model must be one of"),
        (["price", "x", "--at", "2026-01-01T00:00"], "--at must carry a UTC offset"),
        (["price", "x", "--at", "2026-01-01T00:00Z", "--paths", "5"], "--paths must be within"),
        (["backtest", "--asset", "BTC", "--start", "2025-01-01T00:00Z", "--end",
          "2025-02-01T00:00Z", "--models", "gbm,nope"], "unknown model nope; known: gbm"),
        (["backtest", "--asset", "BTC", "--start", "2025-01-01T00:00Z", "--end",
          "2025-02-01T00:00Z", "--horizons", "1h,x"], "--horizons must be a number and a unit"),
        (["scan", "--asset", "FOO"], "unknown asset FOO; known: ADA, BNB, BTC"),
        (["scan", "--venue", "ftx"], "unknown venue ftx; known: polymarket, kalshi"),
        (["scan", "--min-edge", "2"], "--min-edge must be within [0, 1]"),
        (["heatmap", "--asset", "BTC", "--start", "2026-01-02T00:00Z", "--end",
          "2026-01-01T00:00Z", "--out", "x.png"], "--end must be after --start"),
        (["heatmap", "--asset", "BTC", "--start", "2026-01-01T00:00Z", "--end",
          "2026-01-02T00:00Z", "--out", "x.png", "--bin-bps", "0.01"], "--bin-bps must be within"),
        (["features", "--asset", "BTC,ETH", "--at", "2026-01-01T00:00Z"], "must be one asset"),
        (["report", "--keep", "0"], "--keep must be within [1, inf]"),
        (["fetch", "candles", "--venue", "mtgox"], "unknown venue mtgox"),
    ],
    ids=["model", "naive-time", "paths", "models", "horizons", "asset", "venue", "min-edge",
         "window", "bin-bps", "one-asset", "keep", "fetch-venue"],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line_before_any_data(argv, message, tmp_path, capsys):
    missing = tmp_path / "no-such-dataset"  # any data access would fail differently
    assert main([*argv, "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_wrong_model_loads_no_data_library():
    """Validation happens while parsing: no pandas, numpy or pyarrow is imported."""
    code = (
        "import sys\n"
        "from levercast.experiments.cli.main import main\n"
        "rc = main(['price', 'x', '--at', '2026-01-01T00:00Z', '--model', 'nope'])\n"
        f"print(rc, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "2 []"


def test_version_and_models(capsys):
    assert main(["--version"]) == 0
    assert re.fullmatch(r"levercast \S+\n", capsys.readouterr().out)
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for name in o.MODELS:
        assert name in text
