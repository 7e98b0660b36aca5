"""Observations of the prediction markets: one YES probability per quote time."""

from __future__ import annotations

import pandas as pd
import pytest

from levercast.experiments.evaluation.observations import _yes_quotes


def test_yes_quotes_prefer_yes_then_history():
    ts = pd.to_datetime(["2024-01-01T00:00Z"] * 3 + ["2024-01-02T00:00Z"], utc=True)
    rows = pd.DataFrame(
        {
            "outcome": ["No", "Yes", "Yes", "No"],
            "ts": ts,
            "available_at": ts,
            "price": [0.3, 0.6, 0.65, 0.2],
            "kind": ["daily_close", "daily_close", "history", "daily_close"],
        }
    )
    quotes = _yes_quotes(rows, "Yes", ("Yes", "No"))
    assert quotes["prob"].tolist() == pytest.approx([0.65, 0.8])
