"""``levercast report [--asset A] [--at T] [--out DIR] [--every P] [--keep N]`` (INTERFACE.md §4).

Writes ``report-<UTC stamp>.html`` (self-contained) and ``.md`` into ``--out`` (default
``$LEVERCAST_HOME/reports/``) and prints ``{"html", "markdown", "plots", "notes"}``. Without
``--at`` the report is live (T = now) and its scan rows go to the forward log. ``--every``
renders a live report every period in the foreground until SIGINT/SIGTERM (the report in
progress finishes; then the command exits 0), keeping the newest ``--keep`` reports. Each report
is logged to MLflow when ``MLFLOW_TRACKING_URI`` is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import levercast_home, resolve_data_dir
from levercast.experiments.shutdown import stop_on_signals

__all__ = ["prune_reports", "run_report", "run_schedule"]


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
    from levercast.features.errors import ConfigError

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
            print(f"report: wrote {payload['html']}", file=sys.stderr)
            if max_runs is not None and len(payloads) >= max_runs:
                break
            stop.wait(every.total_seconds())
    return payloads


def _log_mlflow(report: Any, payload: dict[str, Any], fingerprint: str) -> None:
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return
    from levercast.experiments.tracking import RunRecord, log_run

    record = RunRecord(
        experiment="levercast-report",
        run_name=f"report-{report.at:%Y%m%dT%H%MZ}",
        params={"assets": ",".join(report.assets), "at": report.at, "model": report.model},
        tags={"data_fingerprint": fingerprint, "seed": "0"},
        metrics={
            "plots": payload["plots"],
            "notes": len(payload["notes"]),
            "markets_priced": len(report.scan.rows) if report.scan else 0,
        },
        artifacts={"report.html": Path(payload["html"]), "report.md": Path(payload["markdown"])},
    )
    log_run(record)


def _render(args: argparse.Namespace, out_dir: Path, at: datetime | None) -> dict[str, Any]:
    from levercast.experiments.reporting.report import build_report, write_report
    from levercast.features.dataset.store import Store

    store = Store(resolve_data_dir(args.data))
    live = at is None
    when = at or datetime.now(UTC)
    assets = [a.strip().upper() for a in (args.asset or "BTC,ETH").split(",") if a.strip()]
    report = build_report(store, at=when, assets=assets, model=getattr(args, "model", None))
    payload = write_report(report, out_dir, stamp=when if not live else None)
    fingerprint = store.fingerprint() if not store.is_empty() else ""
    if live and report.scan is not None and report.scan.rows:
        from levercast.experiments.evaluation.forward_log import append_forecasts
        from levercast.features.errors import DataError

        try:
            append_forecasts(
                list(report.scan.rows), at=when, source="report", data_fingerprint=fingerprint
            )
        except DataError as e:
            payload["notes"].append(f"forward log not written ({e})")
    _log_mlflow(report, payload, fingerprint)
    return payload


def run_report(args: argparse.Namespace) -> int:
    """Render one report (or one every ``--every``) and print its JSON."""
    from levercast.features.errors import ConfigError
    from levercast.features.timeutil import parse_duration, parse_utc

    at = None if args.at is None else parse_utc(args.at, name="--at")
    out_dir = Path(args.out) if args.out else levercast_home() / "reports"
    if args.every is None:
        payload = _render(args, out_dir, at)
    else:
        if at is not None:
            raise ConfigError(f"--every renders live reports; drop --at (found {args.at!r})")
        every = parse_duration(args.every, name="--every")
        payloads = run_schedule(
            lambda: _render(args, out_dir, None), every=every, keep=args.keep, out_dir=out_dir
        )
        empty = {"html": None, "markdown": None, "plots": 0, "notes": ["stopped before a report"]}
        payload = payloads[-1] if payloads else empty
    emit(
        args,
        payload,
        lambda p: (
            f"wrote {p['html']} and {p['markdown']} ({p['plots']} plots)"
            + "".join(f"\nnote: {n}" for n in p["notes"])
        ),
    )
    return 0
