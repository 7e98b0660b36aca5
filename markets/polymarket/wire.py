"""Polymarket wire types and their one mapping into domain records (STYLE G4).

Gamma markets arrive two ways and end as one ``GammaMarketWire``:

- ``wire_from_sdk``: a ``polymarket-client`` ``Market`` model (the reads of
  ``markets.polymarket.client``) completed from the same market's raw JSON, which levercast's
  transport keeps (``markets.polymarket.sdk``): the model drops ``createdAt`` and
  ``cryptoMarketConfig`` (asset, duration), which levercast needs;
- ``decode_gamma_market``: raw JSON alone (recorded payloads, anything read outside the SDK).
  Gamma sends ``outcomes``, ``outcomePrices``, ``clobTokenIds`` (and sometimes ``positionIds``)
  as JSON-encoded strings; they are decoded here.

Protocol V2 markets (``version: "v2"``) carry position ids instead of CLOB token ids; those are
used as the token ids (APIS.md §0.1). Data-API resolutions map through
``parse_data_resolution``. Nothing outside ``markets/polymarket/`` sees a venue field name or an
SDK model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from levercast.features.errors import ConfigError, DataError
from levercast.features.timeutil import parse_utc
from levercast.markets.client import MarketResolution
from levercast.markets.types import Venue, VenueMarket

__all__ = [
    "GammaEventWire",
    "GammaMarketWire",
    "decode_gamma_event",
    "decode_gamma_market",
    "decode_keyset_page",
    "parse_data_resolution",
    "parse_gamma_market",
    "parse_gamma_resolution",
    "wire_from_sdk",
]

_WIN_PRICE: Final = 0.999  # a resolved market's outcomePrices read "1"/"0"
# feeType prefixes -> fee-schedule categories (markets/fee_schedule.json); zero_fees has none.
_FEE_CATEGORIES: Final = (
    "crypto",
    "sports",
    "politics",
    "finance",
    "tech",
    "mentions",
    "economics",
    "culture",
    "weather",
    "geopolitics",
)


@dataclass(frozen=True, slots=True)
class GammaEventWire:
    """The parent event of a Gamma market (the fields levercast uses)."""

    id: str
    slug: str | None
    title: str | None
    recurrence: str | None = None


@dataclass(frozen=True, slots=True)
class GammaMarketWire:
    """One Gamma market, decoded (JSON-string fields parsed, times tz-aware UTC)."""

    id: str
    question: str
    condition_id: str | None
    slug: str | None
    description: str
    resolution_source: str | None
    outcomes: tuple[str, ...]
    outcome_prices: tuple[float, ...]
    token_ids: tuple[str, ...]
    version: str
    created_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    closed_time: datetime | None
    active: bool | None
    closed: bool | None
    uma_resolution_status: str | None
    group_item_title: str | None
    events: tuple[GammaEventWire, ...]
    tag_slugs: tuple[str, ...]
    crypto_asset: str | None
    fee_rate: float | None
    fee_exponent: float | None
    rebate_rate: float | None
    fees_enabled: bool | None = None
    fee_type: str | None = None
    fee_taker_only: bool | None = None
    cadence: str | None = None

    @property
    def category(self) -> str | None:
        """Fee-schedule category: ``crypto`` for crypto markets, else from ``feeType``."""
        if self.crypto_asset is not None or "crypto" in self.tag_slugs:
            return "crypto"
        kind = self.fee_type or ""
        return next((c for c in _FEE_CATEGORIES if kind.startswith(c)), None)


def _where(raw: Mapping[str, Any]) -> str:
    return f"polymarket gamma market {raw.get('id', '?')}"


def _required(raw: Mapping[str, Any], field: str, where: str) -> Any:
    value = raw.get(field)
    if value is None:
        raise DataError(f"{where}: field {field!r} is required; found it missing")
    return value


def _text(raw: Mapping[str, Any], field: str) -> str | None:
    value = raw.get(field)
    return None if value in (None, "") else str(value)


def _json_list(raw: Mapping[str, Any], field: str, where: str) -> list[Any]:
    value = raw.get(field)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise DataError(
                f"{where}: field {field!r} must be a JSON-encoded list; found {value[:80]!r}"
            ) from e
    if not isinstance(value, list):
        raise DataError(f"{where}: field {field!r} must be a list; found {value!r}"[:200])
    return value


def _time(raw: Mapping[str, Any], field: str, where: str) -> datetime | None:
    value = raw.get(field)
    if value in (None, ""):
        return None
    try:
        return parse_utc(str(value), name=field)
    except ConfigError as e:
        raise DataError(
            f"{where}: field {field!r} must be an ISO-8601 time; found {value!r}"
        ) from e


def _bool(raw: Mapping[str, Any], field: str) -> bool | None:
    value = raw.get(field)
    return None if value is None else bool(value)


def _number(value: Any, field: str, where: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as e:
        raise DataError(f"{where}: field {field!r} must be a number; found {value!r}") from e


def decode_gamma_event(raw: Mapping[str, Any]) -> GammaEventWire:
    """Decode the event fields levercast uses (``id``, ``slug``, ``title``, series recurrence)."""
    if not isinstance(raw, Mapping):
        raise DataError(f"polymarket gamma event must be an object; found {raw!r}"[:200])
    where = f"polymarket gamma event {raw.get('id', '?')}"
    series = raw.get("series") or []
    first = series[0] if series and isinstance(series[0], Mapping) else {}
    return GammaEventWire(
        id=str(_required(raw, "id", where)),
        slug=_text(raw, "slug"),
        title=_text(raw, "title"),
        recurrence=_text(first, "recurrence"),
    )


def _crypto(raw: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(asset, duration)`` of ``cryptoMarketConfig`` (dropped by the SDK model)."""
    config = raw.get("cryptoMarketConfig")
    if not isinstance(config, Mapping):
        return None, None
    asset = str(config["asset"]).upper() if config.get("asset") else None
    return asset, _text(config, "duration")


def decode_gamma_market(
    raw: Mapping[str, Any], *, event: GammaEventWire | None = None
) -> GammaMarketWire:
    """Decode one Gamma market object (from ``/markets…`` or nested in ``/events…``).

    Parameters
    ----------
    raw
        The JSON object.
    event
        The parent event when the market came nested in an event (its ``events`` is then
        usually absent).

    Raises
    ------
    DataError
        A required field (``id``, ``question``, ``outcomes``) is missing, or a field has the
        wrong shape; the message names the market, the field and the value.
    """
    if not isinstance(raw, Mapping):
        raise DataError(f"polymarket gamma market must be an object; found {raw!r}"[:200])
    where = _where(raw)
    market_id = str(_required(raw, "id", where))
    question = str(_required(raw, "question", where))
    _required(raw, "outcomes", where)
    outcomes = tuple(str(o) for o in _json_list(raw, "outcomes", where))
    prices = tuple(
        p
        for p in (
            _number(v, "outcomePrices", where) for v in _json_list(raw, "outcomePrices", where)
        )
        if p is not None
    )
    version = str(raw.get("version") or "v1")
    token_field = "positionIds" if version == "v2" else "clobTokenIds"
    tokens = tuple(str(t) for t in _json_list(raw, token_field, where))
    if tokens and len(tokens) != len(outcomes):
        raise DataError(
            f"{where}: field {token_field!r} must have one id per outcome ({len(outcomes)}); "
            f"found {len(tokens)}"
        )
    events = [decode_gamma_event(e) for e in raw.get("events") or []]
    if event is not None and not any(e.id == event.id for e in events):
        events.insert(0, event)
    schedule = raw.get("feeSchedule")
    fees: Mapping[str, Any] = schedule if isinstance(schedule, Mapping) else {}
    asset, duration = _crypto(raw)
    tags = raw.get("tags") or []
    return GammaMarketWire(
        id=market_id,
        question=question,
        condition_id=_text(raw, "conditionId"),
        slug=_text(raw, "slug"),
        description=str(raw.get("description") or ""),
        resolution_source=_text(raw, "resolutionSource"),
        outcomes=outcomes,
        outcome_prices=prices,
        token_ids=tokens,
        version=version,
        created_at=_time(raw, "createdAt", where),
        start_date=_time(raw, "startDate", where),
        end_date=_time(raw, "endDate", where),
        closed_time=_time(raw, "closedTime", where),
        active=_bool(raw, "active"),
        closed=_bool(raw, "closed"),
        uma_resolution_status=_text(raw, "umaResolutionStatus"),
        group_item_title=_text(raw, "groupItemTitle"),
        events=tuple(events),
        tag_slugs=tuple(str(t.get("slug")) for t in tags if isinstance(t, Mapping)),
        crypto_asset=asset,
        fee_rate=_number(fees.get("rate"), "feeSchedule.rate", where),
        fee_exponent=_number(fees.get("exponent"), "feeSchedule.exponent", where),
        rebate_rate=_number(fees.get("rebateRate"), "feeSchedule.rebateRate", where),
        fees_enabled=_bool(raw, "feesEnabled"),
        fee_type=_text(raw, "feeType"),
        fee_taker_only=_bool(fees, "takerOnly"),
        cadence=duration or (event.recurrence if event else None),
    )


def _aware(value: datetime | None, field: str, where: str) -> datetime | None:
    if value is None:
        return None
    if value.utcoffset() is None:
        raise DataError(f"{where}: field {field!r} must carry a UTC offset; found {value}")
    return value.astimezone(UTC)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def wire_from_sdk(
    market: Any, raw: Mapping[str, Any], *, event: GammaEventWire | None = None
) -> GammaMarketWire:
    """Decode one market from a ``polymarket-client`` ``Market`` and its raw JSON object.

    Parameters
    ----------
    market
        The SDK's ``polymarket.models.gamma.Market`` (a binary market: the SDK keeps no other).
    raw
        The same market's JSON object (from the page levercast's transport kept), for the
        fields the model drops: ``createdAt`` and ``cryptoMarketConfig``.
    event
        The parent event when the market came nested in an event.

    Raises
    ------
    DataError
        A naive time (Gamma times carry offsets; the SDK would keep a naive one naive), or a
        malformed ``createdAt``.
    """
    where = f"polymarket gamma market {market.id}"
    sides = (market.outcomes.yes, market.outcomes.no)
    version = market.version.value if market.version is not None else "v1"
    ids = [side.position_id if version == "v2" else side.token_id for side in sides]
    events = [GammaEventWire(id=str(e.id), slug=e.slug, title=e.title) for e in market.events]
    if event is not None and not any(e.id == event.id for e in events):
        events.insert(0, event)
    fees = market.trading.fee_schedule
    uma = market.resolution.uma_resolution_status
    state = market.state
    asset, duration = _crypto(raw)
    return GammaMarketWire(
        id=str(market.id),
        question=str(market.question or ""),
        condition_id=str(market.condition_id) if market.condition_id else None,
        slug=market.slug,
        description=str(market.description or ""),
        resolution_source=market.resolution.source or None,
        outcomes=tuple(str(side.label) for side in sides),
        outcome_prices=tuple(float(p.price) for p in sides if p.price is not None),
        token_ids=tuple(str(i) for i in ids) if all(ids) else (),
        version=version,
        created_at=_time(raw, "createdAt", where),
        start_date=_aware(state.start_date, "startDate", where),
        end_date=_aware(state.end_date, "endDate", where),
        closed_time=_aware(state.closed_time, "closedTime", where),
        active=state.active,
        closed=state.closed,
        uma_resolution_status=uma.value if uma is not None else None,
        group_item_title=market.group_item_title,
        events=tuple(events),
        tag_slugs=tuple(str(t.slug) for t in market.tags if t.slug),
        crypto_asset=asset,
        fee_rate=_float(fees.rate) if fees is not None else None,
        fee_exponent=_float(fees.exponent) if fees is not None else None,
        rebate_rate=_float(fees.rebate_rate) if fees is not None else None,
        fees_enabled=market.trading.fees_enabled,
        fee_type=market.trading.fee_type,
        fee_taker_only=fees.taker_only if fees is not None else None,
        cadence=duration or (event.recurrence if event else None),
    )


def decode_keyset_page(payload: Any, key: str, *, path: str) -> tuple[list[Any], str | None]:
    """Items and ``next_cursor`` of a Gamma keyset page (``{key: [...], "next_cursor": ...}``).

    Raises
    ------
    DataError
        The body is not an object holding a ``key`` list.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get(key), list):
        shown = list(payload)[:8] if isinstance(payload, Mapping) else type(payload).__name__
        raise DataError(
            f"polymarket gamma {path}: response must be an object with a {key!r} list; "
            f"found {shown}"
        )
    cursor = payload.get("next_cursor")
    return list(payload[key]), (str(cursor) if cursor else None)


def parse_gamma_market(wire: GammaMarketWire) -> VenueMarket:
    """The domain record of a decoded Gamma market (the one wire -> domain mapping).

    ``market_id`` is the condition id (the dataset's convention), else ``gamma-<id>``;
    ``event_ticker`` is the parent event's slug (Gamma's event ``ticker`` equals it).
    """
    event = wire.events[0] if wire.events else None
    return VenueMarket(
        venue=Venue.POLYMARKET.value,
        market_id=wire.condition_id or f"gamma-{wire.id}",
        question=wire.question,
        rules=wire.description,
        outcomes=wire.outcomes,
        token_ids=wire.token_ids,
        created_at=wire.created_at,
        end_date=wire.end_date,
        close_time=wire.closed_time,
        event_ticker=event.slug if event else None,
        event_title=event.title if event else None,
        slug=wire.slug,
        resolution_source=wire.resolution_source,
        active=wire.active,
        closed=wire.closed,
        protocol_version=wire.version,
        fee_rate=wire.fee_rate,
        fee_exponent=wire.fee_exponent,
        maker_rebate_rate=wire.rebate_rate,
        category=wire.category,
        cadence=wire.cadence,
        fees_enabled=wire.fees_enabled,
        fee_taker_only=wire.fee_taker_only,
        fee_category=wire.fee_type,
    )


def parse_gamma_resolution(wire: GammaMarketWire) -> MarketResolution | None:
    """The winner of a closed market whose outcome prices settled at 1/0, else None.

    ``resolved_at`` is Gamma's ``closedTime`` (None when absent).
    """
    if not wire.closed or len(wire.outcome_prices) != len(wire.outcomes):
        return None
    if wire.uma_resolution_status not in (None, "resolved", "settled"):
        return None
    winners = [
        o for o, p in zip(wire.outcomes, wire.outcome_prices, strict=True) if p >= _WIN_PRICE
    ]
    if len(winners) != 1:
        return None
    return MarketResolution(
        market_id=wire.condition_id or f"gamma-{wire.id}",
        winning_outcome=winners[0],
        resolved_at=wire.closed_time,
        source="gamma",
    )


def parse_data_resolution(resolution: Any, wire: GammaMarketWire) -> MarketResolution | None:
    """The winner of a market from its Data-API ``Resolution`` (``polymarket-client`` model).

    A market is resolved when the status is ``resolved`` and exactly one payout is 1 (payouts
    are per outcome, in the market's outcome order; the SDK scales the wire's 1e6 integers).
    ``resolved_at`` is the resolution's ``resolved_at``, else its ``last_updated_at``, else
    Gamma's ``closedTime``. Anything else (proposed, disputed, a 50-50 split) is None.
    """
    status = getattr(resolution.status, "value", resolution.status)
    payouts = resolution.payouts
    if status != "resolved" or payouts is None or len(payouts) != len(wire.outcomes):
        return None
    winners = [o for o, p in zip(wire.outcomes, payouts, strict=True) if p == 1]
    if len(winners) != 1:
        return None
    where = f"polymarket data-api resolution of {wire.condition_id}"
    resolved_at = _aware(resolution.resolved_at, "resolved_at", where) or _aware(
        resolution.last_updated_at, "last_update_timestamp", where
    )
    return MarketResolution(
        market_id=wire.condition_id or f"gamma-{wire.id}",
        winning_outcome=winners[0],
        resolved_at=resolved_at or wire.closed_time,
        source="data-api",
    )
