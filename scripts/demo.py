"""The main job (``make demo``): check the dataset, then run what levercast does on it.

Data: ``$LEVERCAST_DATA``, else ``../shared/data`` when it exists, else ``./data`` (filled first
with ``levercast fetch all`` when empty and the feeds are reachable). With no data and no
network it exits 2 with one line saying how to get data. Each step is a real CLI call whose
output for people (tables) is shown as it comes, with its progress bars when the terminal
shows them; the demo exits 1 if any step fails (after running the others). State goes to
``$LEVERCAST_HOME``, set to ``./.levercast`` here unless already set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    env = os.environ.get("LEVERCAST_DATA")
    if env:
        return Path(env)
    shared = REPO.parent / "shared" / "data"
    return shared if shared.is_dir() else REPO / "data"


def _has_tables(path: Path) -> bool:
    return path.is_dir() and (any(path.glob("*.parquet")) or any(path.glob("*/*.parquet")))


def _run(title: str, args: list[str]) -> bool:
    """Run one CLI step with its output shown as it comes; return whether it exited 0."""
    print(f"\n== {title}\n$ levercast {' '.join(_quoted(a) for a in args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "levercast.experiments", *args], cwd=REPO)
    elapsed = time.perf_counter() - started
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    print(f"-- {status} ({elapsed:.1f} s)", flush=True)
    return proc.returncode == 0


def _quoted(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in ' {}"$?') else arg


def _last_time(data: Path) -> str:
    import pandas as pd

    from levercast.features.dataset.store import Store

    candles = Store(data).read("candles")
    last = candles["available_at"].max().floor("h") - pd.Timedelta("7D")
    return last.strftime("%Y-%m-%dT%H:%MZ")


def main() -> int:
    """Run the demo; return the exit code."""
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("LEVERCAST_HOME", str(REPO / ".levercast"))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    data = _data_dir()
    if not _has_tables(data):
        print(f"levercast: no dataset in {data}; fetching a recent window first", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "levercast.experiments",
                "fetch",
                "all",
                "--data",
                str(data),
                "--json",
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if not _has_tables(data):
            print(
                f"levercast: no data in {data} and the feeds are unreachable: set "
                "LEVERCAST_DATA to a dataset directory (see ../shared/data/README.md) or run "
                "'levercast fetch all --data DIR' with network access",
                file=sys.stderr,
            )
            return 2
    d = ["--data", str(data)]
    results = [_run("data check", ["data", "check", *d])]
    at = _last_time(data)
    steps = [
        ("pricing models", ["models"]),
        (
            "features (ELR, dominance, signals, liquidation clusters)",
            ["features", "--asset", "BTC", "--at", at, *d],
        ),
        ("price: BTC touches spot -5% within 7 days (gbm)", _price_args(data, at, d)),
        (
            "parse a market title",
            ["parse", "Will Bitcoin dip to $60,000 in February?", "--at", at],
        ),
        (
            "backtest BTC, last 120 days",
            ["backtest", "--asset", "BTC", "--start", "2025-10-01T00:00Z", "--end", at, *d],
        ),
        # gbm here: the walk-forward default over every market takes ~13 min on 2 cores
        # (experiments/studies/polymarket_eval/README.md has both).
        ("evaluate against Polymarket odds (gbm)", ["evaluate", "--model", "gbm", *d]),
        ("scan: replay at T", ["scan", "--at", at, "--model", "gbm", *d]),
        (
            "report (HTML + Markdown)",
            ["report", "--asset", "BTC", "--at", at, *d],  # into $LEVERCAST_HOME/reports
        ),
    ]
    for title, args in steps:
        results.append(_run(title, args))
    failed = results.count(False)
    print(f"\ndemo: {len(results) - failed} step(s) ok, {failed} failed")
    print("run levercast yourself: .venv/bin/levercast --help (or: source .venv/bin/activate)")
    return 0 if failed == 0 else 1


def _price_args(data: Path, at: str, d: list[str]) -> list[str]:
    import pandas as pd

    from levercast.features.dataset.store import Store

    t = pd.Timestamp(at)
    known = Store(data).as_of("candles", t, venue="binance-usdm", asset="BTC", interval="1h")
    spot = float(known["close"].iloc[-1]) if len(known) else 100_000.0
    end = (t + pd.Timedelta("7D")).strftime("%Y-%m-%dT%H:%MZ")
    spec = {
        "kind": "touch",
        "asset": "BTC",
        "direction": "down",
        "strike_usd": round(spot * 0.95, -2),
        "end": end,
    }
    return ["price", json.dumps(spec), "--at", at, "--model", "gbm", *d]


if __name__ == "__main__":
    sys.exit(main())
