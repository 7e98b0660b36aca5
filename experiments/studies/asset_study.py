"""The command line of a registered study run per asset over one period (``fit_budget``,
``month_domain``): ``[--data DIR] [--assets BTC,ETH] [--start T] [--end T] [--json]``, the rows
and the verdict of the registered rule as a Markdown table on stdout (``--json`` for machines)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from levercast.experiments.paths import resolve_data_dir
from levercast.features.dataset.store import Store

__all__ = ["study_main"]

Rows = list[dict[str, Any]]


def study_main(
    description: str,
    run: Callable[[Store, list[str], str, str], Rows],
    decide: Callable[[Rows], dict[str, Any]],
    markdown: Callable[[Rows, dict[str, Any]], str],
    argv: list[str] | None = None,
) -> None:
    """Parse ``argv``, ``run`` the study on every asset (registered period: 2024), apply the
    registered rule (``decide``) and print the table (``markdown``) or the JSON."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=None, help="dataset directory (default: $LEVERCAST_DATA)")
    parser.add_argument("--assets", default="BTC,ETH")
    parser.add_argument("--start", default="2024-01-01T00:00Z")
    parser.add_argument("--end", default="2024-12-31T23:00Z")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    store = Store(resolve_data_dir(args.data))
    rows = run(store, args.assets.split(","), args.start, args.end)
    verdict = decide(rows)
    if args.json:
        print(json.dumps({"rows": rows, "verdict": verdict}, indent=1))
    else:
        print(markdown(rows, verdict))
