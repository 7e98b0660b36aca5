"""Kalshi trade-API v2 wire parsing and its one mapping into domain records (STYLE G4).

Checked against OpenAPI 3.31 (Sept 2026) and the 2026 changelog (issue 20, KALSHI-2026.md):

- integer-cent prices and integer counts were removed on 2026-03-12: prices are ``*_dollars``
  fixed-point strings (up to 6 decimals) and counts ``*_fp`` strings (2 decimals, fractional
  contracts everywhere since 2026-04-17); both are parsed with ``Decimal``.
  ``response_price_units``, ``fractional_trading_enabled`` (2026-07-09) and
  ``liquidity_dollars`` (3.31) are gone and never read;
- the market ``title`` is deprecated and optional, and the live one drops the fixing hour
  ("Bitcoin price on Oct 6, 2026?"): the question is the event title (which has it) with the YES
  subtitle, falling back to the market title, then the YES subtitle;
- fees are per series (``Series.fee_type``/``fee_multiplier``), overridden per event
  (``fee_type_override``/``fee_multiplier_override``), waived per market until
  ``fee_waiver_expiration_time``;
- ``expiration_time`` is deprecated: a resolution is dated by ``settlement_ts``, else
  ``expected_expiration_time``, ``latest_expiration_time``, ``close_time``;
- ``/historical/cutoff`` has four independent ISO times (``HistoricalCutoff``).

The order book holds bids only (``orderbook_fp.yes_dollars`` / ``no_dollars``, ascending, best
last; https://docs.kalshi.com/getting_started/orderbook_responses): a YES ask is ``1 - NO bid``
with the NO bid's size. Historical candles (``/historical/...``) use unsuffixed keys; both shapes
are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from levercast.features.errors import ConfigError, DataError
from levercast.features.timeutil import parse_utc
from levercast.markets.client import MarketResolution
from levercast.markets.types import BookLevel, OrderBook, Venue, VenueMarket

__all__ = [
    "HistoricalCutoff",
    "KalshiEvent",
    "KalshiSeries",
    "decode_page",
    "ineligible_reason",
    "parse_candles",
    "parse_historical_cutoff",
    "parse_kalshi_event",
    "parse_kalshi_market",
    "parse_kalshi_orderbook",
    "parse_kalshi_resolution",
    "parse_kalshi_series",
    "to_decimal",
]

# Market ``status`` values that carry a final ``result`` (``disputed`` does not).
RESOLVED_STATUSES: Final = frozenset({"determined", "finalized", "amended"})
_ONE: Final = Decimal(1)
_CADENCES: Final = {"fifteen_min": "15m", "hourly": "hourly", "daily": "daily", "weekly": "weekly"}


@dataclass(frozen=True, slots=True)
class HistoricalCutoff:
    """``/historical/cutoff``: records older than these are served only by ``/historical/*``.

    The four times advance independently (orders about two weeks behind since 2026-09-24).
    """

    market_settled_ts: datetime | None
    trades_created_ts: datetime | None
    orders_updated_ts: datetime | None
    market_positions_last_updated_ts: datetime | None


@dataclass(frozen=True, slots=True)
class KalshiSeries:
    """The ``/series/{ticker}`` fields levercast uses (fees and settlement sources)."""

    ticker: str
    fee_type: str | None
    fee_multiplier: float | None
    settlement_sources: tuple[str, ...]
    exchange_index: int | None


@dataclass(frozen=True, slots=True)
class KalshiEvent:
    """The event fields levercast uses (title, cadence, fee overrides)."""

    ticker: str
    title: str | None
    cadence: str | None
    fee_type_override: str | None
    fee_multiplier_override: float | None


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


def _float(raw: Mapping[str, Any], field: str, where: str) -> float | None:
    value = to_decimal(raw.get(field), field, where)
    return None if value is None else float(value)


def parse_historical_cutoff(payload: Any) -> HistoricalCutoff:
    """The four cutoff times of ``/historical/cutoff`` (ISO-8601; unix seconds also accepted).

    Raises
    ------
    DataError
        The body is not an object, or a time is malformed.
    """
    where = "kalshi /historical/cutoff"
    if not isinstance(payload, Mapping):
        raise DataError(f"{where}: response must be an object; found {payload!r}"[:200])

    def stamp(field: str) -> datetime | None:
        value = payload.get(field)
        if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
            try:
                return datetime.fromtimestamp(int(value), tz=UTC)
            except (OverflowError, OSError, ValueError):
                raise DataError(f"{where}: {field} must be a time; found {value!r}") from None
        return _time(payload, field, where)

    return HistoricalCutoff(
        market_settled_ts=stamp("market_settled_ts"),
        trades_created_ts=stamp("trades_created_ts"),
        orders_updated_ts=stamp("orders_updated_ts"),
        market_positions_last_updated_ts=stamp("market_positions_last_updated_ts"),
    )


def parse_kalshi_series(payload: Any) -> KalshiSeries:
    """The fee fields of a ``/series/{ticker}`` response (``{"series": {...}}`` or the object).

    Raises
    ------
    DataError
        ``ticker`` missing or a malformed multiplier.
    """
    raw = payload.get("series", payload) if isinstance(payload, Mapping) else payload
    where = "kalshi series"
    ticker = str(_required(raw, "ticker", where))
    where = f"kalshi series {ticker}"
    sources = raw.get("settlement_sources") or []
    index = raw.get("exchange_index")
    return KalshiSeries(
        ticker=ticker,
        fee_type=str(raw["fee_type"]) if raw.get("fee_type") else None,
        fee_multiplier=_float(raw, "fee_multiplier", where),
        settlement_sources=tuple(
            str(s.get("name")) for s in sources if isinstance(s, Mapping) and s.get("name")
        ),
        exchange_index=int(index) if isinstance(index, int) else None,
    )


def parse_kalshi_event(raw: Any) -> KalshiEvent:
    """The fields levercast uses of one ``/events`` event object.

    Raises
    ------
    DataError
        ``event_ticker`` missing or a malformed fee override.
    """
    ticker = str(_required(raw, "event_ticker", "kalshi event"))
    where = f"kalshi event {ticker}"
    metadata = raw.get("product_metadata")
    cadence = metadata.get("cadence") if isinstance(metadata, Mapping) else None
    return KalshiEvent(
        ticker=ticker,
        title=str(raw["title"]) if raw.get("title") else None,
        cadence=_CADENCES.get(str(cadence), str(cadence)) if cadence else None,
        fee_type_override=(str(raw["fee_type_override"]) if raw.get("fee_type_override") else None),
        fee_multiplier_override=_float(raw, "fee_multiplier_override", where),
    )


def ineligible_reason(raw: Mapping[str, Any]) -> str | None:
    """Why a market object is not a plain $1 binary levercast can price, or None.

    Multivariate legs, non-binary (scalar) markets, notional other than $1 and settlement
    floors (``settlement_bounds_type`` other than ``default``) are left out.
    """
    if raw.get("mve_collection_ticker"):
        return "multivariate (combo) market"
    if raw.get("market_type", "binary") != "binary":
        return f"market_type is {raw.get('market_type')!r}, not 'binary'"
    notional = raw.get("notional_value_dollars")
    if notional not in (None, "") and Decimal(str(notional)) != _ONE:
        return f"notional_value_dollars is {notional!r}, not 1"
    bounds = raw.get("settlement_bounds_type")
    if bounds not in (None, "", "default"):
        return f"settlement_bounds_type is {bounds!r}, not 'default'"
    return None


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
    event: KalshiEvent | None = None,
    series: KalshiSeries | None = None,
) -> VenueMarket:
    """The domain record of one Kalshi market object (the one wire -> domain mapping).

    ``question`` is the event title (else the deprecated market title, else the YES subtitle)
    with the YES subtitle (e.g. the strike ``$110,000 or above``) appended in brackets when the
    title lacks it; ``rules`` joins the primary and secondary rules; ``end_date`` and
    ``close_time`` are ``close_time``. Fee fields come from the series, the event's overrides
    winning, and the market's fee waiver.

    Raises
    ------
    DataError
        ``ticker`` missing, no title of any kind, or a malformed time, strike or multiplier.
    """
    where = f"kalshi market {raw.get('ticker', '?') if isinstance(raw, Mapping) else '?'}"
    ticker = str(_required(raw, "ticker", where))
    event_title = event_title or (event.title if event else None)
    title = event_title or raw.get("title") or raw.get("yes_sub_title")
    if not title:
        raise DataError(
            f"{where}: one of the event title, field 'title' or field 'yes_sub_title' is "
            "required; found none"
        )
    title = str(title)
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
        category="crypto" if series_ticker and series_ticker.upper().startswith("KX") else None,
        cadence=event.cadence if event else None,
        fee_category=_fee_type(event, series),
        fee_multiplier=_multiplier(event, series),
        fee_waiver_until=_time(raw, "fee_waiver_expiration_time", where),
    )


def _fee_type(event: KalshiEvent | None, series: KalshiSeries | None) -> str | None:
    if event is not None and event.fee_type_override:
        return event.fee_type_override
    return series.fee_type if series is not None else None


def _multiplier(event: KalshiEvent | None, series: KalshiSeries | None) -> float | None:
    if event is not None and event.fee_multiplier_override is not None:
        return event.fee_multiplier_override
    return series.fee_multiplier if series is not None else None


_RESOLVED_AT: Final = (
    "settlement_ts",
    "expected_expiration_time",
    "latest_expiration_time",
    "close_time",
)


def parse_kalshi_resolution(raw: Mapping[str, Any]) -> MarketResolution | None:
    """The winner of a determined/finalized binary market (``result`` yes/no), else None.

    ``resolved_at`` is ``settlement_ts``, else ``expected_expiration_time``,
    ``latest_expiration_time``, ``close_time`` (``expiration_time`` is deprecated);
    ``settled_value`` is ``expiration_value`` (for crypto series the 60-s index average).
    """
    result = str(raw.get("result") or "")
    if result not in ("yes", "no") or raw.get("status") not in RESOLVED_STATUSES:
        return None
    where = f"kalshi market {raw.get('ticker', '?')}"
    resolved_at = next(
        (t for t in (_time(raw, f, where) for f in _RESOLVED_AT) if t is not None), None
    )
    value = to_decimal(raw.get("expiration_value"), "expiration_value", where)
    return MarketResolution(
        market_id=str(_required(raw, "ticker", where)),
        winning_outcome="Yes" if result == "yes" else "No",
        resolved_at=resolved_at,
        settled_value=float(value) if value is not None else None,
        source="kalshi",
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
