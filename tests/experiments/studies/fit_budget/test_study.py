"""The fit-budget study's registered rule and its rows on a small dataset."""

from __future__ import annotations

import pytest

from levercast.experiments.studies.fit_budget import study


def _row(candidate: str, asset: str, lo: float, seconds: float) -> dict:
    return {"candidate": candidate, "asset": asset, "ci90": [lo, lo + 0.004], "seconds": seconds}


def test_the_rule_takes_the_fastest_candidate_non_inferior_on_every_asset():
    rows = [
        _row("shipped", "BTC", 0.0, 30.0),
        _row("shipped", "ETH", 0.0, 30.0),
        _row("trees50", "BTC", -0.0010, 20.0),
        _row("trees50", "ETH", -0.0019, 20.0),
        _row("every90d", "BTC", -0.0005, 15.0),
        _row("every90d", "ETH", -0.0021, 15.0),  # inferior on one asset: out
        _row("trees50_every90d", "BTC", -0.0001, 12.0),
        _row("trees50_every90d", "ETH", -0.0030, 12.0),
    ]
    verdict = study.decide(rows)
    assert verdict["non_inferior"] == ["trees50"] and verdict["recommended"] == "trees50"
    worse = [r if r["candidate"] == "shipped" else {**r, "ci90": [-0.01, 0.0]} for r in rows]
    assert study.decide(worse)["recommended"] == "shipped"


def test_candidates_are_the_registered_ones():
    shipped = study.CANDIDATES[0].training
    got = {c.name: (c.training.n_estimators, c.training.learning_rate, c.retrain_every.days)
           for c in study.CANDIDATES}  # fmt: skip
    assert got == {
        "shipped": (shipped.n_estimators, shipped.learning_rate, 30),
        "trees50": (50, 0.15, 30),
        "every90d": (shipped.n_estimators, shipped.learning_rate, 90),
        "trees50_every90d": (50, 0.15, 90),
    }
    assert shipped.n_estimators * shipped.learning_rate == pytest.approx(50 * 0.15)
