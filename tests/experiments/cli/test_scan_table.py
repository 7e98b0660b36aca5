"""The scan's table for people: a row answered by the model's fallback is marked ``f`` and the
legend names the fallback (the JSON has it as each row's ``model``)."""

from __future__ import annotations

import types
from datetime import UTC, datetime

from levercast.experiments.cli.commands.scan import render_scan
from levercast.experiments.cli.format import render_table
from levercast.experiments.scanning.rows import ScanResult, fallback_model


def _row(question, model, *, flag=False, stale=False):
    return types.SimpleNamespace(
        venue="polymarket", question=question, contract=None, model=model, prob_model=0.4,
        prob_lo=0.3, prob_hi=0.5, prob_bid=0.45, prob_ask=0.47, edge=0.05, side="no",
        kelly_fraction=0.0, flag=flag, stale=stale, decided=None, why="",
    )  # fmt: skip


def _render(rows, model="default"):
    result = ScanResult(at=datetime(2025, 6, 1, tzinfo=UTC), live=False, model=model, rows=rows)
    _head, body, legend = render_scan(result)
    lines = render_table(body, width=200).splitlines()
    return {q: line for line in lines for q in ("in June", "by Dec 31") if q in line}, legend


def test_a_fallback_row_is_flagged_f_and_the_legend_names_the_fallback():
    found, legend = _render([_row("in June", "default", stale=True), _row("by Dec 31", "gbm")])
    assert found["by Dec 31"].split()[0] == "f"
    assert found["in June"].split()[0] == "s"  # answered by the model asked: no f
    assert "f answered by gbm in place of default" in legend


def test_no_fallback_no_f_in_the_legend():
    found, legend = _render([_row("in June", "gbm")], model="gbm")
    assert found["in June"].split()[0] == "polymarket"  # an empty flag cell
    assert "answered by" not in legend


def test_fallback_model():
    assert fallback_model("gbm", "default") == "gbm"
    assert fallback_model("climatology", "default") == "climatology"
    assert fallback_model("default", "default") is None
