"""Numbers and values as people read them, for every command's human output (not ``--json``).

The unit rules (``fmt_usd``, ``fmt_prob``, ``fmt_points``, ``fmt_bps``, ``fmt_number``, ...) are
``experiments.reporting.numbers``, shared with the report page; see there. This module adds the
tables: ``table`` builds a ``rich.table.Table`` from rows of already formatted text and
``render_table`` returns one as plain text (for tests and logs). Nothing here imports pandas,
numpy or rich at import time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from levercast.experiments.reporting.numbers import (
    MISSING,
    fmt_bool,
    fmt_bps,
    fmt_duration,
    fmt_number,
    fmt_pct,
    fmt_points,
    fmt_prob,
    fmt_time,
    fmt_unit,
    fmt_usd,
    fmt_value,
)

__all__ = [
    "MISSING",
    "fmt_bool",
    "fmt_bps",
    "fmt_duration",
    "fmt_number",
    "fmt_pct",
    "fmt_points",
    "fmt_prob",
    "fmt_time",
    "fmt_unit",
    "fmt_usd",
    "fmt_value",
    "render_table",
    "table",
]


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    right: Iterable[int] = (),
    min_widths: dict[int, int] | None = None,
) -> Any:
    """A ``rich.table.Table`` of already formatted cells (``str(cell)``); columns whose index is
    in ``right`` are right-aligned (numbers); ``min_widths`` keeps some columns from being
    squeezed (index -> characters)."""
    from rich import box
    from rich.table import Table

    aligned = set(right)
    out = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, header in enumerate(headers):
        out.add_column(
            header,
            justify="right" if i in aligned else "left",
            overflow="fold",
            min_width=(min_widths or {}).get(i),
        )
    for row in rows:
        out.add_row(*(MISSING if cell is None else str(cell) for cell in row))
    return out


def render_table(renderable: Any, *, width: int = 120) -> str:
    """A rich renderable as plain text (no colour codes), ``width`` columns wide."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False).print(renderable)
    return buffer.getvalue().rstrip("\n")
