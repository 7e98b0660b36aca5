"""The probability report: one self-contained HTML page and a Markdown summary.

``build_report(store, at=..., assets=...)`` gathers, as known at ``T``: ELR and its history (or
the proxy and the date of the last real ELR), the liquidation heatmap with clusters and
distances, OI dominance and the deleveraging signals, probability ladders (touch and close-above
across strikes for this week and this month, with market odds on the same chart), the top edges
of a replay scan at ``T``, the model's recent calibration and the data freshness per table
(``experiments.reporting.sections``). A section whose input is missing becomes a one-line note.

The page has no JavaScript and no external resource: plots are ``<img src="data:image/png...">``.
Both documents start with the same "Key numbers" table (``data-key`` cells in the HTML), so the
page and the summary always agree. ``write_report`` writes ``report-<stamp>.html/.md``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

from levercast.features.dataset.store import Store
from levercast.features.errors import ForecastError
from levercast.features.timeutil import format_utc

__all__ = ["Report", "build_report", "render_html", "render_markdown", "write_report"]

_CSS: Final = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    "img{max-width:100%;display:block;margin:.5em 0}.note{color:#a33}"
)
# Section failures that become notes: missing or bad data, impossible parameters, absent files.
_SECTION_ERRORS: Final = (ForecastError, ValueError, KeyError, IndexError, OSError)


@dataclass(frozen=True, slots=True)
class Report:
    """A rendered report.

    Attributes
    ----------
    at, assets, model
        Decision time, underlyings, pricing model.
    sections
        ``experiments.reporting.sections.Section`` objects in page order.
    keys
        Headline values (label -> text), identical in both documents.
    notes
        One line per missing input.
    scan
        The replay scan at ``T`` (``experiments.scanning.scan.ScanResult``) or None.
    """

    at: datetime
    assets: tuple[str, ...]
    model: str
    sections: tuple[Any, ...]
    keys: dict[str, str]
    notes: tuple[str, ...]
    scan: Any

    @property
    def plots(self) -> int:
        """Images on the page."""
        return sum(s.plots for s in self.sections)


def build_report(
    store: Store,
    *,
    at: datetime,
    assets: Sequence[str] = ("BTC", "ETH"),
    model: str | None = None,
    lookback_hours: float | None = None,
) -> Report:
    """Gather every section as known at ``at`` (see module docstring); never raises on a
    missing input.

    Raises
    ------
    ConfigError
        A naive ``at`` or an unknown model.
    """
    from levercast.experiments.reporting import sections as rs
    from levercast.experiments.scanning.scan import choose_model, scan

    stamp = rs.at_time(at)
    name = choose_model(model)
    ctx = rs.ReportContext(store=store, at=stamp, model=name, lookback_hours=lookback_hours)
    try:
        ctx.scan = scan(store, at=stamp.to_pydatetime(), assets=list(assets), model=name)
        ctx.notes += [f"scan: {n}" for n in ctx.scan.notes]
    except _SECTION_ERRORS as e:
        ctx.notes.append(f"top edges: scan failed ({e})")
    per_asset: list[tuple[str, Callable[[Any, str], Any]]] = [
        ("leverage", rs.leverage_section),
        ("liquidation map", rs.liquidation_section),
        ("dominance", rs.dominance_section),
        ("ladders", rs.ladder_section),
    ]
    builders: list[tuple[str, Callable[[], Any]]] = [
        (f"{asset} {label}", partial(fn, ctx, asset)) for asset in assets for label, fn in per_asset
    ]
    builders += [
        ("top edges", partial(rs.edges_section, ctx)),
        ("calibration", partial(rs.calibration_section, ctx, list(assets))),
        ("data freshness", partial(rs.freshness_section, ctx)),
    ]
    sections = []
    for label, build in builders:
        try:
            sections.append(build())
        except _SECTION_ERRORS as e:
            ctx.notes.append(f"{label}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    return Report(
        at=stamp.to_pydatetime(),
        assets=tuple(assets),
        model=name,
        sections=tuple(sections),
        keys=dict(ctx.keys),
        notes=tuple(ctx.notes),
        scan=ctx.scan,
    )


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _title(report: Report) -> str:
    return f"levercast report {', '.join(report.assets)} at {format_utc(report.at)}"


def render_html(report: Report) -> str:
    """The self-contained page (no JavaScript, plots as data URIs)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(_title(report))}</title><style>{_CSS}</style></head>",
        f'<body><main id="report"><h1>{html.escape(_title(report))}</h1>',
        f"<p>Model: {html.escape(report.model)}. All values as known at T.</p>",
        '<h2>Key numbers</h2><table id="key-numbers"><tbody>',
    ]
    for key, value in report.keys.items():
        parts.append(
            f"<tr><th>{html.escape(key)}</th>"
            f'<td class="key" data-key="{html.escape(key, quote=True)}">{html.escape(value)}</td>'
            "</tr>"
        )
    parts.append("</tbody></table>")
    if report.notes:
        parts.append('<h2>Notes</h2><ul id="notes">')
        parts += [f'<li class="note">{html.escape(n)}</li>' for n in report.notes]
        parts.append("</ul>")
    for section in report.sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if block[0] == "p":
                parts.append(f"<p>{html.escape(block[1])}</p>")
            elif block[0] == "table":
                parts.append(_html_table(block[1], block[2]))
            else:
                parts.append(f'<img class="plot" src="{block[1]}" alt="{html.escape(block[2])}">')
        parts.append("</section>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def render_markdown(report: Report) -> str:
    """The Markdown summary: the same key numbers, notes and tables (plots are in the page)."""
    lines = [f"# {_title(report)}", "", f"Model: {report.model}. All values as known at T.", ""]
    lines += ["## Key numbers", "", _md_table(["key", "value"], list(report.keys.items())), ""]
    if report.notes:
        lines += ["## Notes", "", *(f"- {n}" for n in report.notes), ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if block[0] == "p":
                lines += [block[1], ""]
            elif block[0] == "table":
                lines += [_md_table(block[1], block[2]), ""]
            else:
                lines += [f"*Plot: {block[2]} (in the HTML page).*", ""]
    return "\n".join(lines)


def write_report(report: Report, out_dir: Path, *, stamp: datetime | None = None) -> dict[str, Any]:
    """Write ``report-<UTC stamp>.html`` and ``.md`` into ``out_dir``; return the §4 payload
    ``{"html", "markdown", "plots", "notes"}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    when = (stamp or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    page = out_dir / f"report-{when}.html"
    summary = out_dir / f"report-{when}.md"
    for path, text in ((page, render_html(report)), (summary, render_markdown(report))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return {
        "html": str(page),
        "markdown": str(summary),
        "plots": report.plots,
        "notes": list(report.notes),
    }
