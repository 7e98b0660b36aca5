"""``levercast heatmap --asset A --start S --end E --out PATH [--bin-bps B] [--lookback H]``
(INTERFACE §4, §4a: ``--lookback`` is the map's window in hours, 24 to 168).

``--out`` is a ``.png`` file, or a directory (an existing one, a path ending in ``/`` or a path
without a suffix), then the file is ``DIR/heatmap-<ASSET>-<start>-<end>.png``; the JSON ``out``
is always the file written. More than ``MAX_BINS`` (2000) price bins are refused (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_heatmap"]


def run_heatmap(args: argparse.Namespace) -> int:
    """Render the heatmap (``experiments.reporting.heatmap``) and print ``{"out", "bins",
    "snapshots"}``."""
    from levercast.experiments.cli.progress import progress_bar
    from levercast.experiments.reporting.heatmap import build_heatmap
    from levercast.features.dataset.store import Store
    from levercast.features.timeutil import parse_utc

    with progress_bar(args, f"heatmap {args.asset}"):
        payload = build_heatmap(
            Store(resolve_data_dir(args.data)),
            str(args.asset).upper(),
            start=parse_utc(args.start, name="--start"),
            end=parse_utc(args.end, name="--end"),
            out=Path(args.out),
            bin_bps=args.bin_bps,
            lookback_hours=getattr(args, "lookback", None),
        )
    emit(
        args,
        payload,
        lambda p: (
            f"wrote {p['out']} ({p['snapshots']:,} hourly snapshots x {p['bins']:,} price bins)"
        ),
    )
    return 0
