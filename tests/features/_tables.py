"""Tiny hand-made tables in the dataset format for hand-computed feature cases."""

from __future__ import annotations

import numpy as np
import pandas as pd

T0 = pd.Timestamp("2024-06-01T00:00Z")
H = pd.Timedelta("1h")
D = pd.Timedelta("1D")


def candles(close, *, start=T0, venue="binance-usdm", asset="BTC", volume=100.0):
    """Hourly bars with the given closes (open = previous close)."""
    close = np.asarray(close, dtype=float)
    ts = pd.date_range(start, periods=len(close), freq="1h")
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": asset,
            "interval": "1h",
            "ts": ts,
            "available_at": ts + H,
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume_base": np.broadcast_to(np.asarray(volume, dtype=float), close.shape).copy(),
        }
    )


def open_interest(oi_usd, *, start=T0, venue="bybit", asset="BTC", step=H, oi_base=None):
    ts = pd.date_range(start, periods=len(oi_usd), freq=step)
    base = np.full(len(ts), np.nan) if oi_base is None else np.asarray(oi_base, dtype=float)
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": asset,
            "ts": ts,
            "available_at": ts + step,
            "oi_base": base,
            "oi_usd": np.asarray(oi_usd, dtype=float),
        }
    )


def funding(rates, *, start=T0, asset="BTC"):
    ts = pd.date_range(start, periods=len(rates), freq="8h")
    return pd.DataFrame(
        {
            "venue": "binance",
            "asset": asset,
            "ts": ts,
            "available_at": ts,
            "rate": np.asarray(rates, dtype=float),
            "interval_hours": np.int64(8),
        }
    )


def liquidations(longs, shorts, *, start=T0):
    ts = pd.date_range(start, periods=len(longs), freq="1h")
    return pd.DataFrame(
        {
            "venue": "aggregate",
            "asset": "BTC",
            "interval": "1h",
            "ts": ts,
            "available_at": ts + H,
            "long_usd": np.asarray(longs, dtype=float),
            "short_usd": np.asarray(shorts, dtype=float),
        }
    )


DAY0 = T0.floor("D")


def reserves(values, *, start=DAY0):
    ts = pd.date_range(start, periods=len(values), freq="1D")
    return pd.DataFrame(
        {
            "source": "cryptoquant-style",
            "asset": "BTC",
            "ts": ts,
            "available_at": ts + D,
            "reserve_base": np.asarray(values, dtype=float),
        }
    )


def ratios(values, metric, *, start=T0, venue="binance"):
    ts = pd.date_range(start, periods=len(values), freq="1h")
    return pd.DataFrame(
        {
            "venue": venue,
            "asset": "BTC",
            "ts": ts,
            "available_at": ts + H,
            "metric": metric,
            "value": np.asarray(values, dtype=float),
        }
    )


def write(root, **tables):
    """Write each table (a frame or a list of frames) as ``<name>.parquet``; return root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, frames in tables.items():
        frame = pd.concat(frames, ignore_index=True) if isinstance(frames, list) else frames
        frame.to_parquet(root / f"{name}.parquet", index=False)
    return root
