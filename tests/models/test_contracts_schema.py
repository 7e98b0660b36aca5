"""The strict contract schema (``models/contract_schema.py``): one ConfigError naming the field,
the rule and the value; nothing coerced; bounded decoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from levercast.features.errors import ConfigError
from levercast.models.contract_schema import MAX_SPEC_CHARS, check_contract_json, loads_contract
from levercast.models.contracts import Contract, Resolution

AT = datetime(2026, 2, 20, tzinfo=UTC)
END = "2026-02-27T00:00Z"
BASE = {
    "kind": "touch",
    "asset": "BTC",
    "strike_usd": 60000,
    "direction": "down",
    "end": "2026-02-27T00:00Z",
}


def _with(**changes):
    spec = dict(BASE)
    for key, value in changes.items():
        if value is ...:
            spec.pop(key)
        else:
            spec[key] = value
    return spec


BAD = [
    (_with(strike_usd=True), r"strike_usd must be a positive price .*; found true"),
    (_with(strike_usd="60000"), r'strike_usd must be a positive price .*; found "60000"'),
    (_with(strike_usd=-5), r"strike_usd must be a positive price .*; found -5"),
    (_with(strike_usd=0), r"strike_usd must be .*; found 0"),
    (
        _with(strike_usd=1e15),
        r"strike_usd must be .* at most 1e\+09; found 1000000000000000",
    ),
    (_with(strike_usd=[1]), r"strike_usd must be .*; found \[1\]"),
    (_with(kind="touchy"), r"kind must be one of \[.*'touch'.*\]; found \"touchy\""),
    (_with(kind=None), r"kind must be one of .*; found null"),
    (_with(kind=...), r"kind is required"),
    (_with(asset=7), r"asset must be a ticker .*; found 7"),
    (_with(asset="BTC/USD"), r'asset must be a ticker .*; found "BTC/USD"'),
    (_with(direction="sideways"), r"direction must be 'up', 'down' or null; found \"sideways\""),
    (_with(end=12345), r"end must be an ISO-8601 time .*; found 12345"),
    (_with(end="2026-02-27"), r"end must be an ISO-8601 time .*; found \"2026-02-27\""),
    (_with(end="1999-02-27T00:00Z"), r"end must be an ISO-8601 time .* between 2009"),
    (_with(start="2010-01-01T00:00Z"), r"end must be at most 3660 days after start"),
    (_with(bogus=1), r"contract has unknown key\(s\) \['bogus'\]; known: \[.*'strike_usd'"),
    (_with(resolution="binance"), r'resolution must be an object; found "binance"'),
    (
        _with(resolution={"average_secs": "abc"}),
        r"resolution.average_secs must be an integer number of seconds from 1 to 86400; "
        r'found "abc"',
    ),
    (_with(resolution={"average_secs": 60.0}), r"resolution.average_secs must be an integer"),
    (_with(resolution={"average_secs": True}), r"resolution.average_secs .*; found true"),
    (_with(resolution={"average_secs": 0}), r"resolution.average_secs .*; found 0"),
    (_with(resolution={"neither_value": "x"}), r'resolution.neither_value .*\[0, 1\]; found "x"'),
    (_with(resolution={"neither_value": 1.5}), r"resolution.neither_value .*; found 1.5"),
    (_with(resolution={"tie_value": False}), r"resolution.tie_value .*; found false"),
    (
        _with(resolution={"source": ["x"]}),
        r'resolution.source must be a source name .*; found \["x"\]',
    ),
    (_with(resolution={"source": ""}), r'resolution.source .*; found ""'),
    (
        _with(resolution={"interval": "99999999999999999999"}),
        r'resolution.interval must be a duration from 1s to 7d .*; found "9999',
    ),
    (_with(resolution={"interval": "99999999999h"}), r"resolution.interval must be a duration"),
    (_with(resolution={"interval": "30d"}), r"resolution.interval must be a duration"),
    (_with(resolution={"discrete_every": "0d"}), r"resolution.discrete_every must be"),
    (_with(resolution={"price": "mid"}), r"resolution.price must be 'high', 'low'"),
    (_with(resolution={"symbol": 5}), r"resolution.symbol must be a symbol"),
    (_with(resolution={"x": 1}), r"resolution has unknown key\(s\) \['x'\]; known: \["),
    (
        {"kind": "move", "asset": "BTC", "threshold": 50, "end": "2026-02-27T00:00Z"},
        r"threshold of a move must be a fraction at most 10",
    ),
    (
        {"kind": "move", "asset": "BTC", "threshold": "0.05", "end": "2026-02-27T00:00Z"},
        r'threshold must be a positive number .*; found "0.05"',
    ),
    (
        {"kind": "first_of", "asset": "BTC", "lower_usd": 70000, "upper_usd": 60000},
        r"lower_usd must be below upper_usd",
    ),
    ([1, 2], r"contract must be a JSON object; found \[1, 2\]"),
]


@pytest.mark.parametrize(("spec", "match"), BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_bad_contracts_are_refused_naming_field_rule_and_value(spec, match):
    with pytest.raises(ConfigError, match=match) as info:
        Contract.from_json(spec, at=AT)
    assert "\n" not in str(info.value)


def test_a_valid_spec_and_python_values_pass():
    import numpy as np
    import pandas as pd

    contract = Contract.from_json(BASE, at=AT)
    assert contract.strike_usd == 60000.0 and isinstance(contract.strike_usd, float)
    py = _with(strike_usd=np.float64(6e4), end=pd.Timestamp("2026-02-27", tz="UTC"))
    assert Contract.from_json(py, at=AT) == contract
    spec = _with(resolution={"average_secs": 60, "price": "average", "source": "cf-brti"})
    assert Contract.from_json(spec, at=AT).resolution.average_secs == 60


def test_the_dataclass_refuses_a_bool_for_a_number():
    with pytest.raises(ConfigError, match="strike_usd must be a number; found True"):
        Contract(kind="touch", asset="BTC", start=AT, end=None, strike_usd=True)
    with pytest.raises(ConfigError, match=r"resolution\.interval must be"):
        Resolution.from_json({"interval": "1y"})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[" * 100_000 + "]" * 100_000, r"spec must be at most 20,000 characters"),
        ('{"kind":' + "[" * 5_000 + "]" * 5_000 + "}", r"spec must nest at most 4 levels"),
        ('{"kind":"touch",', r"spec is not valid JSON"),
        ('{"kind":"touch","asset":"BTC","strike_usd":NaN}', r"standard JSON numbers; found NaN"),
        ('{"kind":"touch","asset":"BTC","strike_usd":Infinity}', r"found Infinity"),
        ('"touch"', r'contract must be a JSON object; found "touch"'),
    ],
    ids=["huge", "deep", "broken", "nan", "inf", "not-object"],
)
def test_loads_contract_is_bounded(text, match):
    with pytest.raises(ConfigError, match=match):
        loads_contract(text)


def test_depth_ignores_brackets_inside_strings():
    spec = _with(resolution={"source": "a[[[[[[b"})
    with pytest.raises(ConfigError, match=r"resolution\.source must be"):
        loads_contract(json.dumps(spec))
    assert Contract.from_json_text(json.dumps(BASE), at=AT).strike_usd == 60000.0
    assert len(json.dumps(BASE)) < MAX_SPEC_CHARS


def test_check_contract_json_leaves_defaults_to_the_contract():
    check_contract_json({"kind": "up_down", "asset": "ETH", "end": "2026-02-27T00:00Z"})


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "touch", "asset": "BTC", "strike_usd": 6e4, "end": "2026-02-27T00:00Z"},
        {"kind": "range", "asset": "BTC", "lower_usd": 6e4, "upper_usd": 7e4, "end": END},
        {"kind": "up_down", "asset": "BTC", "end": END},
        {"kind": "first_of", "asset": "BTC", "lower_usd": 6e4, "upper_usd": 7e4},
        {"kind": "move", "asset": "ETH", "threshold": 0.05, "end": END},
        {
            "kind": "liquidations_above",
            "asset": "BTC",
            "threshold": 1e9,
            "side": "long",
            "end": END,
        },
        {
            "kind": "touch",
            "asset": "BTC",
            "strike_usd": 6e4,
            "monitoring": "discrete",
            "resolution": {"discrete_every": "1d"},
            "end": END,
        },
    ],
    ids=["touch", "range", "up_down", "first_of", "move", "liquidations", "discrete"],
)
def test_the_printed_form_round_trips_through_the_strict_schema(spec):
    contract = Contract.from_json(spec, at=AT)
    text = json.dumps(contract.to_json_dict(), sort_keys=True)
    assert Contract.from_json_text(text).to_json_dict() == contract.to_json_dict()
