"""Deribit DVOL (30-day implied volatility index) history, public and keyless.

``GET /api/v2/public/get_volatility_index_data?currency=BTC&start_timestamp=..&end_timestamp=..
&resolution=3600``. The response shape used here is [UNVERIFIED] (no fixture was captured):
``{"result": {"data": [[ts_ms, open, high, low, close], ...], "continuation": ts_ms | null}}``,
where a non-null ``continuation`` is the ``end_timestamp`` of the next (older) page. Values are in
percent; ``iv`` = close / 100. Rows: source ``deribit-dvol``, ``ts`` = hour start,
``available_at`` = ``ts`` + 1 h (the dataset's convention).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import pandas as pd

from levercast.features.http import HttpClient, PageGuard
from levercast.features.sources.binance import MAX_PAGES
from levercast.features.sources.decode import (
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

__all__ = ["DERIBIT_URL", "DeribitClient"]

DERIBIT_URL: Final = "https://www.deribit.com"
IV_COLUMNS: Final = ["source", "asset", "ts", "available_at", "iv"]


class DeribitClient:
    """DVOL client (``$LEVERCAST_DERIBIT_URL`` overrides the host).

    Parameters
    ----------
    http
        Retrying client.
    now
        Clock used to drop the hour that has not closed.
    """

    source: Final = "deribit-dvol"

    def __init__(self, http: HttpClient | None = None, *, now: Clock = utc_now) -> None:
        self.http = http or http_from_env(
            "deribit", "LEVERCAST_DERIBIT_URL", DERIBIT_URL, min_interval_secs=0.1
        )
        self._now = now

    def implied_vol(self, asset: str, *, since: datetime, until: datetime) -> pd.DataFrame:
        """Hourly DVOL closes with hour start in ``[since, until)`` as ``implied_vol`` rows."""
        path = "/api/v2/public/get_volatility_index_data"
        source = f"deribit {path}"
        step = timedelta(hours=1)
        end = ms(until) - 1
        now = self._now()
        records = []
        guard = PageGuard(source, max_pages=MAX_PAGES)
        while True:
            params = {
                "currency": asset.upper(),
                "start_timestamp": ms(since),
                "end_timestamp": end,
                "resolution": "3600",
            }
            result = field(self.http.get_json(path, params), "result", source=source)
            page = rows_of(result, "data", source=source)
            for row in page:
                ts = to_utc(field(row, 0, source=source), source=source, name="ts")
                if ts + step > now or not since <= ts < until:
                    continue
                close = number_field(row, 4, source=source, name="close")
                records.append(
                    {
                        "source": self.source,
                        "asset": asset,
                        "ts": ts,
                        "available_at": ts + step,
                        "iv": close / 100.0,
                    }
                )
            continuation = result.get("continuation") if isinstance(result, dict) else None
            if not page or continuation in (None, "", 0):
                break
            next_end = int(number(continuation, source=source, name="continuation"))
            if next_end <= ms(since):
                break
            if next_end >= end:
                guard.stop(f"continuation {next_end} is not before the page's end {end}")
            end = next_end
            guard.advance(end, page)
        return frame(records, columns=IV_COLUMNS)
