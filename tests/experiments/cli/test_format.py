"""Human formatting (experiments/cli/format.py): one rule per unit, never a repr or an exponent."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pytest

from levercast.experiments.cli.format import (
    fmt_bps,
    fmt_duration,
    fmt_number,
    fmt_points,
    fmt_prob,
    fmt_time,
    fmt_usd,
    fmt_value,
    render_table,
    table,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.2345e9, "$1.23B"),
        (5.40805e9, "$5.41B"),
        (68237.4, "$68,237"),
        (45_600_000, "$45.6M"),
        (12.5, "$12.50"),
        (-3_100_000, "-$3.10M"),
        (2.5e12, "$2.50T"),
        (None, "n/a"),
        (math.nan, "n/a"),
    ],
    ids=[
        "billions",
        "5.4B",
        "thousands",
        "millions",
        "cents",
        "negative",
        "trillions",
        "none",
        "nan",
    ],
)
def test_usd(value, text):
    assert fmt_usd(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.1386, "13.9%"), (0.0, "0.0%"), (1.0, "100.0%"), (0.0004, "<0.1%"), (0.9996, ">99.9%")],
    ids=["plain", "zero", "one", "tiny", "almost-one"],
)
def test_prob(value, text):
    assert fmt_prob(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0123456, "0.0123"),
        (5408050000.0, "5,408,050,000"),
        (3.74e-43, "<0.000001"),
        (-3.74e-43, ">-0.000001"),
        (1.5, "1.5"),
        (0.0, "0"),
        (123.456, "123"),
        (0.1 + 0.2, "0.3"),
    ],
    ids=["small", "large", "tiny", "tiny-negative", "plain", "zero", "hundreds", "float-noise"],
)
def test_number_never_scientific(value, text):
    assert fmt_number(value) == text


def test_points_bps_time_duration():
    assert fmt_points(0.024) == "+2.4 pts" and fmt_points(-0.1) == "-10.0 pts"
    assert fmt_bps(0.0001) == "1.0 bps"
    assert fmt_time(datetime(2026, 1, 15, 12, tzinfo=UTC)) == "2026-01-15 12:00 UTC"
    assert fmt_time("2026-01-15T12:00:00+00:00") == "2026-01-15 12:00 UTC"
    assert fmt_duration(timedelta(hours=3, minutes=30)) == "3.5 h"
    assert fmt_duration(30) == "30 s"


def test_value_by_name_has_no_python_reprs():
    assert fmt_value(True) == "yes" and fmt_value(None) == "n/a"
    assert fmt_value({"binance-usdm": 12135}) == "binance-usdm 12,135"
    assert fmt_value(68237.0, name="spot_usd") == "$68,237"
    assert fmt_value(0.25, name="prob_above") == "25.0%"
    assert fmt_value(0.0001, name="funding_rate_8h") == "1.0 bps"


def test_table_renders_headers_and_cells():
    text = render_table(table(["market", "prob"], [["Will BTC hit $100k?", "13.9%"]], right=[1]))
    assert "market" in text and "Will BTC hit $100k?" in text and "13.9%" in text
    assert not re.search(r"\d\.\d+e[-+]\d", text)
