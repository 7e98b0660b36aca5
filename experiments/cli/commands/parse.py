"""``levercast parse``: a question or market title, or every market of ``--data``, into contracts.

``parse "QUESTION" [--at T] [--subtitle TEXT] [--rules T] [--created-at T] [--end-date T]``
prints ``{"contract", "yes_outcome", "assumptions"}`` or ``{"unsupported": reason}``
(``experiments.api.parse``). It needs no dataset: relative dates are read against ``--at``
(default now), and an explicit ``--data`` only adds the all-time-high lookup and the dataset's
assets. ``parse --data DIR`` without a question prints one such object per market of the
``markets`` table, with ``market_id`` (INTERFACE.md §4; ``experiments.api.parse_markets``).
Exit 0, unsupported questions included.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.features.timeutil import parse_utc

__all__ = ["run_parse"]


def _render_one(item: Mapping[str, Any]) -> str:
    prefix = f"{item['market_id']}: " if "market_id" in item else ""
    if "unsupported" in item:
        return f"{prefix}unsupported: {item['unsupported']}"
    from levercast.experiments.cli.format import fmt_time
    from levercast.models.contracts import Contract

    c = item["contract"]
    contract = Contract.from_json(c)
    res = c["resolution"]
    rule = " ".join(str(res[k]) for k in ("source", "symbol", "interval", "price") if res.get(k))
    lines = [
        f"{prefix}{contract.describe()}",
        f"  {c['kind']}, window from {fmt_time(c['start'])}; resolves on {rule}; YES is "
        f"{item['yes_outcome']!r}",
    ]
    lines += [f"  assumed: {a}" for a in item.get("assumptions", [])]
    return "\n".join(lines)


def _render(payload: Any) -> str:
    items = payload if isinstance(payload, list) else [payload]
    return "\n".join(_render_one(item) for item in items)


def run_parse(args: argparse.Namespace) -> int:
    """Parse one question, or every market of ``--data`` without one; exit 0."""
    from levercast.experiments.api import parse, parse_markets

    title = getattr(args, "title", None)
    if title is None:
        emit(args, parse_markets(args.data), _render)
        return 0
    at = None if args.at is None else parse_utc(args.at, name="--at")
    parsed = parse(
        title,
        at=at,
        data=getattr(args, "data", None) or None,
        subtitle=getattr(args, "subtitle", None),
        rules=getattr(args, "rules", None),
        created_at=getattr(args, "created_at", None),
        end_date=getattr(args, "end_date", None),
    )
    emit(args, parsed.to_json_dict(include_assumptions=True), _render)
    return 0
