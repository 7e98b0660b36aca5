"""``levercast data check``."""

from __future__ import annotations

import argparse
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_data"]


def _render(report: dict[str, Any]) -> list[Any]:
    """One table of every table's series (rows, first and last time, gaps), then problems and
    warnings."""
    from levercast.experiments.cli.format import fmt_time, table

    rows = []
    for name, info in report["tables"].items():
        for g in info["groups"] or [{"rows": info["rows"]}]:
            label = " ".join(
                str(v) for k, v in g.items() if k not in {"rows", "first_ts", "last_ts", "gaps"}
            )
            rows.append([name, label, f"{g['rows']:,}", fmt_time(g.get("first_ts")),
                         fmt_time(g.get("last_ts")), f"{g.get('gaps', 0) or 0:,}"])  # fmt: skip
    parts: list[Any] = [
        "dataset ok" if report["ok"] else "dataset NOT ok: a validation rule is broken",
        table(["table", "series", "rows", "first", "last", "gaps"], rows, right=[2, 5]),
    ]
    parts += [f"problem: {p}" for p in report["problems"]]
    parts += [f"warning: {w}" for w in report["warnings"]]
    return parts


def run_data(args: argparse.Namespace) -> int:
    """Validate and summarise the dataset; exit 2 when a validation rule is broken."""
    from levercast.features.dataset.quality import check_dataset
    from levercast.features.dataset.store import Store

    report = check_dataset(Store(resolve_data_dir(args.data)))
    emit(args, report, _render)
    return 0 if report["ok"] else 2
