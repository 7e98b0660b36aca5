"""The text form of ``evaluate`` (issue 17): it leads with the skill with each market weighted
equally, the trading result beside it and the per-observation skill after, never the flattering
per-observation number alone; exclusions carry their share of the observations."""

from __future__ import annotations

import io

from levercast.experiments.cli.commands.evaluate import _render
from levercast.experiments.cli.output import print_rich


def _text(doc) -> str:
    """What a person sees (the text and tables as printed to a pipe)."""
    out = io.StringIO()
    print_rich(_render(doc), file=out)
    return out.getvalue()


def _skill(value, lo, hi):
    return {"value": value, "ci90": [lo, hi]}


def _trading(trades, pnl, lo, hi):
    return {
        "trades": trades,
        "hit_rate": 0.5 if trades else None,
        "pnl_per_dollar": pnl,
        "pnl_per_dollar_ci90": [lo, hi],
        "max_drawdown_usd": 1.0,
        "spread_source": {"assumed half-spread 0.01": trades},
    }


def _doc(trading):
    return {
        "markets": 3,
        "observations": 990,
        "coverage": {"resolved_with_prices": 4, "evaluated": 3},
        "model": "market_aware",
        "model_used": "market_aware over gbm",
        "excluded": {"unsupported market": 10, "no YES price at the ts": 0},
        "ambiguous_paths_priced": 2,
        "brier": {"model": 0.08, "market": 0.079},
        "log_loss": {"model": 0.25, "market": 0.252},
        "ece": {"model": 0.04, "market": 0.044},
        "skill_vs_market": {"model": _skill(0.04, 0.02, 0.06)},
        "skill_vs_market_equal_markets": {"model": _skill(-0.07, -0.2, -0.01)},
        "trading": trading,
        "trading_point_forecast": _trading(5, -0.11, -0.29, 0.09),
        "held_out": {
            "since": "2025-12-01T00:00:00Z",
            "markets": 2,
            "observations": 500,
            "skill_vs_market": {"model": _skill(-0.02, -0.06, -0.003)},
            "skill_vs_market_equal_markets": {"model": _skill(-0.001, -0.02, 0.01)},
        },
    }


def test_leads_with_equal_markets_skill_and_trading_beside_per_observation():
    first, held, *_ = _text(_doc(_trading(7, -0.05, -0.21, 0.13))).splitlines()
    assert first.startswith("market_aware over gbm vs market, each market weighted equally: -0.07")
    assert first.index("weighted equally") < first.index("trading") < first.index("per observation")
    assert "-0.0500 per $ 90% CI [-0.2100, +0.1300] over 7 trades" in first
    assert "per observation +0.0400 [+0.0200, +0.0600]" in first
    assert held.startswith("held out (2 markets known after 2025-12-01 00:00 UTC)")
    assert "weighted equally -0.0010" in held


def test_no_trade_says_so_and_shows_the_point_forecast_rule():
    first = _text(_doc(_trading(0, None, None, None))).splitlines()[0]
    assert "trading no trade (at the point forecast: -0.1100 per $" in first


def test_exclusions_with_their_share():
    text = _text(_doc(_trading(0, None, None, None)))
    assert "excluded unsupported market: 10 (1.0%)" in text
    assert "no YES price" not in text
    assert "priced, not excluded: 2 observations with an ambiguous path to date" in text


def test_skill_and_scores_are_tables_without_python_reprs():
    text = _text(_doc(_trading(7, -0.05, -0.21, 0.13)))
    assert "3 markets, 990 observations (4 resolved with prices, 3 evaluated)" in text
    model_rows = [line.split() for line in text.splitlines() if line.strip().startswith("model ")]
    # all markets, then held out: equal-markets skill and CI, then per observation and CI
    assert " ".join(model_rows[0]) == "model -0.0700 [-0.2000, -0.0100] +0.0400 [+0.0200, +0.0600]"
    assert " ".join(model_rows[1]) == "model -0.0010 [-0.0200, +0.0100] -0.0200 [-0.0600, -0.0030]"
    assert (
        "held out: markets known after 2025-12-01 00:00 UTC (2 markets, 500 observations)" in text
    )
    market = next(line for line in text.splitlines() if line.strip().startswith("market "))
    assert market.split() == ["market", "0.0790", "0.2520", "0.0440"]
    assert "spread assumed half-spread 0.01 (7 trades)" in text
    assert "{" not in text


def test_the_share_answered_by_gbm_is_said_beside_the_model():
    doc = {**_doc(_trading(7, -0.05, -0.21, 0.13)), "model_used": "default"}
    text = _text({**doc, "fallbacks_to_gbm": 330})
    assert (
        "model default (330 of the observations, 33%, answered by gbm, where it gives none)"
        in " ".join(text.split())
    )
    assert "answered by gbm" not in _text({**doc, "fallbacks_to_gbm": 0})
