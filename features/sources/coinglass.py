"""CoinGlass v4 aggregated liquidation history, the ``liquidations`` venue ``aggregate``.

The one history source of liquidations summed over Binance, OKX and Bybit (the ``liquidations``
input of the feature frame reads it). Used by ``levercast fetch`` only when
``LEVERCAST_COINGLASS_KEY`` is set; ``LEVERCAST_COINGLASS_URL`` overrides the base URL. Rows are
closed buckets in the ``liquidations`` table format (``liquidation_stream.LIQUIDATION_COLUMNS``),
``available_at`` = bucket close, ``lower_bound`` unset (only the streams' rows are flagged as
lower bounds).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Final

import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.http import HttpClient
from levercast.features.sources.decode import (
    check_envelope,
    field,
    frame,
    http_from_env,
    ms,
    number_field,
    rows_of,
    to_utc,
)
from levercast.features.sources.liquidation_stream import LIQUIDATION_COLUMNS

__all__ = ["COINGLASS_URL", "CoinGlassLiquidations"]

COINGLASS_URL: Final = "https://open-api-v4.coinglass.com"


class CoinGlassLiquidations:
    """CoinGlass v4 aggregated liquidation history (Binance, OKX, Bybit) as venue ``aggregate``.

    The key comes only from ``LEVERCAST_COINGLASS_KEY`` and is sent in the ``CG-API-KEY`` header.
    The path ``/api/futures/liquidation/aggregated-history`` and its fields ``time``,
    ``aggregated_long_liquidation_usd``, ``aggregated_short_liquidation_usd`` are [UNVERIFIED].
    """

    venue: Final = "aggregate"

    def __init__(self, http: HttpClient | None = None) -> None:
        key = os.environ.get("LEVERCAST_COINGLASS_KEY", "").strip()
        if not key:
            raise ConfigError("LEVERCAST_COINGLASS_KEY must be set to use CoinGlass; found unset")
        self.http = http or http_from_env(
            "coinglass",
            "LEVERCAST_COINGLASS_URL",
            COINGLASS_URL,
            headers={"CG-API-KEY": key},
            min_interval_secs=2.0,  # the Hobbyist plan allows 30 requests per minute
        )

    def liquidations(
        self, asset: str, *, interval: str, since: datetime, until: datetime
    ) -> pd.DataFrame:
        """Closed buckets starting in ``[since, until)``."""
        path = "/api/futures/liquidation/aggregated-history"
        source = f"coinglass {path}"
        step = pd.Timedelta(interval)
        params = {
            "symbol": asset.upper(),
            "interval": interval,
            "exchange_list": "Binance,OKX,Bybit",
            "start_time": ms(since),
            "end_time": ms(until),
            "limit": 1000,
        }
        payload = self.http.get_json(path, params)
        check_envelope(payload, source=source, code_key="code", ok=["0", 0])
        records = []
        for row in rows_of(payload, "data", source=source):
            ts = to_utc(field(row, "time", source=source), source=source, name="time")
            if not since <= ts < until or ts + step > pd.Timestamp(until):
                continue
            records.append(
                {
                    "venue": self.venue,
                    "asset": asset,
                    "interval": interval,
                    "ts": ts,
                    "available_at": ts + step,
                    "lower_bound": None,
                    **{
                        out: number_field(row, key, source=source, name=key)
                        for out, key in [
                            ("long_usd", "aggregated_long_liquidation_usd"),
                            ("short_usd", "aggregated_short_liquidation_usd"),
                        ]
                    },
                }
            )
        return frame(records, columns=LIQUIDATION_COLUMNS)
