"""Reports on a schedule: render one every period until stopped, keeping the newest few.

``run_schedule`` calls a render function every ``every`` in the foreground until SIGINT/SIGTERM
(the render in progress finishes), a ``stop`` event or ``max_runs``; after each render
``prune_reports`` deletes all but the newest ``keep`` reports (``report-*.html`` + ``.md`` pairs,
named by UTC stamp so that name order is time order).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from levercast.experiments.shutdown import stop_on_signals
from levercast.features.errors import ConfigError

__all__ = ["prune_reports", "run_schedule"]


def prune_reports(out_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` reports (html + md pairs); return what was deleted."""
    pages = sorted(out_dir.glob("report-*.html"))
    doomed = pages[: max(len(pages) - keep, 0)]
    removed = []
    for page in doomed:
        for path in (page, page.with_suffix(".md")):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def run_schedule(
    render_once: Callable[[], dict[str, Any]],
    *,
    every: timedelta,
    keep: int,
    out_dir: Path,
    stop: threading.Event | None = None,
    max_runs: int | None = None,
) -> list[dict[str, Any]]:
    """Call ``render_once`` every ``every`` until SIGINT/SIGTERM (or ``stop``, or ``max_runs``),
    pruning ``out_dir`` to ``keep`` reports after each; return the payloads."""
    if every <= timedelta(0):
        raise ConfigError(f"--every must be a positive period; found {every}")
    if keep < 1:
        raise ConfigError(f"--keep must be >= 1; found {keep}")
    stop = stop or threading.Event()
    payloads: list[dict[str, Any]] = []
    with stop_on_signals(stop):
        while not stop.is_set():
            payload = render_once()
            payloads.append(payload)
            prune_reports(out_dir, keep)
            if payload.get("html"):
                print(f"report: wrote {payload['html']}", file=sys.stderr)
            if max_runs is not None and len(payloads) >= max_runs:
                break
            stop.wait(every.total_seconds())
    return payloads
