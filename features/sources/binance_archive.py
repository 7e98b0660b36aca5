"""The data.binance.vision archive (APIS.md §3.2): deep USD-M kline history from monthly and
daily zip files, and the daily ``metrics`` files (5-minute open interest and ratios).

Every zip is checked against its sibling ``.zip.CHECKSUM`` (sha256) before it is read; a mismatch
is a ``DataError``. A file that is not published yet (HTTP 404: daily files appear the next day,
monthly ones on the first Monday of the month) is skipped: monthly files fall back to their daily
files, and the caller fetches whatever the archive did not cover from REST. UM futures times are
in milliseconds. ``metrics`` rows are kept on the hour (``create_time`` at minute 0) so that they
continue the hourly REST series; ``available_at`` = ``ts`` + 1 h as for the REST snapshots.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Final

import pandas as pd

from levercast.features.errors import DataError
from levercast.features.http import HttpClient
from levercast.features.sources.binance import (
    CANDLE_COLUMNS,
    OI_COLUMNS,
    RATIO_COLUMNS,
    BinanceClient,
    binance_symbol,
)
from levercast.features.sources.decode import INTERVALS, Clock, frame, http_from_env, utc_now

__all__ = ["BINANCE_ARCHIVE_URL", "BinanceArchive", "archive_files", "verify_checksum"]

BINANCE_ARCHIVE_URL: Final = "https://data.binance.vision"
_KLINE_NAMES: Final = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
]
_METRICS: Final = {
    "sum_toptrader_long_short_ratio": "top_position_ratio",
    "count_toptrader_long_short_ratio": "top_account_ratio",
    "count_long_short_ratio": "global_account_ratio",
    "sum_taker_long_short_vol_ratio": "taker_buy_sell_ratio_5m",
}


def archive_files(since: datetime, until: datetime, *, today: date) -> list[tuple[str, str]]:
    """The (granularity, period) files covering days in ``[since, until)`` before ``today``.

    Whole calendar months before ``today``'s month use one monthly file (``YYYY-MM``); the other
    days use daily files (``YYYY-MM-DD``).
    """
    first = since.astimezone(UTC).date()
    last = min(
        (until - timedelta(microseconds=1)).astimezone(UTC).date(), today - timedelta(days=1)
    )
    out: list[tuple[str, str]] = []
    day = first
    while day <= last:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if day.day == 1 and month_end <= last and month_end < today.replace(day=1):
            out.append(("monthly", f"{day:%Y-%m}"))
            day = month_end + timedelta(days=1)
        else:
            out.append(("daily", f"{day:%Y-%m-%d}"))
            day += timedelta(days=1)
    return out


def verify_checksum(blob: bytes, checksum_text: str, *, name: str) -> None:
    """Compare the sha256 of ``blob`` with a ``<hex>  <file>`` CHECKSUM line.

    Raises
    ------
    DataError
        When the checksum file is malformed or the digests differ.
    """
    parts = checksum_text.strip().split()
    if not parts or len(parts[0]) != 64:
        raise DataError(
            f"{name}.CHECKSUM must start with a sha256 hex digest; found {checksum_text[:80]!r}"
        )
    found = hashlib.sha256(blob).hexdigest()
    if found != parts[0].lower():
        raise DataError(f"{name}: sha256 must match its CHECKSUM {parts[0]}; found {found}")


def _read_csv(blob: bytes, *, name: str, names: list[str] | None) -> pd.DataFrame:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            members = [m for m in archive.namelist() if m.endswith(".csv")]
            if len(members) != 1:
                raise DataError(f"{name}: zip must hold one CSV; found {archive.namelist()}")
            text = archive.read(members[0])
    except zipfile.BadZipFile as e:
        raise DataError(f"{name}: not a valid zip file ({e})") from e
    first = text.split(b"\n", 1)[0]
    has_header = not first[:1].isdigit()  # klines files gained a header row in 2022
    try:
        table = pd.read_csv(io.BytesIO(text), header=0 if has_header else None)
    except (ValueError, pd.errors.ParserError) as e:
        raise DataError(f"{name}: unreadable CSV ({e})") from e
    if names is not None:
        if table.shape[1] < 6:
            raise DataError(f"{name}: kline rows must have 12 columns; found {table.shape[1]}")
        table.columns = names[: table.shape[1]]
    return table


class BinanceArchive:
    """Reader of data.binance.vision USD-M files (``$LEVERCAST_BINANCE_ARCHIVE_URL`` overrides).

    Parameters
    ----------
    http
        Retrying client; the archive is a static file host, so a modest rate is polite.
    now
        Clock deciding which files can exist (daily files appear the next day).
    """

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self.http = http or http_from_env(
            "binance-archive",
            "LEVERCAST_BINANCE_ARCHIVE_URL",
            BINANCE_ARCHIVE_URL,
            timeout_secs=60.0,
            min_interval_secs=0.1,
        )
        self._now = now

    def _file(self, path: str) -> bytes | None:
        """A verified zip, or ``None`` when it is not published."""
        blob = self.http.get_optional_bytes(path)
        if blob is None:
            return None
        checksum = self.http.get_optional_bytes(path + ".CHECKSUM")
        if checksum is None:
            raise DataError(f"{path}: the .CHECKSUM file must exist next to the zip; found 404")
        verify_checksum(blob, checksum.decode("ascii", "replace"), name=path)
        return blob

    def klines(
        self, asset: str, *, interval: str, since: datetime, until: datetime
    ) -> pd.DataFrame:
        """Archived klines with open time in ``[since, until)``, as ``candles`` rows.

        Files that are not published yet are skipped; the result may end before ``until``.
        """
        step = INTERVALS[interval]
        symbol = binance_symbol(asset)
        today = self._now().date()
        parts: list[pd.DataFrame] = []
        pending = archive_files(since, until, today=today)
        while pending:
            granularity, period = pending.pop(0)
            path = (
                f"/data/futures/um/{granularity}/klines/{symbol}/{interval}/"
                f"{symbol}-{interval}-{period}.zip"
            )
            blob = self._file(path)
            if blob is None:
                if granularity == "monthly":  # not out yet: its daily files may be
                    pending = _month_days(period) + pending
                continue
            parts.append(_read_csv(blob, name=path, names=_KLINE_NAMES))
        if not parts:
            return frame([], columns=CANDLE_COLUMNS)
        raw = pd.concat(parts, ignore_index=True)
        try:
            ts = pd.to_datetime(raw["open_time"].astype("int64"), unit="ms", utc=True)
            values = raw[["open", "high", "low", "close", "volume"]].astype("float64")
        except (ValueError, TypeError) as e:
            raise DataError(f"binance archive klines {symbol}: non-numeric values ({e})") from e
        out = pd.DataFrame(
            {
                "venue": BinanceClient.candle_venue,
                "asset": asset,
                "interval": interval,
                "ts": ts,
                "available_at": ts + step,
                "open": values["open"],
                "high": values["high"],
                "low": values["low"],
                "close": values["close"],
                "volume_base": values["volume"],
            }
        )
        out = out[(out["ts"] >= pd.Timestamp(since)) & (out["ts"] < pd.Timestamp(until))]
        return frame(out.to_dict("records"), columns=CANDLE_COLUMNS)

    def metrics(
        self, asset: str, *, since: datetime, until: datetime
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Hourly ``open_interest`` and ``ratios`` rows from the daily metrics files."""
        symbol = binance_symbol(asset)
        today = self._now().date()
        parts = []
        for _, day in _daily_only(archive_files(since, until, today=today)):
            path = f"/data/futures/um/daily/metrics/{symbol}/{symbol}-metrics-{day}.zip"
            blob = self._file(path)
            if blob is not None:
                parts.append(_read_csv(blob, name=path, names=None))
        if not parts:
            return frame([], columns=OI_COLUMNS), frame([], columns=RATIO_COLUMNS)
        raw = pd.concat(parts, ignore_index=True)
        needed = ["create_time", "sum_open_interest", "sum_open_interest_value", *_METRICS]
        missing = [c for c in needed if c not in raw.columns]
        if missing:
            raise DataError(
                f"binance archive metrics {symbol}: missing column(s) {missing}; "
                f"found {list(raw.columns)}"
            )
        ts = pd.to_datetime(raw["create_time"], utc=True, errors="coerce")
        if ts.isna().any():
            raise DataError(
                f"binance archive metrics {symbol}: create_time must be "
                f"'YYYY-MM-DD HH:MM:SS'; found {raw['create_time'][ts.isna()].iloc[0]!r}"
            )
        keep = (ts.dt.minute == 0) & (ts >= pd.Timestamp(since)) & (ts < pd.Timestamp(until))
        raw, ts = raw[keep.to_numpy()], ts[keep]
        base = {
            "venue": BinanceClient.venue,
            "asset": asset,
            "ts": ts.to_numpy(),
            "available_at": (ts + pd.Timedelta("1h")).to_numpy(),
        }
        oi = pd.DataFrame(
            {
                **base,
                "oi_base": pd.to_numeric(raw["sum_open_interest"], errors="coerce").to_numpy(),
                "oi_usd": pd.to_numeric(raw["sum_open_interest_value"], errors="coerce").to_numpy(),
            }
        )
        ratios = [
            pd.DataFrame(
                {
                    **base,
                    "metric": metric,
                    "value": pd.to_numeric(raw[column], errors="coerce").to_numpy(),
                }
            )
            for column, metric in _METRICS.items()
        ]
        ratio_frame = pd.concat(ratios, ignore_index=True).dropna(subset=["value"])
        return (
            frame(oi.to_dict("records"), columns=OI_COLUMNS),
            frame(ratio_frame.to_dict("records"), columns=RATIO_COLUMNS),
        )


def _daily_only(files: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for granularity, period in files:
        if granularity == "daily":
            out.append((granularity, period))
        else:
            out.extend(_month_days(period))
    return out


def _month_days(period: str) -> list[tuple[str, str]]:
    start = date(int(period[:4]), int(period[5:7]), 1)
    days = []
    day = start
    while day.month == start.month:
        days.append(("daily", f"{day:%Y-%m-%d}"))
        day += timedelta(days=1)
    return days
