"""The edge rule's trading simulation, hand computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.evaluation.trading import TradingRule, simulate_trading


def _obs(rows):
    frame = pd.DataFrame(rows, columns=["market_id", "t", "prob_market", "outcome", "resolved_at"])
    frame["t"] = pd.to_datetime(frame["t"], utc=True)
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"], utc=True)
    frame["quote_kind"] = "daily_close"
    return frame


def test_trading_hand_computed():
    obs = _obs(
        [
            ("a", "2024-01-01", 0.50, 1.0, "2024-01-05"),
            ("a", "2024-01-02", 0.50, 1.0, "2024-01-05"),
            ("b", "2024-01-01", 0.40, 1.0, "2024-01-05"),
            ("b", "2024-01-04", 0.40, 1.0, "2024-01-05"),  # next quote 3 days later: stale
        ]
    )
    result = simulate_trading(obs, np.array([0.9, 0.9, 0.9, 0.9]), TradingRule())
    cost = 0.51 + 0.07 * 0.51 * 0.49
    assert result["trades"] == 1
    assert result["skipped_stale_quote"] == 1
    assert result["hit_rate"] == 1.0
    assert result["pnl_per_dollar"] == pytest.approx(1 / cost - 1)
