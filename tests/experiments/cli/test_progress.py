"""Progress bars (experiments/cli/progress.py): on a terminal's stderr only, never on stdout, so
``--json`` stays one document; ``-q`` and pipes get none."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from levercast.experiments.cli.progress import no_progress, progress_bar
from tests.conftest import make_dataset


class _Args:
    quiet = False


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_after_the_delay():
    stream = _Tty()
    with progress_bar(_Args(), "segments", total=4, delay=0.0, stream=stream) as advance:
        for i in range(1, 5):
            advance(i, 4, f"step {i}")
            time.sleep(0.15)
    assert "segments" in stream.getvalue()


def test_no_bar_when_quiet_or_not_a_terminal():
    quiet = _Args()
    quiet.quiet = True
    with progress_bar(quiet, "x", stream=_Tty(), delay=0.0) as advance:
        assert advance is no_progress
    with progress_bar(_Args(), "x", stream=io.StringIO(), delay=0.0) as advance:
        assert advance is no_progress


def test_a_short_job_draws_nothing():
    stream = _Tty()
    with progress_bar(_Args(), "fast", total=1, delay=5.0, stream=stream) as advance:
        advance(1, 1)
    assert stream.getvalue() == ""


def _run_on_a_terminal(argv, env) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "levercast.experiments", *argv],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read().decode()
    code = proc.wait(timeout=300)
    os.close(master)
    return code, out, b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_report_progress_goes_to_the_terminal_not_to_json_stdout(tmp_path):
    data = make_dataset(tmp_path / "data")
    env = {**os.environ, "LEVERCAST_HOME": str(tmp_path / "home"), "COLUMNS": "120"}
    env.pop("NO_PROGRESS", None)
    argv = ["report", "--data", str(data), "--asset", "BTC", "--at", "2024-01-25T12:00Z",
            "--out", str(tmp_path / "r"), "--json", "--model", "gbm"]  # fmt: skip
    code, out, terminal = _run_on_a_terminal(argv, env)
    assert code == 0, terminal[-2000:]
    doc = json.loads(out)  # exactly one JSON document
    assert set(doc) == {"html", "markdown", "plots", "notes"}
    assert "report BTC" in terminal and "/" in terminal  # the bar, with counts
    code, out, terminal = _run_on_a_terminal([*argv, "-q"], env)
    assert code == 0 and json.loads(out)["plots"] >= 5
    assert "report BTC" not in terminal  # -q: no bar


@pytest.mark.slow
def test_backtest_progress_names_the_refits_on_the_terminal(tmp_path):
    data = make_dataset(tmp_path / "data", hours=24 * 120)
    env = {**os.environ, "LEVERCAST_HOME": str(tmp_path / "home"), "COLUMNS": "120"}
    env.pop("NO_PROGRESS", None)
    argv = ["backtest", "--data", str(data), "--asset", "BTC", "--start", "2024-02-01T00:00Z",
            "--end", "2024-04-20T00:00Z", "--horizons", "1h,24h", "--retrain-every", "10d",
            "--json"]  # fmt: skip
    code, out, terminal = _run_on_a_terminal(argv, env)
    assert code == 0, terminal[-2000:]
    assert json.loads(out)["n_forecasts"] > 0  # exactly one JSON document on stdout
    assert "backtest BTC: refits" in terminal and "/8" in terminal, terminal[-2000:]
    assert "INFO" not in terminal  # no MLflow log lines through the bar
