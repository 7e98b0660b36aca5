"""The strict schema of the contract JSON (INTERFACE.md §3): checked before any data is loaded.

``check_contract_json(data)`` walks a decoded §3 object against a declarative table of fields
and raises one ``ConfigError`` naming the field, the rule and the value found at the first
breach; ``loads_contract(text)`` decodes a JSON text after bounding its size and nesting depth
(a 100,000-deep array is refused before ``json.loads`` could recurse), and refuses the
non-standard constants ``NaN`` and ``Infinity``.

Strict means: no coercion. ``true`` is not the number 1, ``"60000"`` is not a number, ``60.0``
is not an integer count of seconds, an unknown key is an error that lists the known ones.
Python callers may pass ``datetime``/``pandas.Timestamp`` times and numpy scalars; JSON callers
pass ISO-8601 strings and JSON numbers.

Why not pydantic (a dependency of the Polymarket SDK, so installed): its strict mode fits, but
importing it adds ~0.1-0.25 s to every ``price`` command (which the project keeps lean, see
``tests/experiments/cli/test_imports_price.py``), and its error texts would need translating
into the house form (STYLE G13) anyway. The table below is the whole schema.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_duration, parse_utc

__all__ = [
    "CONTRACT_FIELDS",
    "MAX_DEPTH",
    "MAX_SPEC_CHARS",
    "RESOLUTION_FIELDS",
    "check_contract_json",
    "loads_contract",
]

MAX_SPEC_CHARS: Final = 20_000  # a contract is a few hundred characters
MAX_DEPTH: Final = 4  # contract -> resolution -> (nothing deeper is valid)
MAX_PRICE_USD: Final = 1e9  # strikes and barriers: positive and at most $1bn
MAX_MOVE_FRACTION: Final = 10.0  # a move of at most 1000 %
MAX_LIQUIDATIONS_USD: Final = 1e13
MAX_WINDOW: Final = timedelta(days=3660)  # about ten years between start and end
EARLIEST: Final = datetime.fromisoformat("2009-01-03T00:00:00+00:00")  # the first bitcoin block
LATEST: Final = datetime.fromisoformat("2100-01-01T00:00:00+00:00")
_KINDS: Final = (
    "touch",
    "close_above",
    "close_below",
    "range",
    "up_down",
    "first_of",
    "move",
    "liquidations_above",
)
_ASSET: Final = re.compile(r"^[A-Za-z0-9]{1,16}$")
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
_DURATION_TEXT: Final = re.compile(r"^\s*\d{1,7}(?:\.\d{1,6})?\s*(s|m|min|h|d|w)\s*$")


def _show(value: Any) -> str:
    """A short, JSON-like rendering of a value for a message (at most ~80 characters)."""
    try:
        text = json.dumps(value, default=str, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class _Field:
    """One field: what it must be (``rule``, for the message) and the check that says so."""

    rule: str
    check: Callable[[Any], bool]
    nullable: bool = True


def _number(lo: float, hi: float, *, lo_open: bool = True) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(float(value)):
            return False
        v = float(value)
        return (v > lo if lo_open else v >= lo) and v <= hi

    return check


def _integer(lo: int, hi: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return (
            isinstance(value, numbers.Integral)
            and not isinstance(value, bool)
            and (lo <= int(value) <= hi)
        )

    return check


def _choice(options: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in options


def _text(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and pattern.match(value) is not None


def _duration(lo: timedelta, hi: timedelta) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, str) or _DURATION_TEXT.match(value) is None:
            return False
        try:
            delta = parse_duration(value)
        except (ConfigError, OverflowError):
            return False
        return lo <= delta <= hi

    return check


def _time(value: Any) -> bool:
    if isinstance(value, str):
        if len(value) > 40:
            return False
    elif not isinstance(value, datetime):
        return False
    try:
        t = parse_utc(value)
    except (ConfigError, OverflowError, ValueError):
        return False
    return EARLIEST <= t < LATEST


def _price() -> _Field:
    return _Field(f"a positive price in USD at most {MAX_PRICE_USD:g}", _number(0.0, MAX_PRICE_USD))


_TIME_RULE: Final = (
    "an ISO-8601 time with a UTC offset (e.g. 2026-01-15T00:00Z) between 2009-01-03 and 2100"
)
CONTRACT_FIELDS: Final[dict[str, _Field]] = {
    "kind": _Field(f"one of {list(_KINDS)}", _choice(_KINDS), nullable=False),
    "asset": _Field("a ticker of 1-16 letters or digits such as BTC", _text(_ASSET), False),
    "direction": _Field("'up', 'down' or null", _choice(("up", "down"))),
    "strike_usd": _price(),
    "lower_usd": _price(),
    "upper_usd": _price(),
    "threshold": _Field(
        f"a positive number (move: a fraction at most {MAX_MOVE_FRACTION:g}; "
        f"liquidations_above: USD at most {MAX_LIQUIDATIONS_USD:g})",
        _number(0.0, MAX_LIQUIDATIONS_USD),
    ),
    "side": _Field("'long', 'short', 'total' or null", _choice(("long", "short", "total"))),
    "monitoring": _Field(
        "'terminal', 'continuous', 'discrete' or null",
        _choice(("terminal", "continuous", "discrete")),
    ),
    "start": _Field(_TIME_RULE, _time),
    "end": _Field(_TIME_RULE, _time),
    "resolution": _Field("an object", lambda value: isinstance(value, Mapping)),
}
RESOLUTION_FIELDS: Final[dict[str, _Field]] = {
    "source": _Field(
        "a source name of 1-64 letters, digits or ._:/- such as binance-spot", _text(_NAME)
    ),
    "price": _Field(
        "'high', 'low', 'close' or 'average'", _choice(("high", "low", "close", "average"))
    ),
    "symbol": _Field("a symbol of 1-64 letters, digits or ._:/- such as BTCUSDT", _text(_NAME)),
    "interval": _Field(
        "a duration from 1s to 7d such as 1m or 1h",
        _duration(timedelta(seconds=1), timedelta(days=7)),
    ),
    "average_secs": _Field("an integer number of seconds from 1 to 86400", _integer(1, 86_400)),
    "discrete_every": _Field(
        "a duration from 1m to 31d such as 1d",
        _duration(timedelta(minutes=1), timedelta(days=31)),
    ),
    "neither_value": _Field("a number within [0, 1]", _number(0.0, 1.0, lo_open=False)),
    "tie_value": _Field("a number within [0, 1]", _number(0.0, 1.0, lo_open=False)),
}


def _check_object(data: Any, fields: Mapping[str, _Field], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a JSON object; found {_show(data)}")
    unknown = sorted(str(k) for k in data if k not in fields)
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {unknown}; known: {sorted(fields)}")
    prefix = "" if where == "contract" else f"{where}."
    for name, spec in fields.items():
        if name not in data:
            continue
        value = data[name]
        if value is None:
            if spec.nullable:
                continue
            raise ConfigError(f"{prefix}{name} must be {spec.rule}; found null")
        if not spec.check(value):
            raise ConfigError(f"{prefix}{name} must be {spec.rule}; found {_show(value)}")


def check_contract_json(data: Any) -> None:
    """Check a (partial) §3 contract object strictly; raise at the first breach.

    Checks types, ranges and known keys of every field and of ``resolution``, a move threshold
    of at most ``MAX_MOVE_FRACTION``, and a window of at most ``MAX_WINDOW`` when both ``start``
    and ``end`` are given. Cross-field rules that need the defaults (end after start, lower
    below upper, fields a kind does not use) are ``Contract``'s.

    Raises
    ------
    ConfigError
        ``<field> must be <rule>; found <value>``, or the unknown keys with the known ones.
    """
    _check_object(data, CONTRACT_FIELDS, "contract")
    for name in ("kind", "asset"):
        if name not in data:
            raise ConfigError(f"{name} is required in a contract; found no {name!r} key")
    resolution = data.get("resolution")
    if resolution is not None:
        _check_object(resolution, RESOLUTION_FIELDS, "resolution")
    threshold = data.get("threshold")
    if data["kind"] == "move" and threshold is not None and threshold > MAX_MOVE_FRACTION:
        raise ConfigError(
            f"threshold of a move must be a fraction at most {MAX_MOVE_FRACTION:g} "
            f"(0.05 = 5%); found {_show(threshold)}"
        )
    if data.get("start") is not None and data.get("end") is not None:
        span = parse_utc(data["end"]) - parse_utc(data["start"])
        if span > MAX_WINDOW:
            raise ConfigError(
                f"end must be at most {MAX_WINDOW.days} days after start; found "
                f"{span.days} days ({data['start']} to {data['end']})"
            )


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> float:
    raise ConfigError(f"spec must be standard JSON numbers; found {name}")


def loads_contract(text: str) -> Any:
    """Decode a contract JSON text with bounds: at most ``MAX_SPEC_CHARS`` characters and
    ``MAX_DEPTH`` levels of nesting, no ``NaN``/``Infinity``; then ``check_contract_json``.

    Raises
    ------
    ConfigError
        Too long, too deep, not JSON, or breaking the schema.
    """
    if not isinstance(text, str):
        raise ConfigError(f"spec must be a JSON text; found {type(text).__name__}")
    if len(text) > MAX_SPEC_CHARS:
        raise ConfigError(
            f"spec must be at most {MAX_SPEC_CHARS:,} characters; found {len(text):,}"
        )
    deepest = _depth(text)
    if deepest > MAX_DEPTH:
        raise ConfigError(
            f"spec must nest at most {MAX_DEPTH} levels of objects/arrays; found {deepest}"
        )
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"spec is not valid JSON ({e.msg} at char {e.pos}); found {_show(text)}"
        ) from e
    check_contract_json(data)
    return data
