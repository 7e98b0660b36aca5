from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from levercast.features.errors import ConfigError
from levercast.models.consistency import (
    cap_range_ladder,
    consistency_violations,
    enforce_consistency,
    monotone_ladder,
    touch_at_least_close,
)


@pytest.mark.parametrize(
    ("prob", "decreasing", "expected"),
    [
        ([0.9, 0.6, 0.3], True, [0.9, 0.6, 0.3]),
        ([0.3, 0.6, 0.9], False, [0.3, 0.6, 0.9]),
        ([0.9, 0.5, 0.6, 0.2], True, [0.9, 0.55, 0.55, 0.2]),
        ([0.2, 0.6, 0.5, 0.9], False, [0.2, 0.55, 0.55, 0.9]),
        ([0.9, np.nan, 0.3], True, [0.9, np.nan, 0.3]),
    ],
    ids=["monotone-down", "monotone-up", "one-swap-down", "one-swap-up", "nan-kept"],
)
def test_monotone_ladder_by_hand(prob, decreasing, expected):
    np.testing.assert_allclose(monotone_ladder(prob, decreasing=decreasing), expected)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12), st.booleans())
def test_monotone_ladder_properties(prob, decreasing):
    out = monotone_ladder(prob, decreasing=decreasing)
    steps = np.diff(out)
    assert (steps <= 1e-12).all() if decreasing else (steps >= -1e-12).all()
    assert out.min() >= min(prob) - 1e-12 and out.max() <= max(prob) + 1e-12


def test_touch_is_raised_to_its_close_beyond():
    np.testing.assert_allclose(
        touch_at_least_close([0.3, 0.5, np.nan], [0.4, 0.2, 0.1]), [0.4, 0.5, np.nan]
    )
    with pytest.raises(ConfigError, match="same shape"):
        touch_at_least_close([0.1], [0.1, 0.2])


def test_range_ladder_is_capped_and_overlaps_refused():
    np.testing.assert_allclose(
        cap_range_ladder([1, 2, 3], [2, 3, 4], [0.5, 0.4, 0.3]), [0.5, 0.4, 0.3] / np.float64(1.2)
    )
    np.testing.assert_allclose(cap_range_ladder([1, 2], [2, 3], [0.5, 0.4]), [0.5, 0.4])
    with pytest.raises(ConfigError, match="disjoint"):
        cap_range_ladder([1, 1.5], [2, 3], [0.5, 0.4])


def _frame():
    t = pd.Timestamp("2025-01-01T00:00Z")
    end = t + pd.Timedelta(days=1)
    rows = [
        # kind, direction, monitoring, strike, lower, upper, prob
        ("close_above", "", "terminal", 90.0, np.nan, np.nan, 0.80),
        ("close_above", "", "terminal", 100.0, np.nan, np.nan, 0.85),  # breaks monotonicity
        ("close_above", "", "terminal", 110.0, np.nan, np.nan, 0.20),
        ("touch", "up", "continuous", 110.0, np.nan, np.nan, 0.15),  # below its close beyond
        ("touch", "up", "continuous", 120.0, np.nan, np.nan, 0.10),
        ("close_below", "", "terminal", 90.0, np.nan, np.nan, 0.15),
        ("touch", "down", "continuous", 90.0, np.nan, np.nan, 0.40),
        ("range", "", "terminal", np.nan, 90.0, 100.0, 0.6),
        ("range", "", "terminal", np.nan, 100.0, 110.0, 0.6),  # ladder sums to 1.2
    ]
    frame = pd.DataFrame(
        rows,
        columns=["kind", "direction", "monitoring", "strike_usd", "lower_usd", "upper_usd", "prob"],
    )
    frame.insert(0, "asset", "BTC")
    frame.insert(1, "t", t)
    frame.insert(2, "end", end)
    return frame


def test_enforce_consistency_repairs_every_rule():
    frame = _frame()
    problems = consistency_violations(frame)
    assert len(problems) == 3
    fixed = enforce_consistency(frame)
    assert consistency_violations(fixed) == []
    ca = fixed[fixed["kind"] == "close_above"]["prob"].to_numpy()
    assert (np.diff(ca) <= 0).all()
    touch_110 = fixed[(fixed["kind"] == "touch") & (fixed["strike_usd"] == 110)]["prob"].iloc[0]
    assert touch_110 >= ca[-1]
    assert fixed[fixed["kind"] == "range"]["prob"].sum() == pytest.approx(1.0)
    assert list(fixed.columns) == list(frame.columns) and (fixed.index == frame.index).all()


def test_coherent_frame_is_unchanged_and_groups_are_separate():
    frame = enforce_consistency(_frame())
    other = frame.assign(
        end=frame["end"] + pd.Timedelta(days=1), prob=frame["prob"].to_numpy()[::-1]
    )
    both = pd.concat([frame, other], ignore_index=True)
    fixed = enforce_consistency(both)
    pd.testing.assert_series_equal(
        fixed["prob"].iloc[: len(frame)], frame["prob"], check_names=False
    )
    assert consistency_violations(fixed) == []


def test_missing_columns_are_named():
    with pytest.raises(ConfigError, match="prob must name a column"):
        enforce_consistency(_frame(), prob="p")
    with pytest.raises(ConfigError, match=r"frame must have columns \['end'\]"):
        enforce_consistency(_frame().drop(columns="end"))
