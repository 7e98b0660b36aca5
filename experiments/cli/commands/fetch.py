"""``levercast fetch WHAT`` and ``levercast record WHAT --every P`` (INTERFACE.md §4).

Both print ``{"written": {table: rows}, "failed": [{"what", "error"}]}`` and exit 2 when nothing
was written and something failed, with one summary line on stderr.
"""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_fetch", "run_record"]


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _render(result: dict[str, Any]) -> str:
    lines = [f"wrote {rows:,} row(s) to {table}" for table, rows in result["written"].items()]
    if result["failed"]:
        lines.append(f"{len(result['failed'])} source(s) failed (details: --json or --debug)")
    return "\n".join(lines) or "nothing to do"


def _finish(args: argparse.Namespace, what: str, result: dict[str, Any]) -> int:
    """Print the result; exit 2 with one summary line on stderr when nothing was written and
    something failed (each failure in --json, and on stderr with --debug)."""
    written = sum(int(v) for v in result["written"].values())
    nothing = bool(result["failed"]) and written == 0
    if getattr(args, "json", False) or not nothing:
        emit(args, result, _render)
    if getattr(args, "debug", False):
        for item in result["failed"]:
            print(f"levercast: {what}: {item['what']}: {item['error']}", file=sys.stderr)
    if nothing:
        first = result["failed"][0]
        print(
            f"levercast: {what}: nothing written; {len(result['failed'])} failure(s), first: "
            f"{first['what']}: {first['error']}",
            file=sys.stderr,
        )
        return 2
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch one kind of data (or ``all``) into ``--data``."""
    from levercast.experiments.cli.progress import progress_bar
    from levercast.experiments.ingest.fetch import fetch
    from levercast.features.dataset.store import Store
    from levercast.features.timeutil import parse_utc

    assets = [a.upper() for a in _split(args.asset) or ["BTC", "ETH"]]
    since = parse_utc(args.since, name="--since") if args.since else None
    until = parse_utc(args.until, name="--until") if args.until else None
    store = Store(resolve_data_dir(args.data))
    with progress_bar(args, f"fetch {args.what}"):  # a spinner until fetch takes a callback
        result = fetch(
            store,
            args.what,
            assets=assets,
            venues=_split(args.venue),
            since=since,
            until=until,
            progress=io.StringIO() if getattr(args, "quiet", False) else None,
        )
    return _finish(args, f"fetch {args.what}", result)


def run_record(args: argparse.Namespace) -> int:
    """Record a live feed into ``--data`` until SIGINT/SIGTERM (or ``--max-runs``)."""
    from levercast.experiments.ingest.record import record
    from levercast.features.dataset.store import Store

    assets = [a.upper() for a in _split(args.asset) or ["BTC", "ETH"]]
    store = Store(resolve_data_dir(args.data))
    result = record(
        store,
        args.what,
        every=args.every,
        assets=assets,
        venues=_split(args.venue),
        max_runs=args.max_runs,
    )
    return _finish(args, f"record {args.what}", result)
