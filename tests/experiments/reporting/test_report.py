"""The probability report: rendered in headless Chromium (loads, plots present and non-blank,
page numbers equal the Markdown summary), missing inputs as notes, the --every scheduler."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.cli.main import main
from levercast.experiments.reporting.report import build_report, render_markdown, write_report
from levercast.experiments.reporting.sections import expiries
from levercast.features.dataset.store import Store

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AT = datetime(2024, 1, 25, 12, tzinfo=UTC)  # inside the synthetic dataset (2024-01-01..31)
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="headless Chromium not installed (apt-get install -y chromium gives /usr/bin/chromium)",
)


def _make_dataset(root: Path) -> Path:

    from tests.conftest import make_dataset

    return make_dataset(root)


@pytest.fixture(scope="module")
def report_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = _make_dataset(root / "data")
    old = os.environ.get("LEVERCAST_HOME")
    os.environ["LEVERCAST_HOME"] = str(root / "home")
    try:
        report = build_report(Store(data), at=AT, assets=["BTC"], model="gbm")
        payload = write_report(report, root / "out", stamp=AT)
    finally:
        if old is None:
            os.environ.pop("LEVERCAST_HOME", None)
        else:
            os.environ["LEVERCAST_HOME"] = old
    return report, payload


def chromium(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def image_std(png: bytes) -> float:
    from matplotlib.image import imread

    pixels = imread(io.BytesIO(png), format="png")
    return float(np.asarray(pixels)[..., :3].std())


def markdown_keys(text: str) -> dict[str, str]:
    block = text.split("## Key numbers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| ")][1:]
    return {
        cells[0]: cells[1]
        for cells in ([c.strip() for c in row.strip("|").split(" | ")] for row in rows)
    }


@needs_chromium
def test_page_loads_in_chromium_with_plots_and_numbers_of_the_summary(report_files, tmp_path):
    report, payload = report_files
    url = Path(payload["html"]).resolve().as_uri()
    dom = chromium("--dump-dom", "--enable-logging=stderr", "--v=0", url, tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<main id="report">' in dom.stdout and "</main>" in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    assert "<script" not in dom.stdout
    sources = re.findall(r'<img class="plot" src="([^"]+)"', dom.stdout)
    assert len(sources) == payload["plots"] >= 5
    for src in sources:
        assert src.startswith("data:image/png;base64,")  # self-contained: no file, no network
        assert image_std(base64.b64decode(src.split(",", 1)[1])) > 0.01  # non-blank
    page_keys = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'data-key="([^"]+)">([^<]*)</td>', dom.stdout)
    }
    summary_keys = markdown_keys(Path(payload["markdown"]).read_text())
    assert page_keys == summary_keys == report.keys
    for key in ("BTC ELR", "BTC spot", "BTC OI dominance score", "top edge"):
        assert page_keys[key] not in ("", None)
    # Recent calibration comes from forecasts and outcomes known at T: its period ends by T.
    period = page_keys["calibration period"]
    end = datetime.strptime(period.split(" to ")[1], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert end <= AT, period
    assert re.search(r"Period: [^<]+ \(ends at or before T = ", dom.stdout)
    # No number on the page in scientific notation (text only: the data URIs are base64).
    text = re.sub(r'src="data:[^"]+"', "", dom.stdout)
    text = re.sub(r"<[^>]+>", " ", text)
    assert not re.search(r"\b\d+(?:\.\d+)?[eE][-+]?\d+\b", text), re.findall(
        r".{30}\b\d+(?:\.\d+)?[eE][-+]?\d+\b.{10}", text
    )
    # The heatmap carries the realised liquidations.
    assert re.search(r'<img class="plot" src="[^"]+" alt="BTC liquidation heatmap with the '
                     r'realised liquidations overlaid">', dom.stdout)  # fmt: skip
    assert "of longs and" in text and "liquidated in" in text
    shot = tmp_path / "shot.png"
    done = chromium(f"--screenshot={shot}", "--window-size=1200,2000", url, tmp_path=tmp_path)
    assert done.returncode == 0 and shot.exists()
    assert image_std(shot.read_bytes()) > 0.01


def test_report_sections_cover_the_issue(report_files):
    report, _ = report_files
    titles = " | ".join(s.title for s in report.sections)
    for part in ("leverage", "liquidation map", "dominance", "ladders", "Top edges",
                 "calibration", "freshness"):  # fmt: skip
        assert part.lower() in titles.lower()
    assert math_ok(report.keys["BTC ELR"])  # reserves exist in the synthetic data: a real ELR


def math_ok(text: str) -> bool:
    return text != "n/a" and float(text.replace(",", "")) > 0


def test_missing_inputs_become_one_line_notes(tmp_path):
    data = _make_dataset(tmp_path / "data")
    for name in ("open_interest", "liquidations", "exchange_reserves", "markets"):
        (data / f"{name}.parquet").unlink()
    report = build_report(Store(data), at=AT, assets=["BTC", "ETH"], model="gbm")
    assert report.notes
    assert all("\n" not in note for note in report.notes)
    assert any(note.startswith("ETH") for note in report.notes)  # no ETH data at all
    assert "## Notes" in render_markdown(report)


def test_cli_replay_writes_files_and_no_forward_log(tmp_path, monkeypatch, capsys):
    data = _make_dataset(tmp_path / "data")
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    out = tmp_path / "reports"
    code = main(["report", "--data", str(data), "--asset", "BTC", "--at", "2024-01-25T12:00Z",
                 "--out", str(out), "--json", "--model", "gbm"])  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(payload) == {"html", "markdown", "plots", "notes"}
    assert Path(payload["html"]).parent == out and Path(payload["markdown"]).exists()
    assert not (tmp_path / "home" / "forecasts.parquet").exists()


def test_every_with_at_is_refused(capsys):
    code = main(["report", "--at", "2024-01-25T12:00Z", "--every", "1h"])
    assert code == 2
    assert "--every renders live reports" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("at", "week", "month"),
    [
        ("2025-11-10T12:00Z", "2025-11-17", "2025-12-01"),  # Monday noon
        ("2025-11-16T12:00Z", "2025-11-24", "2025-12-01"),  # Sunday noon: under a day -> next
        ("2025-11-30T06:00Z", "2025-12-08", "2026-01-01"),  # both under a day away
    ],
    ids=["monday", "sunday", "month-end"],
)
def test_ladder_expiries(at, week, month):
    found = list(expiries(pd.Timestamp(at)).values())
    assert [f"{t:%Y-%m-%d}" for t in found] == [week, month]


def test_live_report_on_stale_inputs_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    data = _make_dataset(tmp_path / "data")  # January 2024: stale for a live report now
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    out = tmp_path / "reports"
    code = main(["report", "--data", str(data), "--asset", "BTC", "--out", str(out), "--json",
                 "--model", "gbm"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stale inputs: candles BTC (last 2024-01-")
    assert "open_interest BTC" in lines[0] and "funding BTC" in lines[0]
    assert captured.out == "" and not out.exists()  # nothing rendered, nothing on stdout


def test_replay_on_the_same_data_exits_0(tmp_path, monkeypatch, capsys):
    data = _make_dataset(tmp_path / "data")
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "home"))
    code = main(["report", "--data", str(data), "--asset", "BTC", "--at", "2024-01-31T12:00Z",
                 "--out", str(tmp_path / "r"), "--json", "--model", "gbm"])  # fmt: skip
    assert code == 0, capsys.readouterr().err


def test_markdown_is_reproducible_whatever_the_home_holds(tmp_path, monkeypatch, capsys):
    """Same command, same data: the same Markdown from a cold home and from one holding a saved
    backtest run (which the calibration used to show whatever its period) and caches."""
    data = _make_dataset(tmp_path / "data")
    texts = []
    for name in ("cold", "warm"):
        home = tmp_path / name
        if name == "warm":
            run = home / "runs" / "20260101T000000Z-backtest"
            run.mkdir(parents=True)
            (run / "run.json").write_text(
                json.dumps({"experiment": "levercast-backtest", "metrics": {"brier": 0.1}})
            )
        monkeypatch.setenv("LEVERCAST_HOME", str(home))
        code = main(["report", "--data", str(data), "--asset", "BTC", "--at",
                     "2024-01-25T12:00Z", "--out", str(tmp_path / f"out-{name}"), "--json",
                     "--model", "gbm"])  # fmt: skip
        assert code == 0
        texts.append(Path(json.loads(capsys.readouterr().out)["markdown"]).read_text())
    assert texts[0] == texts[1]
    assert str(tmp_path) not in texts[0]  # no absolute paths
    assert "backtest run" not in texts[0]


@pytest.mark.parametrize(
    ("cell", "numeric"),
    [
        ("63.6%", True),
        ("63.6% (gbm)", True),  # the model that answered, named beside its probability
        ("+12.9 pts", True),
        ("$107M", True),
        ("stale quote", False),
        ("63.6% (gbm) x", False),
        ("(gbm)", False),
    ],
)
def test_numbers_are_right_aligned_with_or_without_the_model_named(cell, numeric):
    from levercast.experiments.reporting.report import _environment

    assert _environment("html").tests["numeric_text"](cell) is numeric
