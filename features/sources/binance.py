"""Binance USD-M futures REST (``https://fapi.binance.com``, no key): klines, funding, open
interest history and the long/short and taker ratios (APIS.md §3.1).

Venue names in the store: candles ``binance-usdm`` (the dataset also holds Binance spot candles);
every other table ``binance`` (the dataset's funding venue). ``openInterestHist`` and the ratio
endpoints keep only about 30 days; deeper history comes from ``binance_archive``. Ratio metrics:
``top_position_ratio``, ``top_account_ratio``, ``global_account_ratio`` (snapshots) and
``taker_buy_sell_ratio_<period>`` (volume ratio over a bucket, so the bucket is in the name).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.http import HttpClient, PageGuard
from levercast.features.sources.decode import (
    INTERVALS,
    Clock,
    field,
    frame,
    http_from_env,
    ms,
    number,
    number_field,
    rows_of,
    to_utc,
    utc_now,
)

__all__ = ["BINANCE_FAPI_URL", "BinanceClient", "binance_symbol"]

BINANCE_FAPI_URL: Final = "https://fapi.binance.com"
KLINE_LIMIT: Final = 1500
DATA_LIMIT: Final = 500
FUNDING_LIMIT: Final = 1000
REST_HISTORY: Final = timedelta(days=29)  # the futures/data endpoints keep about 30 days
MAX_PAGES: Final = 10_000

CANDLE_COLUMNS: Final = [
    "venue",
    "asset",
    "interval",
    "ts",
    "available_at",
    "open",
    "high",
    "low",
    "close",
    "volume_base",
]
OI_COLUMNS: Final = ["venue", "asset", "ts", "available_at", "oi_base", "oi_usd"]
RATIO_COLUMNS: Final = ["venue", "asset", "ts", "available_at", "metric", "value"]
FUNDING_COLUMNS: Final = ["venue", "asset", "ts", "available_at", "rate", "interval_hours"]

_RATIO_ENDPOINTS: Final = {
    "top_position_ratio": "/futures/data/topLongShortPositionRatio",
    "top_account_ratio": "/futures/data/topLongShortAccountRatio",
    "global_account_ratio": "/futures/data/globalLongShortAccountRatio",
}


def binance_symbol(asset: str) -> str:
    """``BTC`` -> ``BTCUSDT`` (the USD-M perpetual)."""
    if not asset.isalnum():
        raise ConfigError(f"asset must be alphanumeric such as BTC; found {asset!r}")
    return f"{asset.upper()}USDT"


def _interval(interval: str) -> timedelta:
    if interval not in INTERVALS:
        raise ConfigError(f"interval must be one of {sorted(INTERVALS)}; found {interval!r}")
    return INTERVALS[interval]


class BinanceClient:
    """Binance USD-M REST client returning store-format frames.

    Parameters
    ----------
    http
        Retrying client (default: ``fapi.binance.com``, or ``$LEVERCAST_BINANCE_FAPI_URL``).
    now
        Clock used to drop bars that have not closed yet and to clamp the 30-day endpoints.
    """

    venue: Final = "binance"
    candle_venue: Final = "binance-usdm"

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self.http = http or http_from_env(
            "binance", "LEVERCAST_BINANCE_FAPI_URL", BINANCE_FAPI_URL, min_interval_secs=0.2
        )
        self._now = now

    def candles(
        self, asset: str, *, interval: str, since: datetime, until: datetime
    ) -> pd.DataFrame:
        """Closed klines opening in ``[since, until)``; ``ts`` = open, ``available_at`` = close.

        Raises
        ------
        DataError
            A kline row of the wrong shape or with non-numeric fields.
        MarketUnavailable
            The venue failed after retries.
        """
        step = _interval(interval)
        source = "binance /fapi/v1/klines"
        now = self._now()
        records: list[dict[str, Any]] = []
        start = ms(since)
        end = ms(until) - 1
        guard = PageGuard(source, max_pages=MAX_PAGES)
        while True:
            params = {
                "symbol": binance_symbol(asset),
                "interval": interval,
                "startTime": start,
                "endTime": end,
                "limit": KLINE_LIMIT,
            }
            page = rows_of(self.http.get_json("/fapi/v1/klines", params), source=source)
            for row in page:
                ts = to_utc(field(row, 0, source=source), source=source, name="openTime")
                if ts + step > now:
                    continue  # the bar has not closed: its values are not final
                records.append(
                    {
                        "venue": self.candle_venue,
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
            if len(page) < KLINE_LIMIT:
                break
            start = int(number(field(page[-1], 0, source=source), source=source, name="openTime"))
            start += 1
            guard.advance(start, page)
        return frame(records, columns=CANDLE_COLUMNS)

    def _walk(
        self,
        path: str,
        params: dict[str, Any],
        since: datetime,
        until: datetime,
        *,
        limit: int,
        time_key: str,
    ) -> list[dict[str, Any]]:
        """Page forward through an ascending endpoint that takes startTime/endTime/limit."""
        source = f"binance {path}"
        out: list[dict[str, Any]] = []
        start, end = ms(since), ms(until) - 1
        guard = PageGuard(source, max_pages=MAX_PAGES)
        while True:
            query = {**params, "startTime": start, "endTime": end, "limit": limit}
            page = rows_of(self.http.get_json(path, query), source=source)
            out.extend(page)
            if len(page) < limit or start > end:
                break
            last = int(
                number(field(page[-1], time_key, source=source), source=source, name=time_key)
            )
            if last < start:
                guard.stop(f"a full page ends at {time_key}={last}, before its startTime {start}")
            start = last + 1
            guard.advance(start, page)
        return out

    def _recent(self, since: datetime) -> datetime:
        return max(since, self._now() - REST_HISTORY)

    def open_interest(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> pd.DataFrame:
        """``openInterestHist`` (last ~30 days) as ``open_interest`` rows (base and USD)."""
        step = _interval(period)
        source = "binance /futures/data/openInterestHist"
        params = {"symbol": binance_symbol(asset), "period": period}
        rows = self._walk(
            "/futures/data/openInterestHist",
            params,
            self._recent(since),
            until,
            limit=DATA_LIMIT,
            time_key="timestamp",
        )
        records = []
        for row in rows:
            ts = to_utc(field(row, "timestamp", source=source), source=source, name="timestamp")
            records.append(
                {
                    "venue": self.venue,
                    "asset": asset,
                    "ts": ts,
                    "available_at": ts + step,
                    "oi_base": number_field(
                        row, "sumOpenInterest", source=source, name="sumOpenInterest"
                    ),
                    "oi_usd": number_field(
                        row, "sumOpenInterestValue", source=source, name="sumOpenInterestValue"
                    ),
                }
            )
        return frame(records, columns=OI_COLUMNS)

    def ratios(
        self, asset: str, *, since: datetime, until: datetime, period: str = "1h"
    ) -> pd.DataFrame:
        """Top-trader position/account, global account and taker buy/sell ratios (~30 days)."""
        step = _interval(period)
        params = {"symbol": binance_symbol(asset), "period": period}
        recent = self._recent(since)
        records: list[dict[str, Any]] = []
        endpoints = [
            *((m, p, "longShortRatio") for m, p in _RATIO_ENDPOINTS.items()),
            (f"taker_buy_sell_ratio_{period}", "/futures/data/takerlongshortRatio", "buySellRatio"),
        ]
        for metric, path, value_key in endpoints:
            source = f"binance {path}"
            for row in self._walk(
                path, params, recent, until, limit=DATA_LIMIT, time_key="timestamp"
            ):
                ts = to_utc(field(row, "timestamp", source=source), source=source, name="timestamp")
                records.append(
                    {
                        "venue": self.venue,
                        "asset": asset,
                        "ts": ts,
                        "available_at": ts + step,
                        "metric": metric,
                        "value": number_field(row, value_key, source=source, name=value_key),
                    }
                )
        return frame(records, columns=RATIO_COLUMNS)

    def funding(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Funding rates with funding time in ``[since, until)``; ``available_at`` = ``ts``.

        ``interval_hours`` is the gap to the previous funding time of the batch (8 for the first
        row, the BTC/ETH schedule).
        """
        source = "binance /fapi/v1/fundingRate"
        rows = self._walk(
            "/fapi/v1/fundingRate",
            {"symbol": binance_symbol(asset)},
            since,
            until,
            limit=FUNDING_LIMIT,
            time_key="fundingTime",
        )
        records = []
        previous: pd.Timestamp | None = None
        for row in rows:
            # the source carries a few ms of jitter: snap to the minute like the dataset
            ts = to_utc(
                field(row, "fundingTime", source=source), source=source, name="fundingTime"
            ).round("min")
            hours = 8 if previous is None else max(1, round((ts - previous) / pd.Timedelta("1h")))
            previous = ts
            records.append(
                {
                    "venue": self.venue,
                    "asset": asset,
                    "ts": ts,
                    "available_at": ts,
                    "rate": number_field(row, "fundingRate", source=source),
                    "interval_hours": hours,
                }
            )
        out = frame(records, columns=FUNDING_COLUMNS)
        out["interval_hours"] = out["interval_hours"].astype("int64")
        return out
