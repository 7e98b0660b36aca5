"""Input and feature specs: validation, the read-only input catalogue, reason helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.features.errors import ConfigError
from levercast.features.frame.specs import (
    INPUTS,
    Candidate,
    FeatureColumn,
    FeatureSpec,
    first_reason,
    format_span,
    windowed,
)


def _nothing(ctx: object) -> FeatureColumn:
    return FeatureColumn.build([np.nan], [None])


def test_feature_spec_refuses_unknown_inputs():
    with pytest.raises(ConfigError, match=r"must be names of INPUTS .*; found \['prices'\]"):
        FeatureSpec("x", "usd", "a test", ("prices",), _nothing)


def test_candidate_refuses_a_non_positive_interval():
    with pytest.raises(ConfigError, match="native_interval must be positive; found 0 days"):
        Candidate("binance", pd.Timedelta(0))


def test_inputs_are_read_only():
    with pytest.raises(TypeError):
        INPUTS["price"] = INPUTS["funding"]  # type: ignore[index]


def test_feature_column_gives_every_nan_a_reason():
    column = FeatureColumn.build([1.0, np.inf, np.nan, 4.0], [None, None, None, "stale"])
    np.testing.assert_array_equal(column.values, [1.0, np.nan, np.nan, np.nan])
    assert list(column.reasons) == [None, "not computable", "not computable", "stale"]


def test_first_reason_takes_the_first_non_none():
    a = np.array([None, "a", None], dtype=object)
    b = np.array(["b", "b", None], dtype=object)
    assert list(first_reason(a, b)) == ["b", "a", None]


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (30 * 86_400 * 10**9, "30d"),
        (24 * 3_600 * 10**9, "1d"),
        (3_600 * 10**9, "1h"),
        (90 * 60 * 10**9, "90m"),
    ],
    ids=["30d", "1d", "1h", "90m"],
)
def test_format_span(ns, text):
    assert format_span(ns) == text


def test_windowed_passes_the_window():
    seen = []

    def fn(ctx: object, window_ns: int) -> FeatureColumn:
        seen.append(window_ns)
        return _nothing(ctx)

    build = windowed(fn, 7)
    build(object())
    assert seen == [7]
    assert build.__qualname__.endswith("fn[7]")
