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

A live report first checks its required inputs (candles, open interest, funding of each asset;
``experiments.reporting.report.stale_inputs``): when any is stale beyond its limit it exits 2 with
one line ``stale inputs: <names>`` and renders nothing, unless ``--allow-stale``; with ``--every``
a stale round is reported on stderr and the loop goes on. Replays (``--at``) never refuse. A bar
on a terminal's stderr counts the report's steps (``-q`` silences it).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import levercast_home, resolve_data_dir

__all__ = ["run_report"]


def _render(
    args: argparse.Namespace, out_dir: Path, at: datetime | None, lookback: float | None
) -> dict[str, Any]:
    from levercast.experiments.cli.progress import progress_bar
    from levercast.experiments.reporting.report import build_report, stale_inputs, write_report
    from levercast.features.dataset.store import Store
    from levercast.features.errors import DataError

    store = Store(resolve_data_dir(args.data))
    live = at is None
    when = at or datetime.now(UTC)
    assets = [a.strip().upper() for a in (args.asset or "BTC,ETH").split(",") if a.strip()]
    if live and not getattr(args, "allow_stale", False):
        stale = stale_inputs(store, at=when, assets=assets)
        if stale:
            raise DataError("stale inputs: " + "; ".join(stale))
    with progress_bar(args, f"report {','.join(assets)}") as advance:
        report = build_report(
            store,
            at=when,
            assets=assets,
            model=getattr(args, "model", None),
            lookback_hours=lookback,
            progress=advance,
        )
    payload = write_report(report, out_dir, stamp=when if not live else None)
    fingerprint = store.fingerprint() if not store.is_empty() else ""
    if live and report.scan is not None and report.scan.rows:
        from levercast.experiments.evaluation.forward_log import append_forecasts

        try:
            # as scan: rows already decided or closed at T are not forecasts
            rows = [
                r for r in report.scan.rows if r.decided is None and r.prob_model == r.prob_model
            ]
            append_forecasts(rows, at=when, source="report", data_fingerprint=fingerprint)
        except DataError as e:
            payload["notes"].append(f"forward log not written ({e})")
    if os.environ.get("MLFLOW_TRACKING_URI"):
        from levercast.experiments.tracking import log_report

        log_report(report, payload, fingerprint=fingerprint)
    return payload


def _render_scheduled(
    args: argparse.Namespace, out_dir: Path, lookback: float | None
) -> dict[str, Any]:
    """One round of ``--every``: a stale round is a line on stderr, not the end of the loop."""
    from levercast.features.errors import DataError

    try:
        return _render(args, out_dir, None, lookback)
    except DataError as e:
        if not str(e).startswith("stale inputs"):
            raise
        print(str(e), file=sys.stderr, flush=True)
        return {"html": None, "markdown": None, "plots": 0, "notes": [str(e)]}


def _text(payload: dict[str, Any]) -> str:
    lines = [f"wrote {payload['html']}", f"  and {payload['markdown']} ({payload['plots']} plots)"]
    lines += [f"note: {n}" for n in payload["notes"]]
    return "\n".join(lines)


def run_report(args: argparse.Namespace) -> int:
    """Render one report (or one every ``--every``) and print its JSON."""
    from levercast.experiments.cli.validate import output_dir
    from levercast.experiments.reporting.schedule import run_schedule
    from levercast.features.errors import ConfigError
    from levercast.features.liqmap.params import check_lookback
    from levercast.features.timeutil import parse_duration, parse_utc

    at = None if args.at is None else parse_utc(args.at, name="--at")
    out_dir = output_dir(args.out) if args.out else levercast_home() / "reports"
    lookback = getattr(args, "lookback", None)
    hours = None if lookback is None else check_lookback(lookback, name="--lookback")
    if args.every is None:
        payload = _render(args, out_dir, at, hours)
    else:
        if at is not None:
            raise ConfigError(f"--every renders live reports; drop --at (found {args.at!r})")
        every = parse_duration(args.every, name="--every")
        payloads = run_schedule(
            lambda: _render_scheduled(args, out_dir, hours),
            every=every,
            keep=args.keep,
            out_dir=out_dir,
        )
        empty = {"html": None, "markdown": None, "plots": 0, "notes": ["stopped before a report"]}
        payload = payloads[-1] if payloads else empty
    emit(args, payload, _text)
    return 0
