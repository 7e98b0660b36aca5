"""Decoding of venue payloads into the dataset's table frames, shared by every source client.

Conventions (``../shared/data/README.md``): ``ts`` is the time a row describes (a bar's open, an
observation time, a funding time) and ``available_at`` the earliest time its value was known.
Snapshot series (open interest, long/short ratios) are stamped ``ts`` = the venue's timestamp and
``available_at`` = ``ts`` + the sampling period: exact when the venue stamps a period's start and
conservative when it stamps the end. A payload that lacks a documented field or carries a
non-number where a number belongs raises ``DataError`` naming the source, the field and the value
(schema drift), never a ``KeyError`` deep inside pandas.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pandas as pd

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.features.http import HttpClient, HttpSettings

__all__ = [
    "INTERVALS",
    "Clock",
    "check_envelope",
    "field",
    "frame",
    "http_from_env",
    "ms",
    "number",
    "rows_of",
    "to_utc",
    "utc_now",
]

Clock = Callable[[], datetime]

INTERVALS: Final[dict[str, timedelta]] = {
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}


def utc_now() -> datetime:
    """The current time, tz-aware UTC (the default clock of every client)."""
    return datetime.now(UTC)


def ms(t: datetime) -> int:
    """Milliseconds since the epoch of a tz-aware time."""
    if t.tzinfo is None:
        raise ConfigError(f"time must be tz-aware UTC; found naive {t.isoformat()}")
    return int(t.timestamp() * 1000)


def to_utc(value: Any, *, source: str, name: str) -> pd.Timestamp:
    """A millisecond epoch (int or numeric string) as a UTC ``Timestamp``.

    Raises
    ------
    DataError
        When the value is not a millisecond epoch.
    """
    number_ms = number(value, source=source, name=name)
    if not 1e11 < number_ms < 1e14:  # between 1973 and 5138: milliseconds, not s or us
        raise DataError(f"{source}: {name} must be a millisecond epoch; found {value!r}")
    return pd.Timestamp(int(number_ms), unit="ms", tz="UTC")


def number(value: Any, *, source: str, name: str) -> float:
    """A finite-or-NaN float from a venue number or numeric string.

    Raises
    ------
    DataError
        When the value is missing, boolean or not numeric (schema drift).
    """
    if isinstance(value, bool) or value is None:
        raise DataError(f"{source}: {name} must be a number; found {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError) as e:
        raise DataError(f"{source}: {name} must be a number; found {value!r}") from e
    if math.isinf(out):
        raise DataError(f"{source}: {name} must be finite; found {value!r}")
    return out


def field(obj: Any, key: str | int, *, source: str) -> Any:
    """``obj[key]`` from a JSON object or array, or a ``DataError`` naming what is missing."""
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError) as e:
        shown = sorted(obj) if isinstance(obj, Mapping) else f"{type(obj).__name__} {obj!r}"[:120]
        raise DataError(f"{source}: field {key!r} must be present; found {shown}") from e


def number_field(obj: Any, key: str | int, *, source: str, name: str | None = None) -> float:
    """``number(field(obj, key))``: a required numeric field (errors name source and field)."""
    return number(field(obj, key, source=source), source=source, name=name or str(key))


def rows_of(payload: Any, *path: str | int, source: str) -> list[Any]:
    """The list at ``payload[path...]``; a ``DataError`` when it is absent or not a list."""
    node = payload
    for key in path:
        node = field(node, key, source=source)
    if not isinstance(node, list):
        raise DataError(
            f"{source}: {'.'.join(map(str, path)) or 'body'} must be a list; "
            f"found {type(node).__name__}"
        )
    return node


def check_envelope(payload: Any, *, source: str, code_key: str, ok: Iterable[Any]) -> None:
    """Raise ``MarketUnavailable`` when a venue's envelope reports an error code."""
    code = field(payload, code_key, source=source)
    if code not in set(ok):
        message = payload.get("retMsg") or payload.get("msg") or payload.get("message") or ""
        raise MarketUnavailable(f"{source}: venue returned {code_key}={code!r}: {message}")


def frame(records: Sequence[Mapping[str, Any]], *, columns: Sequence[str]) -> pd.DataFrame:
    """A table frame from decoded records, deduplicated on ``ts`` (last wins) and sorted.

    String columns become pandas ``string``; ``ts``/``available_at`` stay UTC timestamps.
    """
    out = pd.DataFrame(list(records), columns=list(columns))
    for column in out.columns:
        if column in {"ts", "available_at", "fetched_at"}:
            out[column] = pd.to_datetime(out[column], utc=True)
        elif out[column].dtype == object:
            out[column] = out[column].astype("string")
    key = [c for c in ("venue", "source", "asset", "interval", "metric", "ts") if c in out]
    if not out.empty:
        out = out.drop_duplicates(key, keep="last").sort_values(key, kind="stable")
    return out.reset_index(drop=True)


def http_from_env(
    name: str,
    env_var: str,
    default_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    **settings: Any,
) -> HttpClient:
    """An ``HttpClient`` for ``default_url``, overridable by the environment variable ``env_var``.

    Tests and mirrors point a client at another server by setting e.g.
    ``LEVERCAST_BINANCE_FAPI_URL=http://127.0.0.1:8080``; ``LEVERCAST_HTTP_DEADLINE_SECS`` and
    ``LEVERCAST_HTTP_TIMEOUT_SECS`` set the total deadline of a call and the bound of one read
    (``settings`` given here win). ``headers`` (API keys) go only to that URL's origin.

    Raises
    ------
    ConfigError
        A malformed URL (shown without credentials) or header value (not shown).
    """
    base_url = os.environ.get(env_var) or default_url
    try:
        config = HttpSettings(base_url=base_url, **settings)
    except ConfigError as e:
        raise ConfigError(f"{env_var}: {e}") from e
    return HttpClient(config, name=name, headers=headers)


def funding_frame(
    rows: Iterable[Any],
    *,
    venue: str,
    asset: str,
    time_key: str,
    source: str,
    columns: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """Funding rows (8-hour interval, ``available_at`` = ``ts`` snapped to the minute) from venue
    records carrying ``time_key`` (epoch ms) and ``fundingRate``; rows outside ``[since, until)``
    are dropped when the bounds are given."""
    records = []
    for row in rows:
        ts = to_utc(field(row, time_key, source=source), source=source, name=time_key).round("min")
        if (since is not None and ts < since) or (until is not None and ts >= until):
            continue
        rate = number_field(row, "fundingRate", source=source)
        records.append(
            {"venue": venue, "asset": asset, "ts": ts, "available_at": ts, "rate": rate,
             "interval_hours": 8}
        )  # fmt: skip
    out = frame(records, columns=columns)
    out["interval_hours"] = out["interval_hours"].astype("int64")
    return out
