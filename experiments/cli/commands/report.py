"""``levercast report [--asset A] [--at T] [--out DIR] [--every P] [--keep N] [--lookback H]``
(INTERFACE.md §4, §4a).

Writes ``report-<UTC stamp>.html`` (self-contained) and ``.md`` into ``--out`` (default
``$LEVERCAST_HOME/reports/``) and prints ``{"html", "markdown", "plots", "notes"}``. Without
``--at`` the report is live (T = now) and its scan rows go to the forward log. ``--every``
renders a live report every period in the foreground until SIGINT/SIGTERM (the report in
progress finishes; then the command exits 0), keeping the newest ``--keep`` reports. Each report
is logged to MLflow when ``MLFLOW_TRACKING_URI`` is set. ``--lookback`` (hours, 24 to 168) is the
liquidation map's window of the report's map sections and feature history
(passed to ``build_report``); the models priced keep their fitted maps.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import levercast_home, resolve_data_dir

__all__ = ["run_report"]


def _render(
    args: argparse.Namespace, out_dir: Path, at: datetime | None, lookback: float | None
) -> dict[str, Any]:
    from levercast.experiments.reporting.report import build_report, write_report
    from levercast.features.dataset.store import Store

    store = Store(resolve_data_dir(args.data))
    live = at is None
    when = at or datetime.now(UTC)
    assets = [a.strip().upper() for a in (args.asset or "BTC,ETH").split(",") if a.strip()]
    report = build_report(
        store, at=when, assets=assets, model=getattr(args, "model", None), lookback_hours=lookback
    )
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
    if os.environ.get("MLFLOW_TRACKING_URI"):
        from levercast.experiments.tracking import log_report

        log_report(report, payload, fingerprint=fingerprint)
    return payload


def run_report(args: argparse.Namespace) -> int:
    """Render one report (or one every ``--every``) and print its JSON."""
    from levercast.experiments.reporting.schedule import run_schedule
    from levercast.features.errors import ConfigError
    from levercast.features.liqmap.params import check_lookback
    from levercast.features.timeutil import parse_duration, parse_utc

    at = None if args.at is None else parse_utc(args.at, name="--at")
    out_dir = Path(args.out) if args.out else levercast_home() / "reports"
    lookback = getattr(args, "lookback", None)
    hours = None if lookback is None else check_lookback(lookback, name="--lookback")
    if args.every is None:
        payload = _render(args, out_dir, at, hours)
    else:
        if at is not None:
            raise ConfigError(f"--every renders live reports; drop --at (found {args.at!r})")
        every = parse_duration(args.every, name="--every")
        payloads = run_schedule(
            lambda: _render(args, out_dir, None, hours),
            every=every,
            keep=args.keep,
            out_dir=out_dir,
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
