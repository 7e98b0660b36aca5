from __future__ import annotations

import pandas as pd
import pytest

from levercast.features.dataset.schema import TABLES, ExtraColumnsWarning, validate_table
from levercast.features.errors import DataError
from tests.conftest import make_candles


def _candles(n=5):
    return make_candles(hours=n)


def test_valid_candles_round_trip_dtypes():
    out = validate_table("candles", _candles())
    assert list(out.columns) == list(TABLES["candles"].columns)
    assert str(out["ts"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda f: f.drop(columns=["close"]), r"candles: missing required column\(s\) \['close'\]"),
        (lambda f: f.assign(ts=f["ts"].dt.tz_localize(None)), r"candles.ts must hold tz-aware UTC"),
        (lambda f: pd.concat([f, f.iloc[[0]]]), r"candles: key .* must be unique; found duplicate"),
        (
            lambda f: f.assign(available_at=f["ts"] - pd.Timedelta("1h")),
            r"candles.available_at must be >= ts; found available_at",
        ),
        (lambda f: f.assign(volume_base=-1.0), r"candles.volume_base must be >= 0; found -1.0"),
        (lambda f: f.assign(close=float("nan")), r"candles.close must not be null"),
        (lambda f: f.assign(close="x"), r"candles.close must be numeric"),
    ],
    ids=["missing", "naive", "duplicate", "available_before_ts", "negative", "null", "type"],
)
def test_validation_messages_name_table_column_rule_value(mutate, match):
    with pytest.raises(DataError, match=match):
        validate_table("candles", mutate(_candles()))


def test_prices_outside_unit_interval_rejected():
    ts = pd.Timestamp("2025-01-01T00:00Z")
    frame = pd.DataFrame(
        {
            "venue": ["polymarket"],
            "market_id": ["m"],
            "outcome": ["Yes"],
            "ts": [ts],
            "available_at": [ts],
            "price": [1.2],
            "kind": ["history"],
        }
    )
    with pytest.raises(DataError, match=r"market_prices.price must be within \[0, 1\]; found 1.2"):
        validate_table("market_prices", frame)


def test_extra_columns_warn_once_and_are_dropped():
    frame = _candles().assign(extra=1)
    with pytest.warns(ExtraColumnsWarning, match=r"ignoring unknown column\(s\) \['extra'\]"):
        out = validate_table("candles", frame)
    assert "extra" not in out.columns


def test_unknown_table_rejected():
    with pytest.raises(DataError, match="table must be one of"):
        validate_table("nope", _candles())
