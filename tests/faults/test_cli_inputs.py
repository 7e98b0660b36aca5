"""Bad command-line inputs (issue 19): each exits 2 with one clear line on stderr, quickly,
before any data is loaded, and leaves the store as it was. Never a traceback without --debug.

The table runs ``main`` in-process on a small synthetic store (a 100,000-deep JSON argument
is longer than the kernel allows one argv entry)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from levercast.experiments.cli.main import main
from tests.conftest import make_dataset

AT = ["--at", "2024-01-25T00:00Z"]
END = "2024-01-28T00:00Z"


def spec(**fields: object) -> str:
    import json

    base: dict[str, object] = {
        "kind": "touch",
        "asset": "BTC",
        "strike_usd": 45000,
        "direction": "down",
        "end": END,
    }
    base.update(fields)
    return json.dumps(base)


def price(text: str, *extra: str) -> list[str]:
    return ["price", text, *AT, *extra]


DEEP_OBJECT = '{"kind":' + "[" * 100_000 + "]" * 100_000 + "}"
HEATMAP = ["heatmap", "--asset", "BTC", "--start", "2024-01-20T00:00Z", "--end", END]
BACKTEST = ["backtest", "--models", "gbm"]

# (id, argv, a fragment of the one stderr line)
CASES = [
    ("strike-true", price(spec(strike_usd=True)), "strike_usd must be a positive price"),
    ("strike-string", price(spec(strike_usd="60000")), 'found "60000"'),
    ("strike-negative", price(spec(strike_usd=-5)), "strike_usd must be a positive price"),
    ("strike-nan", price(spec().replace("45000", "NaN")), "standard JSON numbers; found NaN"),
    ("strike-huge", price(spec(strike_usd=1e300)), "at most 1e+09"),
    ("unknown-key", price(spec(strke_usd=1)), "unknown key(s) ['strke_usd']; known:"),
    ("kind-unknown", price(spec(kind="touchy")), "kind must be one of"),
    (
        "average-secs-text",
        price(spec(resolution={"average_secs": "abc"})),
        "resolution.average_secs must be an integer",
    ),
    (
        "neither-value-text",
        price(
            spec(
                kind="first_of",
                lower_usd=4e4,
                upper_usd=5e4,
                strike_usd=None,
                direction=None,
                resolution={"neither_value": "x"},
            )
        ),
        "resolution.neither_value must be a number within [0, 1]",
    ),
    ("source-list", price(spec(resolution={"source": ["x"]})), "resolution.source must be"),
    (
        "interval-huge",
        price(spec(resolution={"interval": "99999999999999999999"})),
        "resolution.interval must be a duration",
    ),
    ("resolution-text", price(spec(resolution="binance")), "resolution must be an object"),
    ("end-before-start", price(spec(end="2024-01-20T00:00Z")), "end must be after start"),
    ("end-naive", price(spec(end="2024-01-28T00:00")), "end must be an ISO-8601 time"),
    ("window-decades", price(spec(end="2090-01-01T00:00Z")), "end must be at most 3660 days"),
    ("deep-array-json", price(DEEP_OBJECT), "spec must be at most 20,000 characters"),
    (
        "deep-small-json",
        price('{"kind":' + "[" * 50 + "]" * 50 + "}"),
        "spec must nest at most 4 levels",
    ),
    ("broken-json", price('{"kind":"touch"'), "spec is not valid JSON"),
    ("at-naive", ["price", spec(), "--at", "2024-01-25T00:00"], "--at"),
    ("mc-seed-negative", price(spec(), "--model", "mc", "--seed", "-1"), "--seed"),
    ("mc-paths-float", price(spec(), "--model", "mc", "--paths", "1e9"), "--paths"),
    ("mc-paths-huge", price(spec(), "--model", "mc", "--paths", "1000000000"), "--paths"),
    ("model-unknown", price(spec(), "--model", "gbm2"), "--model"),
    ("evaluate-seed-negative", ["evaluate", "--seed", "-1"], "--seed"),
    ("heatmap-bins-tiny", [*HEATMAP, "--out", "h.png", "--bin-bps", "0.0001"], "--bin-bps"),
    ("heatmap-bins-nan", [*HEATMAP, "--out", "h.png", "--bin-bps", "nan"], "--bin-bps"),
    (
        "backtest-asset-unknown",
        [*BACKTEST, "--asset", "XYZ", "--start", "2024-01-10T00:00Z", "--end", END],
        "XYZ",
    ),
    (
        "backtest-asset-not-in-store",
        [*BACKTEST, "--asset", "ETH", "--start", "2024-01-10T00:00Z", "--end", END],
        "asset must be one the store has hourly candles for: ['BTC']; found 'ETH'",
    ),
    (
        "backtest-2010",
        [*BACKTEST, "--asset", "BTC", "--start", "2010-01-01T00:00Z", "--end", "2010-03-01T00:00Z"],
        "must overlap the BTC hourly candles",
    ),
    (
        "backtest-venue-bogus",
        [
            *BACKTEST,
            "--asset",
            "BTC",
            "--start",
            "2024-01-10T00:00Z",
            "--end",
            END,
            "--venue",
            "bogus",
        ],
        "bogus",
    ),
    (
        "backtest-end-before-start",
        [*BACKTEST, "--asset", "BTC", "--start", END, "--end", "2024-01-10T00:00Z"],
        "--end must be after --start",
    ),
    (
        "report-out-existing-file",
        ["report", "--asset", "BTC", *AT, "--out", "{existing_file}"],
        "--out must be a directory",
    ),
]


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("faults") / "d", hours=24 * 30)


def _digest(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def _case_id(case: object) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]  # type: ignore[index]


@pytest.mark.parametrize(("name", "argv", "fragment"), CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_exits_2_with_one_line(
    store_dir, tmp_path, monkeypatch, capsys, name, argv, fragment
):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    argv = [a.replace("{existing_file}", str(existing)) for a in argv]
    before = _digest(store_dir)
    start = time.perf_counter()
    code = main([*argv, "--data", str(store_dir)])
    elapsed = time.perf_counter() - start
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err and fragment in lines[0], lines
    assert out == ""
    assert elapsed < 30, elapsed
    assert _digest(store_dir) == before
    assert existing.read_text() == "keep me"


def test_the_cli_caps_agree_with_the_library():
    from levercast.experiments.cli import validate
    from levercast.models.pricing import montecarlo

    budget = montecarlo.MC_MEMORY_BUDGET_BYTES // montecarlo.BYTES_PER_PATH
    assert budget == validate.MAX_MC_PATHS
    for bad in (-1, 2**32, "1.5", True, "x"):
        with pytest.raises(ValueError, match="--seed must be an integer within"):
            validate.seed(bad)
    assert validate.seed("7") == 7
    with pytest.raises(ValueError, match="--paths must be an integer within"):
        validate.mc_paths("1000000000")


def test_output_paths_are_checked_before_work(tmp_path):
    from levercast.experiments.cli import validate

    existing = tmp_path / "f.txt"
    existing.write_text("x")
    with pytest.raises(ValueError, match=r"--out must be a directory .*found the file"):
        validate.output_dir(str(existing))
    with pytest.raises(ValueError, match="--out must be a non-empty path; found ''"):
        validate.output_dir("")
    with pytest.raises(ValueError, match="--out must be a file path; found the directory"):
        validate.output_file(str(tmp_path))
    with pytest.raises(ValueError, match="--out must be in an existing directory"):
        validate.output_file(str(tmp_path / "missing" / "h.png"))
    with pytest.raises(ValueError, match=r"--out must end in \.png"):
        validate.output_file(str(tmp_path / "h.jpg"), suffix=".png")
    assert validate.output_dir(str(tmp_path / "new")) == tmp_path / "new"


def test_a_truncated_forward_log_exits_2(store_dir, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "forecasts.parquet").write_bytes(b"PAR1\x15\x04\x15\x10" + b"\x00" * 40)
    monkeypatch.setenv("LEVERCAST_HOME", str(home))
    code = main(["evaluate", "--forecasts", "--data", str(store_dir)])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert "forward log cannot be read" in lines[0] and out == ""
