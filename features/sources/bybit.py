"""Bybit v5 public REST (``https://api.bybit.com``, no key), USDT linear perpetuals (APIS.md §3.3).

Venue name ``bybit`` in every table (the dataset's Bybit open interest uses it). Lists come newest
first; every endpoint is walked backwards from ``until``. Open interest pages with
``nextPageCursor``; ``openInterest`` is in coins for linear contracts, and ``oi_usd`` is coins x
the **mark price**: the close of the ``/v5/market/mark-price-kline`` bar of the same period that
starts at the observation's period start (the dataset's convention: "``oi_usd`` uses the close of
the hour that starts at ``ts``", and ``available_at`` = ``ts`` + period is when that close is
known). Observations whose mark bar has not closed yet are left for the next fetch; a closed
period without a mark bar keeps ``oi_usd`` NaN.
The account ratio (``global_account_ratio`` = buyRatio / sellRatio) accepts ``startTime``/
``endTime`` per ccxt, which is [UNVERIFIED]: when the venue ignores them the walk stops as soon as
a page brings nothing older.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import pandas as pd

from levercast.features.http import HttpClient, PageGuard
from levercast.features.sources.binance import (
    CANDLE_COLUMNS,
    FUNDING_COLUMNS,
    MAX_PAGES,
    OI_COLUMNS,
    RATIO_COLUMNS,
    binance_symbol,
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
    number_field,
    rows_of,
    to_utc,
    utc_now,
)

__all__ = ["BYBIT_URL", "BybitClient"]

BYBIT_URL: Final = "https://api.bybit.com"
_KLINE_INTERVAL: Final = {"5m": "5", "15m": "15", "30m": "30", "1h": "60", "4h": "240", "1d": "D"}
_OI_INTERVAL: Final = {
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "1h": "1h",
    "4h": "4h",
    "1d": "1d",
}


class BybitClient:
    """Bybit v5 client returning store-format frames (``$LEVERCAST_BYBIT_URL`` overrides the host).

    Parameters
    ----------
    http
        Retrying client.
    now
        Clock used to drop bars that have not closed yet.
    """

    venue: Final = "bybit"

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self.http = http or http_from_env(
            "bybit", "LEVERCAST_BYBIT_URL", BYBIT_URL, min_interval_secs=0.1
        )
        self._now = now

    def _list(self, path: str, params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        source = f"bybit {path}"
        payload = self.http.get_json(path, params)
        check_envelope(payload, source=source, code_key="retCode", ok=[0])
        result = field(payload, "result", source=source)
        return rows_of(result, "list", source=source), result

    def _walk_back(
        self,
        path: str,
        params: dict[str, Any],
        since: datetime,
        until: datetime,
        *,
        limit: int,
        keys: tuple[str, str],
        stamp: Callable[[Any], int],
    ) -> list[Any]:
        """Newest-first pages: move the end key below the oldest row until ``since``."""
        start_key, end_key = keys
        end = ms(until) - 1
        out: list[Any] = []
        guard = PageGuard(f"bybit {path}", max_pages=MAX_PAGES)
        while True:
            page, _ = self._list(
                path, {**params, start_key: ms(since), end_key: end, "limit": limit}
            )
            if not page:
                break
            out.extend(page)
            oldest = min(stamp(row) for row in page)
            if oldest <= ms(since) or len(page) < limit:
                break
            if oldest > end:
                guard.stop(f"a full page's oldest row {oldest} is after its {end_key} {end}")
            end = oldest - 1
            guard.advance(end, page)
        return out

    def candles(
        self, asset: str, *, interval: str, since: datetime, until: datetime
    ) -> pd.DataFrame:
        """Closed linear klines opening in ``[since, until)`` (``volume_base`` in coins)."""
        step = INTERVALS[interval]
        source = "bybit /v5/market/kline"
        params = {
            "category": "linear",
            "symbol": binance_symbol(asset),
            "interval": _KLINE_INTERVAL[interval],
        }
        rows = self._walk_back(
            "/v5/market/kline",
            params,
            since,
            until,
            limit=1000,
            keys=("start", "end"),
            stamp=lambda r: int(number_field(r, 0, source=source, name="startTime")),
        )
        now = self._now()
        records = []
        for row in rows:
            ts = to_utc(field(row, 0, source=source), source=source, name="startTime")
            if ts + step > now or not pd.Timestamp(since) <= ts < pd.Timestamp(until):
                continue
            records.append(
                {
                    "venue": self.venue,
                    "asset": asset,
                    "interval": interval,
                    "ts": ts,
                    "available_at": ts + step,
                    **{
                        name: number_field(row, i, source=source, name=name)
                        for i, name in enumerate(
                            ["open", "high", "low", "close", "volume_base"], start=1
                        )
                    },
                }
            )
        return frame(records, columns=CANDLE_COLUMNS)

    def open_interest(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> pd.DataFrame:
        """Open interest (coins) walking the cursor backwards from ``until``."""
        step = INTERVALS[period]
        path = "/v5/market/open-interest"
        source = f"bybit {path}"
        params: dict[str, Any] = {
            "category": "linear",
            "symbol": binance_symbol(asset),
            "intervalTime": _OI_INTERVAL[period],
            "startTime": ms(since),
            "endTime": ms(until) - 1,
            "limit": 200,
        }
        records = []
        guard = PageGuard(source, max_pages=MAX_PAGES)
        while True:
            page, result = self._list(path, params)
            for row in page:
                ts = to_utc(field(row, "timestamp", source=source), source=source, name="timestamp")
                if pd.Timestamp(since) <= ts < pd.Timestamp(until):
                    records.append(
                        {
                            "venue": self.venue,
                            "asset": asset,
                            "ts": ts,
                            "available_at": ts + step,
                            "oi_base": number_field(
                                row, "openInterest", source=source, name="openInterest"
                            ),
                        }
                    )
            cursor = str(result.get("nextPageCursor") or "")
            if not page or not cursor:
                break
            guard.advance(cursor, page)
            params = {**params, "cursor": cursor}
        if not records:
            return frame(records, columns=OI_COLUMNS)
        starts = [r["ts"].floor(step) for r in records]
        marks = self.mark_closes(asset, since=min(starts), until=max(starts) + step, period=period)
        now = pd.Timestamp(self._now())
        out = []
        for record, start in zip(records, starts, strict=True):
            if start + step > now:
                continue  # the mark bar is still open: fetched again next time
            out.append({**record, "oi_usd": record["oi_base"] * marks.get(start, float("nan"))})
        return frame(out, columns=OI_COLUMNS)

    def mark_closes(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> dict[pd.Timestamp, float]:
        """Mark-price closes of the linear perpetual's bars opening in ``[since, until)``, by bar
        open (``/v5/market/mark-price-kline``: rows ``[startTime, open, high, low, close]``).

        Raises
        ------
        DataError
            A row of the wrong shape or with non-numeric fields.
        MarketUnavailable
            The venue failed after retries.
        """
        source = "bybit /v5/market/mark-price-kline"
        params = {
            "category": "linear",
            "symbol": binance_symbol(asset),
            "interval": _KLINE_INTERVAL[period],
        }
        rows = self._walk_back(
            "/v5/market/mark-price-kline",
            params,
            since,
            until,
            limit=1000,
            keys=("start", "end"),
            stamp=lambda r: int(number_field(r, 0, source=source, name="startTime")),
        )
        return {
            to_utc(field(row, 0, source=source), source=source, name="startTime"): number_field(
                row, 4, source=source, name="close"
            )
            for row in rows
        }

    def funding(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Funding history (``interval_hours`` 8, ``available_at`` = ``ts``)."""
        source = "bybit /v5/market/funding/history"
        rows = self._walk_back(
            "/v5/market/funding/history",
            {"category": "linear", "symbol": binance_symbol(asset)},
            since,
            until,
            limit=200,
            keys=("startTime", "endTime"),
            stamp=lambda r: int(number_field(r, "fundingRateTimestamp", source=source)),
        )
        return funding_frame(
            rows,
            venue=self.venue,
            asset=asset,
            time_key="fundingRateTimestamp",
            source=source,
            columns=FUNDING_COLUMNS,
        )

    def ratios(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> pd.DataFrame:
        """``global_account_ratio`` = buyRatio / sellRatio from ``account-ratio``."""
        step = INTERVALS[period]
        source = "bybit /v5/market/account-ratio"
        rows = self._walk_back(
            "/v5/market/account-ratio",
            {"category": "linear", "symbol": binance_symbol(asset), "period": _OI_INTERVAL[period]},
            since,
            until,
            limit=500,
            keys=("startTime", "endTime"),
            stamp=lambda r: int(number_field(r, "timestamp", source=source)),
        )
        records = []
        for row in rows:
            ts = to_utc(field(row, "timestamp", source=source), source=source, name="timestamp")
            buy = number_field(row, "buyRatio", source=source)
            sell = number_field(row, "sellRatio", source=source)
            if sell <= 0 or not pd.Timestamp(since) <= ts < pd.Timestamp(until):
                continue
            records.append(
                {
                    "venue": self.venue,
                    "asset": asset,
                    "ts": ts,
                    "available_at": ts + step,
                    "metric": "global_account_ratio",
                    "value": buy / sell,
                }
            )
        return frame(records, columns=RATIO_COLUMNS)
