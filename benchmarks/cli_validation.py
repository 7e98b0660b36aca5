"""Argument validation before any data is loaded (issue 21): wall time of commands that must be
refused while parsing (target: well under 1 s each, the cost of starting Python).

Each case runs ``levercast ...`` in a fresh process against the shared dataset and must exit 2
with one line on stderr; before, a wrong ``--model`` was refused only after ~19 s of loading.

Run: ``.venv/bin/python benchmarks/cli_validation.py``; prints one JSON object.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = os.environ.get("LEVERCAST_DATA") or str(REPO.parent / "shared" / "data")
CASES = {
    "price_wrong_model": ["price", "Will Bitcoin dip to $60,000 in February?", "--at",
                          "2026-02-10T00:00Z", "--model", "nope"],
    "backtest_wrong_models": ["backtest", "--asset", "BTC", "--start", "2025-01-01T00:00Z",
                              "--end", "2026-02-01T00:00Z", "--models", "gbm,nope"],
    "scan_unknown_asset": ["scan", "--asset", "FOO", "--at", "2025-11-10T12:00Z"],
    "report_lookback_out_of_range": ["report", "--at", "2025-11-10T12:00Z", "--lookback", "500"],
    "heatmap_reversed_window": ["heatmap", "--asset", "BTC", "--start", "2026-02-02T00:00Z",
                                "--end", "2026-02-01T00:00Z", "--out", "/tmp/x.png"],
}  # fmt: skip
TARGET_S = 1.0


def _time(argv: list[str], runs: int = 5) -> dict[str, object]:
    walls, codes, lines = [], set(), set()
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "levercast.experiments", *argv, "--data", DATA],
            capture_output=True,
            text=True,
            check=False,
        )
        walls.append(time.perf_counter() - t0)
        codes.add(done.returncode)
        lines.add(len(done.stderr.strip().splitlines()))
    return {
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_max": round(max(walls), 3),
        "exit_codes": sorted(codes),
        "stderr_lines": sorted(lines),
    }


def main() -> None:
    """Print the benchmark JSON."""
    cases = {name: _time(argv) for name, argv in CASES.items()}
    worst = max(float(c["wall_s_max"]) for c in cases.values())  # type: ignore[arg-type]
    ok = worst < TARGET_S and all(c["exit_codes"] == [2] for c in cases.values())
    print(json.dumps({"cases": cases, "worst_wall_s": worst, "target_s": TARGET_S, "ok": ok}))


if __name__ == "__main__":
    main()
