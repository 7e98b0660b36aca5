"""The probability report: one self-contained HTML page and a Markdown summary.

``build_report(store, at=..., assets=...)`` gathers, as known at ``T``: ELR and its history (or
the proxy and the date of the last real ELR), the liquidation heatmap with clusters, distances and
the realised liquidations, OI dominance and the deleveraging signals, probability ladders (touch
and close-above across strikes for this week and this month, with market odds on the same chart),
the top edges of a replay scan at ``T``, the model's recent calibration (forecasts and outcomes
known at ``T``: the forward log's resolved rows, else a walk-forward over the weeks before ``T``)
and the data freshness per table (``experiments.reporting.sections``). A section whose input is
missing becomes a one-line note. ``stale_inputs`` names the required inputs that are stale at
``T`` beyond their limits (a live report refuses to run on them unless told to).

Both documents are rendered from Jinja2 templates (``templates/report.html.j2`` and
``report.md.j2``, autoescaped HTML). The page has no JavaScript and no external resource: plots
are ``<img src="data:image/png...">``. Both start with the same "Key numbers" table
(``data-key`` cells in the HTML), so the page and the summary always agree. The Markdown is
reproducible: the same command on the same data gives the same text, whatever the model cache
held (no timings, no absolute paths, no fit notes). ``write_report`` writes
``report-<stamp>.html/.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any, Final

from levercast.experiments.parallel import Progress, no_progress
from levercast.experiments.reporting.numbers import fmt_time
from levercast.features.dataset.store import Store
from levercast.features.errors import ForecastError

__all__ = [
    "Report",
    "build_report",
    "render_html",
    "render_markdown",
    "stale_inputs",
    "write_report",
]

# Section failures that become notes: missing or bad data, impossible parameters, absent files.
_SECTION_ERRORS: Final = (ForecastError, ValueError, KeyError, IndexError, OSError)
_TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
# Run-dependent text that must not reach the documents (reproducibility): durations and
# absolute paths (replaced by what they stand for).
_DURATION: Final = re.compile(
    r"\s*\(?\b(?:in |after |took )?\d+(?:\.\d+)?\s?(?:s|ms|secs?|seconds)\b\)?"
)
# A number, its unit, and the model that gave it when it is named: "63.6% (gbm)".
_NUMERIC: Final = re.compile(r"^[-+<>$]?[\d.,]+(?:\s?[%BMTk]|\s?pts|\s?bps)?(?: \([a-z_-]+\))?$")


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
        One line per missing input (reproducible text: no timings or paths).
    scan
        The replay scan at ``T`` (``experiments.scanning.scan.ScanResult``) or None.
    lookback_hours
        The liquidation map's window (None: the committed one).
    """

    at: datetime
    assets: tuple[str, ...]
    model: str
    sections: tuple[Any, ...]
    keys: dict[str, str]
    notes: tuple[str, ...]
    scan: Any
    lookback_hours: float | None = None

    @property
    def plots(self) -> int:
        """Images on the page."""
        return sum(s.plots for s in self.sections)


def stale_inputs(
    store: Store, *, at: datetime, assets: Sequence[str] = ("BTC", "ETH")
) -> list[str]:
    """The required inputs of a report at ``at`` that are stale beyond their limits
    (``sections.REQUIRED_LIMITS``: candles, open interest and funding of each asset), e.g.
    ``["candles BTC (last 2024-01-31 23:00 UTC)"]``; empty when all are fresh."""
    from levercast.experiments.reporting import sections as rs

    return rs.required_staleness(store, rs.at_time(at), list(assets))


def _stable(note: str, store: Store) -> str:
    """``note`` without run-dependent text: the dataset's path as ``--data``, the home as
    ``$LEVERCAST_HOME``, no durations."""
    from levercast.experiments.paths import levercast_home

    text = note
    for path, name in (
        (store.root.resolve(), "--data"),
        (store.root, "--data"),
        (levercast_home().resolve(), "$LEVERCAST_HOME"),
    ):
        if str(path) not in (".", ""):
            text = text.replace(str(path), name)
    return _DURATION.sub("", text).strip()


def build_report(
    store: Store,
    *,
    at: datetime,
    assets: Sequence[str] = ("BTC", "ETH"),
    model: str | None = None,
    lookback_hours: float | None = None,
    progress: Progress | None = None,
) -> Report:
    """Gather every section as known at ``at`` (see module docstring); never raises on a
    missing input.

    ``progress(done, total, label)`` is called before each step (the replay scan, then each
    section) and once at the end; default: nothing.

    Raises
    ------
    ConfigError
        A naive ``at`` or an unknown model.
    """
    from levercast.experiments.reporting import sections as rs
    from levercast.experiments.scanning.scan import choose_model, scan

    tick = progress or no_progress
    stamp = rs.at_time(at)
    name = choose_model(model)
    ctx = rs.ReportContext(
        store=store, at=stamp, model=name, lookback_hours=lookback_hours, assets=tuple(assets)
    )
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
    total = len(builders) + 1
    tick(0, total, "replay scan")
    try:
        ctx.scan = scan(store, at=stamp.to_pydatetime(), assets=list(assets), model=name)
        ctx.notes += [f"scan: {n}" for n in ctx.scan.notes]
    except _SECTION_ERRORS as e:
        ctx.notes.append(f"top edges: scan failed ({e})")
    sections = []
    for done, (label, build) in enumerate(builders, 1):
        tick(done, total, label)
        try:
            sections.append(build())
        except _SECTION_ERRORS as e:
            ctx.notes.append(f"{label}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    tick(total, total, "done")
    return Report(
        at=stamp.to_pydatetime(),
        assets=tuple(assets),
        model=name,
        sections=tuple(sections),
        keys=dict(ctx.keys),
        notes=tuple(dict.fromkeys(_stable(n, store) for n in ctx.notes)),
        scan=ctx.scan,
        lookback_hours=lookback_hours,
    )


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Any) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "---|" * len(headers))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@cache
def _environment(kind: str) -> Any:
    """The Jinja2 environment of the ``html`` (autoescaped) or ``md`` templates."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=kind == "html",
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["md_table"] = _md_table
    env.tests["numeric_text"] = lambda cell: bool(_NUMERIC.match(str(cell)))
    return env


def _context(report: Report) -> dict[str, Any]:
    lookback = None if report.lookback_hours is None else f"{report.lookback_hours:g} h"
    return {
        "title": f"levercast report {', '.join(report.assets)} at {fmt_time(report.at)}",
        "model": report.model,
        "at": fmt_time(report.at),
        "lookback": lookback,
        "keys": report.keys,
        "notes": report.notes,
        "sections": report.sections,
    }


def render_html(report: Report) -> str:
    """The self-contained page (no JavaScript, plots as data URIs)."""
    return str(_environment("html").get_template("report.html.j2").render(_context(report)))


def render_markdown(report: Report) -> str:
    """The Markdown summary: the same key numbers, notes and tables (plots are in the page)."""
    text = _environment("md").get_template("report.md.j2").render(_context(report))
    return re.sub(r"\n{3,}", "\n\n", str(text)).rstrip("\n") + "\n"


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
