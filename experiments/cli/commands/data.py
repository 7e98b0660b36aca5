"""``levercast data check``."""

from __future__ import annotations

import argparse
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_data"]


def _render(report: dict[str, Any]) -> str:
    lines = [f"dataset ok: {report['ok']}"]
    for name, info in report["tables"].items():
        lines.append(f"{name}: {info['rows']} rows")
        for g in info["groups"]:
            label = " ".join(
                str(v) for k, v in g.items() if k not in {"rows", "first_ts", "last_ts", "gaps"}
            )
            lines.append(
                f"  {label:<40} {g['rows']:>7} rows  {g['first_ts']} .. {g['last_ts']}"
                f"  gaps={g['gaps']}"
            )
    lines += [f"problem: {p}" for p in report["problems"]]
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


def run_data(args: argparse.Namespace) -> int:
    """Validate and summarise the dataset; exit 2 when a validation rule is broken."""
    from levercast.features.dataset.quality import check_dataset
    from levercast.features.dataset.store import Store

    report = check_dataset(Store(resolve_data_dir(args.data)))
    emit(args, report, _render)
    return 0 if report["ok"] else 2
