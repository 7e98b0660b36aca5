"""Polymarket CLOB reads through ``py-clob-client`` at level 0 (``ClobClient(host)``).

``ClobReader`` wraps the book, midpoint, price, tick size and fee rate calls so that failures
are retried (429 honouring ``Retry-After``, 5xx, request errors and timeouts, malformed bodies)
and end as one ``MarketUnavailable`` (a missing field is a ``DataError``). py-clob-client talks
through one module-level ``httpx.Client`` with a fixed 5 s timeout and no retries; ``ClobReader``
sets that client's timeout to ``VenueSettings.timeout_secs`` (process-wide) and hooks its
responses to read ``Retry-After``. ``parse_clob_book`` maps the SDK's ``OrderBookSummary`` into
the domain ``OrderBook`` (best prices by max/min, never from the venue's order, APIS.md §0.4).

Moving to the unified ``polymarket-client`` SDK replaces this file only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from levercast.features.errors import ConfigError, DataError, MarketUnavailable
from levercast.markets.settings import VenueSettings
from levercast.markets.types import BookLevel, OrderBook, Venue, VenueMarket

__all__ = ["ClobReader", "parse_clob_book"]

_retry_after = threading.local()


def _record_retry_after(response: Any) -> None:
    _retry_after.value = response.headers.get("Retry-After")


def _configure_clob_http(timeout_secs: float) -> None:
    """Give py-clob-client's module-level httpx client a timeout and a Retry-After hook."""
    import httpx
    from py_clob_client.http_helpers import helpers

    client = helpers._http_client
    client.timeout = httpx.Timeout(timeout_secs)
    hooks = client.event_hooks
    if _record_retry_after not in hooks.get("response", []):
        hooks.setdefault("response", []).append(_record_retry_after)
        client.event_hooks = hooks


class ClobReader:
    """Level-0 py-clob-client calls with retries; every failure ends as ``MarketUnavailable``.

    Parameters
    ----------
    settings
        ``clob_url``, ``timeout_secs``, ``max_retries``, backoff.
    sleep
        Injected for tests (default ``time.sleep``).
    seed
        Seed of the backoff jitter.
    """

    def __init__(
        self,
        settings: VenueSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        import random

        from py_clob_client.client import ClobClient

        _configure_clob_http(settings.timeout_secs)
        self._client = ClobClient(settings.clob_url)
        self._settings = settings
        self._sleep = sleep
        self._rng = random.Random(seed)

    def _call(
        self, what: str, method: Callable[..., Any], *args: Any, text_ok: bool = False
    ) -> Any:
        from py_clob_client.exceptions import PolyApiException

        settings = self._settings
        last = "no attempt made"
        for attempt in range(settings.max_retries + 1):
            _retry_after.value = None
            try:
                result = method(*args)
            except PolyApiException as e:
                status = e.status_code
                if status is not None and status != 429 and status < 500:
                    raise MarketUnavailable(
                        f"polymarket CLOB {what} failed: HTTP {status}: {str(e.error_msg)[:160]}"
                    ) from None
                last = f"HTTP {status}" if status else "request failed (timeout or no connection)"
            except KeyError as e:
                raise DataError(
                    f"polymarket CLOB {what}: field {e.args[0]!r} is required; found it missing"
                ) from None
            except (TypeError, AttributeError, ValueError, InvalidOperation):
                last = "malformed response body"
            else:
                if text_ok or not isinstance(result, str):  # text = undecodable JSON body
                    return result
                last = "malformed response body"
            if attempt < settings.max_retries:
                self._backoff(attempt)
        raise MarketUnavailable(
            f"polymarket CLOB {what} failed after {settings.max_retries + 1} attempt(s): {last}"
        )

    def _backoff(self, attempt: int) -> None:
        cap = self._settings.max_backoff_secs
        hinted = getattr(_retry_after, "value", None)
        try:
            wait = float(hinted) if hinted else None
        except ValueError:
            wait = None
        if wait is None:
            wait = self._rng.uniform(0, min(cap, self._settings.backoff_secs * 2**attempt))
        self._sleep(min(max(wait, 0.0), cap))

    def book(self, token_id: str) -> Any:
        """``OrderBookSummary`` of one token (string fields)."""
        return self._call(f"book {token_id[:12]}", self._client.get_order_book, token_id)

    def midpoint(self, token_id: str) -> float:
        """Mid price of one token."""
        raw = self._call(f"midpoint {token_id[:12]}", self._client.get_midpoint, token_id)
        return _probability(raw, "mid", "midpoint")

    def price(self, token_id: str, side: str) -> float:
        """Executable price of one token for ``side`` (``BUY``/``SELL``)."""
        if side not in ("BUY", "SELL"):
            raise ConfigError(f"side must be 'BUY' or 'SELL'; found {side!r}")
        raw = self._call(f"price {token_id[:12]}", self._client.get_price, token_id, side)
        return _probability(raw, "price", "price")

    def tick_size(self, token_id: str) -> float:
        """Minimum tick size of one token."""
        raw = self._call(
            f"tick size {token_id[:12]}", self._client.get_tick_size, token_id, text_ok=True
        )
        return float(raw)

    def fee_rate_bps(self, token_id: str) -> int:
        """Base fee rate of one token in basis points."""
        raw = self._call(f"fee rate {token_id[:12]}", self._client.get_fee_rate_bps, token_id)
        return int(raw)


def _probability(raw: Any, field: str, what: str) -> float:
    if not isinstance(raw, Mapping) or raw.get(field) in (None, ""):
        raise DataError(f"polymarket CLOB {what}: field {field!r} is required; found {raw!r}")
    value = float(Decimal(str(raw[field])))
    if not 0.0 <= value <= 1.0:
        raise DataError(f"polymarket CLOB {what}: {field} must be within [0, 1]; found {value}")
    return value


def _levels(levels: Sequence[Any] | None, what: str) -> tuple[BookLevel, ...]:
    out = []
    for level in levels or ():
        try:
            out.append(BookLevel(float(Decimal(level.price)), float(Decimal(level.size))))
        except (InvalidOperation, TypeError, ConfigError) as e:
            raise DataError(f"polymarket CLOB {what}: bad level {level!r}: {e}") from None
    return tuple(out)


def parse_clob_book(summary: Any, market: VenueMarket, *, received_at: datetime) -> OrderBook:
    """The domain book of a py-clob-client ``OrderBookSummary`` for the market's first outcome.

    ``observed_at`` is the book's server timestamp (epoch ms) when given, else ``received_at``.
    """
    what = f"book of {market.market_id}"
    observed = received_at
    if summary.timestamp:
        try:
            observed = datetime.fromtimestamp(int(summary.timestamp) / 1000, tz=UTC)
        except (TypeError, ValueError):
            raise DataError(
                f"polymarket CLOB {what}: bad timestamp {summary.timestamp!r}"
            ) from None
    tick = float(Decimal(summary.tick_size)) if summary.tick_size else None
    return OrderBook(
        venue=Venue.POLYMARKET.value,
        market_id=market.market_id,
        outcome=market.outcomes[0],
        observed_at=observed,
        bids=_levels(summary.bids, what),
        asks=_levels(summary.asks, what),
        tick_size=tick,
    )
