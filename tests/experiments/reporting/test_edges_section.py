"""The report's top edges: the key number is the best edge of a market still open at T; a market
already decided (its path hit the barrier) keeps a stale last price and a large paper edge that no
one can take, so it never becomes the headline."""

from __future__ import annotations

import types
from datetime import UTC, datetime

from levercast.experiments.reporting.sections import edges_section
from levercast.experiments.scanning.rows import ScanResult


def _row(market, edge, *, decided=None, stale=False, flag=False, model="default"):
    return types.SimpleNamespace(
        venue="polymarket", question=market, contract=None, prob_model=0.5, prob_bid=0.4,
        prob_ask=0.42, edge=edge, side="yes", kelly_fraction=0.0, flag=flag, stale=stale,
        decided=decided, model=model,
    )  # fmt: skip


def _ctx(rows):
    scan = ScanResult(at=datetime(2025, 6, 1, tzinfo=UTC), live=False, model="default", rows=rows)
    return types.SimpleNamespace(scan=scan, keys={})


def test_the_top_edge_is_an_open_market_and_each_row_says_its_status():
    rows = [
        _row("fresh", 0.031, flag=True),
        _row("stale", 0.09, stale=True),
        _row("decided", 0.145, decided="event already decided at T", stale=True),
    ]
    ctx = _ctx(rows)
    section = edges_section(ctx)
    assert ctx.keys["top edge"] == "+3.1 pts"  # the fresh quote, not the larger stale or decided
    _, headers, table = section.blocks[0]
    assert headers[-1] == "status"
    assert [r[-1] for r in table] == ["open", "stale quote", "decided/closed"]
    assert "1 flagged; 1 already decided or closed at T" in section.blocks[1][1]


def test_only_stale_or_decided_markets_say_so_in_the_key_number():
    ctx = _ctx([_row("stale", 0.09, stale=True), _row("decided", 0.2, decided="closed")])
    edges_section(ctx)
    assert ctx.keys["top edge"] == "+9.0 pts (stale quote)"
    ctx = _ctx([_row("decided", 0.145, decided="event already decided at T", stale=True)])
    edges_section(ctx)
    assert ctx.keys["top edge"] == "n/a (no open market quoted)"


def test_rows_answered_by_the_fallback_name_it_beside_their_probability():
    ctx = _ctx([_row("learned", 0.03), _row("long", 0.02, model="gbm"), _row("l2", 0.01)])
    section = edges_section(ctx)
    _, headers, table = section.blocks[0]
    assert [r[headers.index("model")] for r in table] == ["50.0%", "50.0% (gbm)", "50.0%"]
    assert "priced with default (1 of them by its fallback" in section.blocks[1][1]
    plain = edges_section(_ctx([_row("learned", 0.03)]))
    assert "fallback" not in plain.blocks[1][1]
