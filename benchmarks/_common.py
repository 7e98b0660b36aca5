"""Shared helpers of the benchmark scripts (each script prints one JSON object)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """``$LEVERCAST_DATA``, else ``../shared/data``; exits 2 with one line when absent."""
    env = os.environ.get("LEVERCAST_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    if not (path / "candles.parquet").exists():
        print(
            f"benchmark needs the dataset: set LEVERCAST_DATA (looked in {path})", file=sys.stderr
        )
        sys.exit(2)
    return path
