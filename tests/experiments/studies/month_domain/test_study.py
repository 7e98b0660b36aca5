"""The month-domain study's registered rule and arms."""

from __future__ import annotations

from datetime import timedelta

from levercast.experiments.studies.month_domain import study


def _row(arm: str, asset: str, value: float, lo: float) -> dict:
    return {"arm": arm, "asset": asset, "skill_vs_gbm": value, "ci90": [lo, value + 0.01]}


def test_the_rule_needs_a_positive_non_inferior_skill_on_every_asset():
    good = [
        _row("month_744h", "BTC", 0.004, -0.0019),
        _row("month_744h", "ETH", 0.001, 0.0005),
        _row("edge_720h", "BTC", -0.05, -0.09),  # context: not in the rule
    ]
    assert study.decide(good)["adopt"] is True
    below_margin = [good[0], _row("month_744h", "ETH", 0.001, -0.0021)]
    assert study.decide(below_margin)["adopt"] is False
    negative = [good[0], _row("month_744h", "ETH", -0.0001, -0.0001)]
    assert study.decide(negative)["adopt"] is False
    assert study.decide(good[2:])["adopt"] is False  # no month rows: keep


def test_arms_are_the_registered_ones():
    assert study.MAX_DOMAIN_HOURS == 750.0 and study.MARGIN == -0.0020
    got = {arm: (horizon, domain) for arm, horizon, domain in study._ARMS}
    assert got == {
        "month_744h": (timedelta(hours=744), 750.0),
        "edge_720h": (timedelta(hours=720), None),
    }
