"""CLI start-up benchmark: wall time of ``levercast --help`` (target < 0.3 s).

Run: ``.venv/bin/python benchmarks/cli.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time


def main() -> None:
    """Print the benchmark JSON."""
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "levercast.experiments", "--help"],
            check=True,
            capture_output=True,
        )
        runs.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "help_wall_s_median": round(statistics.median(runs), 4),
                "help_wall_s_min": round(min(runs), 4),
                "target_s": 0.3,
                "runs": len(runs),
            }
        )
    )


if __name__ == "__main__":
    main()
