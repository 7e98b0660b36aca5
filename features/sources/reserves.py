"""Exchange coin reserves (APIS.md §4): a provider Protocol, CryptoQuant and Glassnode clients and a
CSV import, all returning ``exchange_reserves`` rows; the keyless DefiLlama provider is
``features.sources.defillama`` and is configured by default (``reserve_providers``).

Keys come ONLY from the environment (``LEVERCAST_CRYPTOQUANT_KEY``, ``LEVERCAST_GLASSNODE_KEY``);
they are sent as a header (CryptoQuant) or a query parameter the HTTP client redacts (Glassnode),
and never stored. These providers revise history when wallets are re-labelled, so every row
carries ``fetched_at`` (when the value was fetched); ``ts`` = day start and ``available_at`` =
``ts`` + 1 day as in the dataset. The CryptoQuant value key (``reserve``) and Glassnode's daily
resolution ``24h`` follow the documentation but are [UNVERIFIED] against live responses.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import pandas as pd

from levercast.features.errors import ConfigError, DataError
from levercast.features.http import HttpClient
from levercast.features.sources.decode import (
    Clock,
    field,
    frame,
    http_from_env,
    number_field,
    rows_of,
    utc_now,
)
from levercast.features.sources.defillama import DefiLlamaReserves, defillama_exchanges

__all__ = [
    "RESERVE_COLUMNS",
    "CryptoQuantReserves",
    "CsvReserves",
    "GlassnodeReserves",
    "ReserveProvider",
    "reserve_providers",
]

RESERVE_COLUMNS: Final = ["source", "asset", "ts", "available_at", "reserve_base", "fetched_at"]
CRYPTOQUANT_URL: Final = "https://api.cryptoquant.com"
GLASSNODE_URL: Final = "https://api.glassnode.com"


class ReserveProvider(Protocol):
    """A source of daily exchange reserves (coins held on exchange wallets)."""

    source: str

    def reserves(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """``exchange_reserves`` rows with day start in ``[since, until)``."""
        ...


def _key(env_var: str) -> str:
    value = os.environ.get(env_var, "").strip()
    if not value:
        raise ConfigError(f"{env_var} must be set to use this provider; found it unset")
    return value


def _rows(
    source: str,
    asset: str,
    points: list[tuple[pd.Timestamp, float]],
    fetched: datetime,
    since: datetime,
    until: datetime,
) -> pd.DataFrame:
    day = pd.Timedelta("1D")
    records = [
        {
            "source": source,
            "asset": asset,
            "ts": ts,
            "available_at": ts + day,
            "reserve_base": value,
            "fetched_at": fetched,
        }
        for ts, value in points
        if since <= ts < until and value == value  # drop NaN points
    ]
    return frame(records, columns=RESERVE_COLUMNS)


class CryptoQuantReserves:
    """CryptoQuant ``{asset}/exchange-flows/reserve`` (all exchanges, daily; Bearer key)."""

    source: Final = "cryptoquant"

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self.http = http or http_from_env(
            "cryptoquant",
            "LEVERCAST_CRYPTOQUANT_URL",
            CRYPTOQUANT_URL,
            headers={"Authorization": f"Bearer {_key('LEVERCAST_CRYPTOQUANT_KEY')}"},
        )
        self._now = now

    def reserves(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Daily all-exchange reserves in coins."""
        path = f"/v1/{asset.lower()}/exchange-flows/reserve"
        source = f"cryptoquant {path}"
        params = {
            "exchange": "all_exchange",
            "window": "day",
            "from": f"{since:%Y%m%d}",
            "to": f"{until:%Y%m%d}",
            "limit": 100000,
            "format": "json",
        }
        payload = self.http.get_json(path, params)
        data = rows_of(field(payload, "result", source=source), "data", source=source)
        points = []
        for row in data:
            try:
                ts = pd.Timestamp(str(field(row, "date", source=source))[:10], tz="UTC")
            except ValueError as e:
                raise DataError(f"{source}: date must be YYYY-MM-DD; found {row!r}"[:200]) from e
            points.append((ts, number_field(row, "reserve", source=source)))
        return _rows(self.source, asset, points, self._now(), since, until)


class GlassnodeReserves:
    """Glassnode ``distribution/balance_exchanges`` (daily, native units; ``api_key`` param)."""

    source: Final = "glassnode"

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self._api_key = _key("LEVERCAST_GLASSNODE_KEY")
        self.http = http or http_from_env("glassnode", "LEVERCAST_GLASSNODE_URL", GLASSNODE_URL)
        self._now = now

    def reserves(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Daily exchange balances in coins."""
        path = "/v1/metrics/distribution/balance_exchanges"
        source = f"glassnode {path}"
        params = {
            "a": asset.upper(),
            "i": "24h",
            "s": int(since.timestamp()),
            "u": int(until.timestamp()),
            "f": "json",
            "c": "native",
            "api_key": self._api_key,
        }
        points = []
        for row in rows_of(self.http.get_json(path, params), source=source):
            seconds = number_field(row, "t", source=source)
            ts = pd.Timestamp(int(seconds), unit="s", tz="UTC").floor("D")
            points.append((ts, number_field(row, "v", source=source)))
        return _rows(self.source, asset, points, self._now(), since, until)


class CsvReserves:
    """A CSV of daily reserves: a date column (``date`` or ``ts``) and ``reserve_base``
    (or ``reserve``/``value``); an optional ``asset`` column selects rows."""

    def __init__(self, path: str | Path, *, source: str = "csv", now: Clock = utc_now) -> None:
        self.path = Path(path)
        self.source = source
        self._now = now

    def reserves(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Rows of the file for ``asset`` with day start in ``[since, until)``."""
        try:
            raw = pd.read_csv(self.path)
        except (OSError, ValueError) as e:
            raise DataError(f"reserves CSV {self.path}: cannot read ({e})") from e
        date_col = next((c for c in ("date", "ts") if c in raw.columns), None)
        value_col = next((c for c in ("reserve_base", "reserve", "value") if c in raw), None)
        if date_col is None or value_col is None:
            raise DataError(
                f"reserves CSV {self.path}: columns must include date|ts and "
                f"reserve_base|reserve|value; found {list(raw.columns)}"
            )
        if "asset" in raw.columns:
            raw = raw[raw["asset"].astype(str).str.upper() == asset.upper()]
        try:
            days = pd.to_datetime(raw[date_col].astype(str).str[:10], utc=True)
            values = pd.to_numeric(raw[value_col], errors="raise")
        except (ValueError, TypeError) as e:
            raise DataError(
                f"reserves CSV {self.path}: {date_col}/{value_col} must be dates and numbers ({e})"
            ) from e
        return _rows(
            self.source,
            asset,
            list(zip(days, values.astype(float), strict=True)),
            self._now(),
            since,
            until,
        )


def reserve_providers(now: Clock = utc_now) -> list[Any]:
    """The providers configured in the environment, in preference order.

    CryptoQuant when ``LEVERCAST_CRYPTOQUANT_KEY`` is set, Glassnode when
    ``LEVERCAST_GLASSNODE_KEY`` is set, a CSV when ``LEVERCAST_RESERVES_CSV`` names a file, and
    DefiLlama (no key) unless ``LEVERCAST_DEFILLAMA_EXCHANGES`` is ``none``. ``now`` is the clock
    of the providers that stamp the fetch time.
    """
    env = os.environ
    providers: list[Any] = []
    if env.get("LEVERCAST_CRYPTOQUANT_KEY"):
        providers.append(CryptoQuantReserves(now=now))
    if env.get("LEVERCAST_GLASSNODE_KEY"):
        providers.append(GlassnodeReserves(now=now))
    if env.get("LEVERCAST_RESERVES_CSV"):
        providers.append(CsvReserves(env["LEVERCAST_RESERVES_CSV"], now=now))
    if defillama_exchanges():
        providers.append(DefiLlamaReserves(now=now))
    return providers
