"""CLI benchmark: start-up, and answers while you wait (issue 18 item 5).

Prints one JSON object of wall and CPU seconds (each a fresh ``levercast`` process):

- ``help``: ``levercast --help`` (target < 0.3 s);
- ``price_gbm``: ``price --model gbm`` of a typed question (the floor: no fit);
- ``price_default_cold`` / ``_warm``: ``price --model default`` of an undecided typed question
  at T, first in an empty ``$LEVERCAST_HOME`` (the fit of the asset and kinds asked is made and
  cached), then again (the cached fit is reused);
- ``ask_cold`` / ``ask_warm``: ``ask`` of a market of the dataset at another T (its own fit),
  then again.

Targets (issue 18): cold < 10 s, warm < 2 s on 2 cores. A benchmark, not a test: the machine's
load average is printed beside the numbers (a shared machine slows every process; CPU seconds,
user + system, are less sensitive to it than wall seconds).

Run: ``.venv/bin/python benchmarks/cli.py [DATA_DIR]`` (default ``../shared/data``).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PRICE_QUESTION = "Will Bitcoin reach $80,000 in February?"
PRICE_AT = "2026-02-10T00:00Z"
ASK_QUESTION = "Will Bitcoin reach $100,000 in January?"  # a market of the shared dataset
ASK_AT = "2026-01-15T00:00Z"


def _run(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall and CPU seconds of one ``levercast`` process, and its answer's model."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "levercast.experiments", *argv],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row: dict[str, Any] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    if out.returncode != 0:
        row["error"] = out.stderr.strip().splitlines()[-1:] or [f"exit {out.returncode}"]
    elif "--json" in argv:
        doc = json.loads(out.stdout)
        row["model"] = doc.get("model")
        row["prob"] = round(float(doc["prob"]), 4) if "prob" in doc else None
        row["fit"] = next((w for w in doc.get("warnings", []) if w.startswith("default")), None)
    return row


def _median(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s_median": round(statistics.median(r["wall_s"] for r in rows), 2),
        "cpu_s_median": round(statistics.median(r["cpu_s"] for r in rows), 2),
        "runs": len(rows),
    }


def main() -> None:
    """Print the benchmark JSON."""
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data")
    out: dict[str, Any] = {"cores": os.cpu_count(), "load_average_start": os.getloadavg()}
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    out["help"] = _median([_run(["--help"], env) for _ in range(5)])
    out["help"]["target_s"] = 0.3
    if not (data / "candles.parquet").exists():
        out["skipped"] = f"no dataset at {data}: only --help measured"
        print(json.dumps(out))
        return
    common = ["--data", str(data), "--json"]
    price = ["price", PRICE_QUESTION, "--at", PRICE_AT, *common]
    ask = ["ask", ASK_QUESTION, "--at", ASK_AT, *common]
    with tempfile.TemporaryDirectory() as home:
        env = {**env, "LEVERCAST_HOME": home}
        out["price_gbm"] = _median([_run([*price, "--model", "gbm"], env) for _ in range(3)])
        out["price_default_cold"] = _run([*price, "--model", "default"], env)
        warm = [_run([*price, "--model", "default"], env) for _ in range(3)]
        out["price_default_warm"] = {**_median(warm), "model": warm[-1].get("model")}
        out["ask_cold"] = _run(ask, env)
        warm = [_run(ask, env) for _ in range(3)]
        out["ask_warm"] = {**_median(warm), "model": warm[-1].get("model")}
    out["targets_s"] = {"cold": 10.0, "warm": 2.0}
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
