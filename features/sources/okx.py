"""OKX v5 public REST (``https://www.okx.com``, no key), USDT swaps (APIS.md §3.4).

Venue name ``okx``. Arrays come newest first and are walked backwards: candles and funding with
``after`` (rows older than a time), the rubik statistics with ``end`` (exclusive). Candle volume is
``volCcy`` (coins for derivatives; the candle shape is [UNVERIFIED]); unconfirmed candles
(``confirm`` = "0") are dropped. Rubik open interest rows are ``[ts, contracts, coins, usd]``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.http import HttpClient, PageGuard
from levercast.features.sources.binance import (
    CANDLE_COLUMNS,
    FUNDING_COLUMNS,
    MAX_PAGES,
    OI_COLUMNS,
    RATIO_COLUMNS,
)
from levercast.features.sources.decode import (
    INTERVALS,
    Clock,
    check_envelope,
    field,
    frame,
    funding_frame,
    http_from_env,
    ms,
    number,
    number_field,
    rows_of,
    to_utc,
    utc_now,
)

__all__ = ["OKX_URL", "OkxClient", "okx_instrument"]

OKX_URL: Final = "https://www.okx.com"
_BAR: Final = {"5m": "5m", "15m": "15m", "30m": "30m", "1h": "1H", "4h": "4H", "1d": "1Dutc"}
_RUBIK_PERIOD: Final = {"5m": "5m", "1h": "1H", "1d": "1D"}


def okx_instrument(asset: str) -> str:
    """``BTC`` -> ``BTC-USDT-SWAP``."""
    if not asset.isalnum():
        raise ConfigError(f"asset must be alphanumeric such as BTC; found {asset!r}")
    return f"{asset.upper()}-USDT-SWAP"


class OkxClient:
    """OKX v5 client returning store-format frames (``$LEVERCAST_OKX_URL`` overrides the host).

    Parameters
    ----------
    http
        Retrying client.
    now
        Clock used to drop candles that have not closed.
    """

    venue: Final = "okx"

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self.http = http or http_from_env(
            "okx", "LEVERCAST_OKX_URL", OKX_URL, min_interval_secs=0.25
        )
        self._now = now

    def _data(self, path: str, params: dict[str, Any]) -> list[Any]:
        source = f"okx {path}"
        payload = self.http.get_json(path, params)
        check_envelope(payload, source=source, code_key="code", ok=["0", 0])
        return rows_of(payload, "data", source=source)

    def _walk_back(
        self,
        path: str,
        params: dict[str, Any],
        since: datetime,
        until: datetime,
        *,
        cursor_key: str,
        stamp_key: str | int,
        limit: int,
    ) -> list[Any]:
        source = f"okx {path}"
        cursor = ms(until)
        out: list[Any] = []
        guard = PageGuard(source, max_pages=MAX_PAGES)
        while True:
            page = self._data(path, {**params, cursor_key: cursor, "limit": limit})
            if not page:
                break
            out.extend(page)
            oldest = min(
                int(number(field(r, stamp_key, source=source), source=source, name=str(stamp_key)))
                for r in page
            )
            if oldest <= ms(since):
                break
            if oldest >= cursor:
                guard.stop(f"a page's oldest row {oldest} is not before its {cursor_key} {cursor}")
            cursor = oldest
            guard.advance(cursor, page)
        return out

    def candles(
        self, asset: str, *, interval: str, since: datetime, until: datetime
    ) -> pd.DataFrame:
        """Confirmed candles opening in ``[since, until)`` from ``history-candles``."""
        step = INTERVALS[interval]
        path = "/api/v5/market/history-candles"
        source = f"okx {path}"
        rows = self._walk_back(
            path,
            {"instId": okx_instrument(asset), "bar": _BAR[interval]},
            since,
            until,
            cursor_key="after",
            stamp_key=0,
            limit=100,
        )
        now = self._now()
        records = []
        for row in rows:
            ts = to_utc(field(row, 0, source=source), source=source, name="ts")
            confirmed = str(row[8]) != "0" if len(row) > 8 else True
            if not confirmed or ts + step > now or not since <= ts < until:
                continue
            values = {
                name: number_field(row, i, source=source, name=name)
                for i, name in [
                    (1, "open"),
                    (2, "high"),
                    (3, "low"),
                    (4, "close"),
                    (6, "volume_base"),
                ]
            }
            records.append(
                {
                    "venue": self.venue,
                    "asset": asset,
                    "interval": interval,
                    "ts": ts,
                    "available_at": ts + step,
                    **values,
                }
            )
        return frame(records, columns=CANDLE_COLUMNS)

    def _rubik(
        self, path: str, asset: str, since: datetime, until: datetime, period: str
    ) -> list[Any]:
        if period not in _RUBIK_PERIOD:
            raise ConfigError(
                f"period must be one of {sorted(_RUBIK_PERIOD)} for OKX rubik "
                f"statistics; found {period!r}"
            )
        params = {
            "instId": okx_instrument(asset),
            "period": _RUBIK_PERIOD[period],
            "begin": ms(since) - 1,
        }
        return self._walk_back(path, params, since, until, cursor_key="end", stamp_key=0, limit=100)

    def _rubik_records(
        self,
        path: str,
        asset: str,
        since: datetime,
        until: datetime,
        period: str,
        values: Callable[[Any, str], dict[str, Any]],
    ) -> list[dict[str, Any]]:
        """Rows of a rubik series inside ``[since, until)``: key columns plus ``values(row)``."""
        step = INTERVALS[period]
        source = f"okx {path}"
        records = []
        for row in self._rubik(path, asset, since, until, period):
            ts = to_utc(field(row, 0, source=source), source=source, name="ts")
            if since <= ts < until:
                records.append(
                    {"venue": self.venue, "asset": asset, "ts": ts, "available_at": ts + step}
                    | values(row, source)
                )
        return records

    def open_interest(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> pd.DataFrame:
        """Rubik open-interest history (coins and USD)."""
        records = self._rubik_records(
            "/api/v5/rubik/stat/contracts/open-interest-history", asset, since, until, period,
            lambda row, source: {
                "oi_base": number_field(row, 2, source=source, name="oi_ccy"),
                "oi_usd": number_field(row, 3, source=source, name="oi_usd"),
            },
        )  # fmt: skip
        return frame(records, columns=OI_COLUMNS)

    def ratios(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> pd.DataFrame:
        """``global_account_ratio`` from ``long-short-account-ratio-contract``."""
        records = self._rubik_records(
            "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract", asset, since, until,
            period,
            lambda row, source: {
                "metric": "global_account_ratio",
                "value": number_field(row, 1, source=source, name="ratio"),
            },
        )  # fmt: skip
        return frame(records, columns=RATIO_COLUMNS)

    def funding(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Funding-rate history (``interval_hours`` 8, ``available_at`` = ``ts``)."""
        path = "/api/v5/public/funding-rate-history"
        source = f"okx {path}"
        rows = self._walk_back(
            path,
            {"instId": okx_instrument(asset)},
            since,
            until,
            cursor_key="after",
            stamp_key="fundingTime",
            limit=100,
        )
        return funding_frame(
            rows,
            venue=self.venue,
            asset=asset,
            time_key="fundingTime",
            source=source,
            columns=FUNDING_COLUMNS,
            since=since,
            until=until,
        )
