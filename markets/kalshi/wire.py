"""Kalshi trade-API v2 wire parsing and its one mapping into domain records (STYLE G4).

Kalshi removed its integer-cent fields: prices are ``*_dollars`` fixed-point strings and counts
``*_fp`` strings (APIS.md §0.5); both are parsed with ``Decimal``. The order book holds bids
only (``orderbook_fp.yes_dollars`` / ``no_dollars``): a YES ask is ``1 - NO bid`` with the NO
bid's size. Historical candles (``/historical/...``) use unsuffixed keys; both shapes are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from levercast.features.errors import ConfigError, DataError
from levercast.features.timeutil import parse_utc
from levercast.markets.client import MarketResolution
from levercast.markets.types import BookLevel, OrderBook, Venue, VenueMarket

__all__ = [
    "decode_page",
    "parse_candles",
    "parse_kalshi_market",
    "parse_kalshi_orderbook",
    "parse_kalshi_resolution",
    "to_decimal",
]

RESOLVED_STATUSES: Final = frozenset({"determined", "finalized", "settled", "amended"})
_ONE: Final = Decimal(1)


def to_decimal(value: Any, field: str, where: str) -> Decimal | None:
    """A ``*_dollars``/``*_fp`` string (or number) as ``Decimal``; None when null or empty."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise DataError(f"{where}: field {field!r} must be a decimal; found {value!r}") from None


def _required(raw: Mapping[str, Any], field: str, where: str) -> Any:
    if not isinstance(raw, Mapping):
        raise DataError(f"{where}: must be an object; found {raw!r}"[:200])
    value = raw.get(field)
    if value is None:
        raise DataError(f"{where}: field {field!r} is required; found it missing")
    return value


def _time(raw: Mapping[str, Any], field: str, where: str) -> datetime | None:
    value = raw.get(field)
    if value in (None, ""):
        return None
    try:
        return parse_utc(str(value), name=field)
    except ConfigError:
        raise DataError(
            f"{where}: field {field!r} must be an ISO-8601 time; found {value!r}"
        ) from None


def decode_page(payload: Any, key: str, *, path: str) -> tuple[list[Any], str | None]:
    """Items and next cursor of a Kalshi list response (``{key: [...], "cursor": ""}``)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get(key), list):
        shown = list(payload)[:8] if isinstance(payload, Mapping) else type(payload).__name__
        raise DataError(f"kalshi {path}: response must hold a {key!r} list; found {shown}")
    cursor = payload.get("cursor")
    return list(payload[key]), (str(cursor) if cursor else None)


def _question(raw: Mapping[str, Any], title: str) -> str:
    sub = str(raw.get("yes_sub_title") or raw.get("subtitle") or "").strip()
    return f"{title} [{sub}]" if sub and sub not in title else title


def parse_kalshi_market(
    raw: Mapping[str, Any],
    *,
    series_ticker: str | None = None,
    event_title: str | None = None,
) -> VenueMarket:
    """The domain record of one Kalshi market object (the one wire -> domain mapping).

    ``question`` is the title with the YES subtitle (e.g. the strike ``$79,100 or above``)
    appended in brackets when the title lacks it; ``rules`` joins the primary and secondary
    rules; ``end_date`` and ``close_time`` are ``close_time``.

    Raises
    ------
    DataError
        ``ticker`` or ``title`` missing, or a malformed time or strike.
    """
    where = f"kalshi market {raw.get('ticker', '?') if isinstance(raw, Mapping) else '?'}"
    ticker = str(_required(raw, "ticker", where))
    title = str(_required(raw, "title", where))
    rules = "\n\n".join(str(raw[k]) for k in ("rules_primary", "rules_secondary") if raw.get(k))
    floor = to_decimal(raw.get("floor_strike"), "floor_strike", where)
    cap = to_decimal(raw.get("cap_strike"), "cap_strike", where)
    close = _time(raw, "close_time", where)
    return VenueMarket(
        venue=Venue.KALSHI.value,
        market_id=ticker,
        question=_question(raw, title),
        rules=rules,
        outcomes=("Yes", "No"),
        created_at=_time(raw, "created_time", where) or _time(raw, "open_time", where),
        end_date=close,
        close_time=close,
        strike_type=raw.get("strike_type") or None,
        floor_strike=float(floor) if floor is not None else None,
        cap_strike=float(cap) if cap is not None else None,
        series_ticker=series_ticker,
        event_ticker=raw.get("event_ticker") or None,
        event_title=event_title,
        slug=None,
        active=raw.get("status") == "active",
        closed=raw.get("status") not in (None, "initialized", "inactive", "active"),
    )


def parse_kalshi_resolution(raw: Mapping[str, Any]) -> MarketResolution | None:
    """The winner of a determined/settled binary market (``result`` yes/no), else None.

    ``resolved_at`` is ``settlement_ts``, else ``expiration_time``.
    """
    result = str(raw.get("result") or "")
    if result not in ("yes", "no") or raw.get("status") not in RESOLVED_STATUSES:
        return None
    where = f"kalshi market {raw.get('ticker', '?')}"
    return MarketResolution(
        market_id=str(_required(raw, "ticker", where)),
        winning_outcome="Yes" if result == "yes" else "No",
        resolved_at=_time(raw, "settlement_ts", where) or _time(raw, "expiration_time", where),
    )


def _book_side(raw: Mapping[str, Any], field: str, where: str) -> list[tuple[Decimal, Decimal]]:
    levels = raw.get(field) or []
    out: dict[Decimal, Decimal] = {}
    for level in levels:
        if not isinstance(level, list | tuple) or len(level) < 2:
            raise DataError(f"{where}: {field} levels must be [price, count]; found {level!r}")
        price = to_decimal(level[0], field, where)
        size = to_decimal(level[1], field, where)
        if price is None or size is None:
            raise DataError(
                f"{where}: {field} level must hold a price and a count; found {level!r}"
            )
        out[price] = out.get(price, Decimal(0)) + size
    return list(out.items())


def parse_kalshi_orderbook(
    payload: Any, market: VenueMarket, *, observed_at: datetime
) -> OrderBook:
    """The YES book of a ``/markets/{ticker}/orderbook`` response.

    YES bids are ``yes_dollars``; YES asks are ``1 - p`` for each NO bid ``p`` (same size).
    The venue's level order is ignored (``OrderBook`` sorts best first).

    Raises
    ------
    DataError
        ``orderbook_fp`` missing (e.g. an old cent-denominated ``orderbook``) or malformed.
    """
    where = f"kalshi orderbook of {market.market_id}"
    book = _required(payload, "orderbook_fp", where)
    if not isinstance(book, Mapping):
        raise DataError(f"{where}: field 'orderbook_fp' must be an object; found {book!r}"[:200])
    try:
        bids = tuple(
            BookLevel(float(p), float(s)) for p, s in _book_side(book, "yes_dollars", where)
        )
        asks = tuple(
            BookLevel(float(_ONE - p), float(s)) for p, s in _book_side(book, "no_dollars", where)
        )
    except ConfigError as e:
        raise DataError(f"{where}: {e}") from None
    return OrderBook(
        venue=Venue.KALSHI.value,
        market_id=market.market_id,
        outcome="Yes",
        observed_at=observed_at,
        bids=bids,
        asks=asks,
    )


def _candle_value(group: Any, name: str, where: str) -> Decimal | None:
    if not isinstance(group, Mapping):
        return None
    for key in (f"{name}_dollars", name):  # live keys are suffixed, historical ones are not
        if key in group:
            return to_decimal(group[key], key, where)
    return None


def parse_candles(payload: Any, *, ticker: str) -> Iterator[tuple[datetime, float]]:
    """``(period end, YES price)`` of each candle: the last trade price (``price.close``), else
    the mid of the YES bid and ask closes; candles with neither are skipped.

    Raises
    ------
    DataError
        ``candlesticks`` or ``end_period_ts`` missing, or a price outside [0, 1].
    """
    where = f"kalshi candlesticks of {ticker}"
    candles = _required(payload, "candlesticks", where)
    if not isinstance(candles, list):
        raise DataError(f"{where}: field 'candlesticks' must be a list; found {candles!r}"[:200])
    for candle in candles:
        end = _required(candle, "end_period_ts", where)
        price = _candle_value(candle.get("price"), "close", where)
        if price is None:
            bid = _candle_value(candle.get("yes_bid"), "close", where)
            ask = _candle_value(candle.get("yes_ask"), "close", where)
            if bid is None or ask is None:
                continue
            price = (bid + ask) / 2
        if not 0 <= price <= 1:
            raise DataError(f"{where}: price must be within [0, 1]; found {price}")
        try:
            ts = datetime.fromtimestamp(int(end), tz=UTC)
        except (TypeError, ValueError):
            raise DataError(f"{where}: end_period_ts must be unix seconds; found {end!r}") from None
        yield ts, float(price)
