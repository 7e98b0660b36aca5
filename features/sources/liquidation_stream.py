"""Liquidation streams: websocket message parsing and per-interval aggregation (pure functions)
and a websocket listener. (CoinGlass history, the ``aggregate`` venue, is ``coinglass``.)

Streams (APIS.md §3.1, §3.3, §3.4): Binance ``!forceOrder@arr`` on
``wss://fstream.binance.com/market/ws/...`` (at most one order per symbol per second is pushed, a
snapshot), Bybit ``allLiquidation.{SYMBOL}``, OKX ``liquidation-orders`` (``instType`` SWAP).
Aggregated rows go to ``liquidations`` with venue ``binance``/``bybit``/``okx`` and
``lower_bound`` = ``"true"``: a stream misses what it does not push and what happens while
disconnected, so totals are lower bounds. The side is the liquidated **position**: a Binance
``SELL`` order closes a long; Bybit ``S`` = ``Buy`` means a long was liquidated (Bybit's docs for
``allLiquidation``, [UNVERIFIED] against a live capture); OKX gives ``posSide`` (or, in net mode,
``side`` = sell closes a long). OKX sizes are contracts: BTC-USDT-SWAP is 0.01 BTC and
ETH-USDT-SWAP 0.1 ETH per contract; other instruments are ignored.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pandas as pd

from levercast.features.errors import ConfigError, DataError
from levercast.features.sources.decode import (
    field,
    frame,
    number,
    number_field,
    rows_of,
    to_utc,
)

__all__ = [
    "LIQUIDATION_COLUMNS",
    "STREAM_VENUES",
    "LiquidationEvent",
    "aggregate_liquidations",
    "listen",
    "parse_binance_force_order",
    "parse_bybit_liquidation",
    "parse_message",
    "parse_okx_liquidation",
]

LIQUIDATION_COLUMNS: Final = [
    "venue",
    "asset",
    "interval",
    "ts",
    "available_at",
    "long_usd",
    "short_usd",
    "lower_bound",
]
STREAM_VENUES: Final = ("binance", "bybit", "okx")
OKX_CONTRACT_BASE: Final = {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1}
_WS_URLS: Final = {
    "binance": ("LEVERCAST_BINANCE_WS_URL", "wss://fstream.binance.com/market/ws/!forceOrder@arr"),
    "bybit": ("LEVERCAST_BYBIT_WS_URL", "wss://stream.bybit.com/v5/public/linear"),
    "okx": ("LEVERCAST_OKX_WS_URL", "wss://ws.okx.com:8443/ws/v5/public"),
}


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    """One liquidation seen on a stream: the liquidated position's side and its USD value."""

    venue: str
    asset: str
    ts: pd.Timestamp
    side: str
    value_usd: float

    def __post_init__(self) -> None:
        if self.side not in {"long", "short"}:
            raise DataError(f"liquidation side must be long or short; found {self.side!r}")
        if not self.value_usd >= 0:
            raise DataError(f"liquidation value_usd must be >= 0; found {self.value_usd}")


def _asset_of(symbol: str, suffix: str) -> str | None:
    return symbol[: -len(suffix)] if symbol.endswith(suffix) and len(symbol) > len(suffix) else None


def parse_binance_force_order(message: Any, *, assets: Iterable[str]) -> list[LiquidationEvent]:
    """Events of a Binance ``forceOrder`` message (plain, combined-stream or array form)."""
    source = "binance forceOrder"
    wanted = {a.upper() for a in assets}
    if isinstance(message, Mapping) and "data" in message and "stream" in message:
        message = message["data"]
    items = message if isinstance(message, list) else [message]
    events = []
    for item in items:
        order = field(item, "o", source=source)
        asset = _asset_of(str(field(order, "s", source=source)), "USDT")
        if asset not in wanted:
            continue
        qty = number_field(order, "z", source=source)
        price = number(
            order.get("ap") or field(order, "p", source=source), source=source, name="ap"
        )
        if price <= 0:
            price = number_field(order, "p", source=source)
        side = {"SELL": "long", "BUY": "short"}.get(str(field(order, "S", source=source)))
        if side is None:
            raise DataError(f"{source}: S must be BUY or SELL; found {order.get('S')!r}")
        ts = to_utc(field(order, "T", source=source), source=source, name="T")
        events.append(LiquidationEvent("binance", str(asset), ts, side, qty * price))
    return events


def parse_bybit_liquidation(message: Any, *, assets: Iterable[str]) -> list[LiquidationEvent]:
    """Events of a Bybit ``allLiquidation.{SYMBOL}`` message (other topics give none)."""
    source = "bybit allLiquidation"
    if not str(message.get("topic", "")).startswith(("allLiquidation.", "liquidation.")):
        return []
    wanted = {a.upper() for a in assets}
    data = message.get("data")
    items = data if isinstance(data, list) else rows_of(message, "data", source=source)
    events = []
    for item in items:
        asset = _asset_of(str(field(item, "s", source=source)), "USDT")
        if asset not in wanted:
            continue
        side = {"Buy": "long", "Sell": "short"}.get(str(field(item, "S", source=source)))
        if side is None:
            raise DataError(f"{source}: S must be Buy or Sell; found {item.get('S')!r}")
        value = number_field(item, "v", source=source) * number_field(
            item, "p", source=source, name="p"
        )
        ts = to_utc(field(item, "T", source=source), source=source, name="T")
        events.append(LiquidationEvent("bybit", str(asset), ts, side, value))
    return events


def parse_okx_liquidation(message: Any, *, assets: Iterable[str]) -> list[LiquidationEvent]:
    """Events of an OKX ``liquidation-orders`` push (subscription acks and pongs give none)."""
    source = "okx liquidation-orders"
    if not isinstance(message, Mapping) or "data" not in message:
        return []
    wanted = {a.upper() for a in assets}
    events = []
    for item in rows_of(message, "data", source=source):
        inst = str(field(item, "instId", source=source))
        base = OKX_CONTRACT_BASE.get(inst)
        asset = inst.split("-")[0]
        if base is None or asset not in wanted:
            continue
        for detail in rows_of(item, "details", source=source):
            pos = str(detail.get("posSide") or "")
            if pos not in {"long", "short"}:
                pos = "long" if str(field(detail, "side", source=source)) == "sell" else "short"
            size = number_field(detail, "sz", source=source)
            price = number_field(detail, "bkPx", source=source)
            ts = to_utc(field(detail, "ts", source=source), source=source, name="ts")
            events.append(LiquidationEvent("okx", asset, ts, pos, size * base * price))
    return events


_PARSERS: Final[dict[str, Callable[..., list[LiquidationEvent]]]] = {
    "binance": parse_binance_force_order,
    "bybit": parse_bybit_liquidation,
    "okx": parse_okx_liquidation,
}


def parse_message(
    venue: str, text: str | bytes, *, assets: Iterable[str]
) -> list[LiquidationEvent]:
    """Decode one websocket text frame of ``venue``; non-JSON keep-alives (``pong``) give none."""
    if venue not in _PARSERS:
        raise ConfigError(f"venue must be one of {list(_PARSERS)}; found {venue!r}")
    try:
        message = json.loads(text)
    except ValueError:
        return []
    if not isinstance(message, Mapping | list):
        return []
    return _PARSERS[venue](message, assets=assets)


def aggregate_liquidations(
    events: Iterable[LiquidationEvent],
    *,
    interval: str,
    series: Iterable[tuple[str, str]],
    covered_from: datetime,
    covered_until: datetime,
) -> pd.DataFrame:
    """Per-bucket long/short USD sums of ``events`` as ``liquidations`` rows (lower bounds).

    Only buckets lying wholly inside ``[covered_from, covered_until)`` are returned, one per
    (venue, asset) of ``series`` and bucket, with zeros where nothing was seen: a zero means "the
    stream was listening and pushed nothing", never "we were not listening".
    """
    step = pd.Timedelta(interval)
    first = pd.Timestamp(covered_from).ceil(step)
    last = pd.Timestamp(covered_until).floor(step)
    buckets = pd.date_range(first, last, freq=step, inclusive="left")
    totals: dict[tuple[str, str, pd.Timestamp], list[float]] = {
        (v, a, b): [0.0, 0.0] for v, a in series for b in buckets
    }
    for event in events:
        bucket = event.ts.floor(step)
        slot = totals.get((event.venue, event.asset, bucket))
        if slot is not None:
            slot[0 if event.side == "long" else 1] += event.value_usd
    records = [
        {
            "venue": v,
            "asset": a,
            "interval": interval,
            "ts": b,
            "available_at": b + step,
            "long_usd": long_usd,
            "short_usd": short_usd,
            "lower_bound": "true",
        }
        for (v, a, b), (long_usd, short_usd) in totals.items()
    ]
    return frame(records, columns=LIQUIDATION_COLUMNS)


def _subscribe(venue: str, assets: Iterable[str]) -> str | None:
    if venue == "bybit":
        return json.dumps(
            {"op": "subscribe", "args": [f"allLiquidation.{a.upper()}USDT" for a in assets]}
        )
    if venue == "okx":
        return json.dumps(
            {"op": "subscribe", "args": [{"channel": "liquidation-orders", "instType": "SWAP"}]}
        )
    return None


def listen(
    venue: str,
    assets: list[str],
    on_events: Callable[[list[LiquidationEvent]], None],
    stop: threading.Event,
    *,
    on_connect: Callable[[datetime | None], None],
    recv_timeout_secs: float = 10.0,
) -> None:
    """Receive ``venue``'s liquidation stream until ``stop`` is set, reconnecting on errors.

    ``on_connect(t)`` is called with the connection time, and with ``None`` on a disconnect, so
    the caller knows which buckets were fully covered. Needs ``websocket-client``.
    """
    import websocket  # lazy: only `record liquidations` needs it

    env_var, default = _WS_URLS[venue]
    url = os.environ.get(env_var) or default
    pause = 1.0
    while not stop.is_set():
        try:
            ws = websocket.create_connection(url, timeout=recv_timeout_secs)
        except (OSError, websocket.WebSocketException):
            on_connect(None)
            stop.wait(pause)
            pause = min(pause * 2, 60.0)
            continue
        pause = 1.0
        try:
            request = _subscribe(venue, assets)
            if request:
                ws.send(request)
            on_connect(pd.Timestamp.now(tz="UTC").to_pydatetime())
            while not stop.is_set():
                try:
                    text = ws.recv()
                except websocket.WebSocketTimeoutException:
                    ws.send("ping" if venue == "okx" else json.dumps({"op": "ping"}))
                    continue
                events = parse_message(venue, text, assets=assets)
                if events:
                    on_events(events)
        except (OSError, websocket.WebSocketException, DataError):
            on_connect(None)
        finally:
            ws.close(timeout=1)
