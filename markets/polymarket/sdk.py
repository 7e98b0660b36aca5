"""``polymarket-client`` (the official SDK, ``import polymarket``) on levercast's URLs and HTTP.

The SDK (pinned ``==0.14.0``: the two hooks below are private) takes no base URL, timeout or
HTTP client in its public constructor, reads no environment variable and retries only Data-API
429s (with a blocking ``time.sleep``). So, as the SDK's own tests do:

- **URLs**: ``sdk_environment`` builds an ``Environment`` from ``VenueSettings`` (Gamma, CLOB,
  Data API, market websocket) with ``polymarket._internal.environment.create_environment``;
- **transport**: each service's ``SyncTransport`` in the private ``client._ctx`` is replaced by
  ``LevercastTransport``, the SDK's own class around an ``httpx.Client`` levercast builds
  (timeout ``VenueSettings.timeout_secs``, ``httpx.HTTPTransport(retries=0)`` or an injected
  transport). It keeps the last JSON payload of each service, so fields the SDK's models drop
  (``cryptoMarketConfig``, ``createdAt``) are read from the very response the SDK parsed, and it
  raises ``Throttled`` for a 429 instead of the SDK's ``RateLimitError``, so that the SDK's
  non-injectable sleep never runs;
- **retries and errors**: ``PolymarketSdk.call`` retries 429 (honouring ``Retry-After``), 5xx,
  timeouts, one refused connection and malformed JSON bodies with exponential backoff and full
  jitter, then raises ``MarketUnavailable``; a body that does not fit the SDK's models is a
  ``DataError``, and so is an argument the SDK refuses (they come from venue data). Every message
  is one line.

HTTP deadlines and secret scrubbing (issue 19): by default each service's httpx client runs on
``features.deadline.deadline_transport`` (a total deadline per request, no private headers
off-origin) and every message goes through ``features.redaction.scrub`` after query strings are
cut; ``http_transport`` (a factory of the transport each service uses) and ``scrub`` replace
them.

The SDK takes about 1.7 s to import (eth-account and friends), so it is imported on first use.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import time
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from levercast.features.errors import DataError, MarketUnavailable
from levercast.markets.settings import VenueSettings

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SDK_VERSION",
    "PolymarketSdk",
    "Throttled",
    "scrub_message",
    "sdk_environment",
]

SDK_VERSION: Final = "0.14.0"
Service = Literal["gamma", "clob", "data"]
T = TypeVar("T")
_URL_QUERY: Final = re.compile(r"(https?://[^\s?]+)\?\S*")
_MAX_CONNECT_RETRIES: Final = 1  # a host refusing connections rarely recovers within a backoff


class Throttled(Exception):
    """A 429 seen by ``LevercastTransport`` (raised instead of the SDK's ``RateLimitError``)."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__(f"HTTP 429 (Retry-After {retry_after})")
        self.retry_after = retry_after


def scrub_message(text: str) -> str:
    """One line of at most 300 characters: query strings cut from echoed URLs, then
    ``features.redaction.scrub`` (credentials of every known form)."""
    from levercast.features.redaction import one_line, scrub

    return one_line(scrub(_URL_QUERY.sub(r"\1", str(text))))


def sdk_environment(settings: VenueSettings) -> Any:
    """The SDK ``Environment`` whose Gamma, CLOB, Data-API and websocket URLs are ``settings``'.

    Production when every URL is the default; else an environment named ``levercast``.
    """
    from polymarket._internal.environment import PRODUCTION_CONFIG, create_environment
    from polymarket.environments import PRODUCTION

    config = dataclasses.replace(
        PRODUCTION_CONFIG,
        gamma_url=settings.gamma_url,
        clob_url=settings.clob_url,
        data_url=settings.data_url,
        clob_market_ws_url=settings.market_ws_url,
    )
    if config == PRODUCTION_CONFIG:
        return PRODUCTION
    return create_environment(name="levercast", config=config)


@cache
def _transport_class() -> type:
    """``LevercastTransport``: the SDK's ``SyncTransport``, keeping payloads, raising ``Throttled``.

    Defined on first use: subclassing needs the SDK imported.
    """
    from polymarket.clients._transport import SyncTransport
    from polymarket.errors import RateLimitError

    class LevercastTransport(SyncTransport):  # type: ignore[misc]
        """The SDK transport around a levercast ``httpx.Client`` (which it does not close)."""

        def __init__(self, *, base_url: str, client: httpx.Client) -> None:
            super().__init__(base_url=base_url, client=client)
            self.last_json: Any = None

        def get_json(self, path: str, **kwargs: Any) -> Any:
            try:
                payload = super().get_json(path, **kwargs)
            except RateLimitError as e:
                raise Throttled(e.retry_after) from e
            self.last_json = payload
            return payload

        def post_json(self, path: str, **kwargs: Any) -> Any:
            try:
                payload = super().post_json(path, **kwargs)
            except RateLimitError as e:
                raise Throttled(e.retry_after) from e
            self.last_json = payload
            return payload

    return LevercastTransport


def _shape_error(error: BaseException) -> str:
    """What did not fit: the SDK message and the first pydantic errors (location: message)."""
    cause = error.__cause__
    details = ""
    if cause is not None and hasattr(cause, "errors"):
        parts = []
        for item in cause.errors()[:3]:
            where = ".".join(str(p) for p in item.get("loc", ()))
            parts.append(f"field {where!r}: {item.get('msg', '')}")
        details = "; " + "; ".join(parts) if parts else ""
    return f"{error}{details} (polymarket-client {SDK_VERSION})"


class PolymarketSdk:
    """One ``polymarket.PublicClient`` on ``settings``' URLs, with retries (see module docstring).

    Parameters
    ----------
    settings
        URLs, timeout, retries, backoff and per-service minimum intervals.
    sleep, clock
        Injected for tests (default ``time.sleep``, ``time.monotonic``).
    seed
        Seed of the backoff jitter.
    http_transport
        Factory ``service -> httpx.BaseTransport`` (default: ``httpx.HTTPTransport(retries=0)``
        inside ``features.deadline.deadline_transport`` for the service's URL).
    scrub
        Applied to every error message (default ``scrub_message``).
    """

    def __init__(
        self,
        settings: VenueSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        http_transport: Callable[[str], httpx.BaseTransport] | None = None,
        scrub: Callable[[str], str] = scrub_message,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._http_transport = http_transport
        self._scrub = scrub
        self._client: Any = None
        self._transports: dict[str, Any] = {}
        self._http: list[httpx.Client] = []
        self._last: dict[str, float] = {}
        self.requests_made = 0

    @property
    def client(self) -> Any:
        """The ``polymarket.PublicClient`` (imported and built on first use)."""
        if self._client is None:
            self._client = self._build()
        return self._client

    def _build(self) -> Any:
        import httpx
        from polymarket import PublicClient

        from levercast.features.deadline import deadline_transport

        settings = self.settings
        client = PublicClient(sdk_environment(settings))
        kind = _transport_class()
        urls = {"gamma": settings.gamma_url, "clob": settings.clob_url, "data": settings.data_url}
        for service, url in urls.items():
            getattr(client._ctx, service).close()  # the SDK's own httpx client, never used
            transport = (
                self._http_transport(service)
                if self._http_transport is not None
                else deadline_transport(base_url=url, transport=httpx.HTTPTransport(retries=0))
            )
            http = httpx.Client(
                base_url=url,
                timeout=httpx.Timeout(settings.timeout_secs),
                transport=transport,
                http2=True,
            )
            self._http.append(http)
            self._transports[service] = kind(base_url=url, client=http)
        client._ctx = dataclasses.replace(client._ctx, **self._transports)
        return client

    def last_json(self, service: Service) -> Any:
        """The JSON payload of the last successful response of ``service``."""
        transport = self._transports.get(service)
        return transport.last_json if transport is not None else None

    def close(self) -> None:
        """Close the SDK client and levercast's httpx clients (idempotent)."""
        if self._client is not None:
            self._client.close()
        for http in self._http:
            http.close()
        self._client, self._transports, self._http = None, {}, []

    def _wait_rate_limit(self, service: Service) -> None:
        gap = {
            "gamma": self.settings.gamma_min_interval_secs,
            "clob": self.settings.clob_min_interval_secs,
            "data": self.settings.data_min_interval_secs,
        }[service] - (self._clock() - self._last.get(service, -float("inf")))
        if gap > 0:
            self._sleep(gap)
        self._last[service] = self._clock()

    def _backoff(self, attempt: int, retry_after: float | None) -> None:
        cap = self.settings.max_backoff_secs
        if retry_after is not None:
            self._sleep(min(max(retry_after, 0.0), cap))
            return
        self._sleep(self._rng.uniform(0, min(cap, self.settings.backoff_secs * 2**attempt)))

    def call(self, service: Service, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` (one SDK call: one request) with retries; failures end as levercast errors.

        Raises
        ------
        MarketUnavailable
            After the retries are spent, or at once for a 4xx other than 429.
        DataError
            The response does not fit the SDK's model, or the SDK refused an argument before
            sending (they come from venue data: token and condition ids).
        """
        import httpx
        from polymarket.errors import (
            PolymarketError,
            RequestRejectedError,
            TransportError,
            UnexpectedResponseError,
            UserInputError,
        )

        shown = f"polymarket {service} {what}"
        retries, attempt, refused = self.settings.max_retries, 0, 0
        while True:
            self._wait_rate_limit(service)
            self.requests_made += 1
            retry_after: float | None = None
            try:
                return fn()
            except Throttled as e:
                last, retry_after = "HTTP 429", e.retry_after
            except RequestRejectedError as e:
                if e.status < 500:
                    raise MarketUnavailable(
                        f"{shown} failed: HTTP {e.status}: {self._scrub(str(e))}"
                    ) from e
                last, retry_after = f"HTTP {e.status}", e.retry_after
            except TransportError as e:
                cause = e.__cause__
                if isinstance(cause, httpx.TimeoutException) and "deadline" in str(cause):
                    last = self._scrub(str(cause))
                elif isinstance(cause, httpx.TimeoutException):
                    last = f"timed out after {self.settings.timeout_secs:g} s"
                elif isinstance(cause, httpx.ConnectError):
                    last = f"connection failed ({type(cause).__name__})"
                    refused += 1
                    retries = min(retries, attempt + _MAX_CONNECT_RETRIES + 1 - refused)
                else:
                    last = f"transport error ({self._scrub(str(e))})"
            except UnexpectedResponseError as e:
                if not isinstance(e.__cause__, json.JSONDecodeError):
                    raise DataError(f"{shown}: {self._scrub(_shape_error(e))}") from e
                last = "malformed JSON body"
            except UserInputError as e:
                raise DataError(f"{shown}: polymarket-client refused an argument: {e}") from e
            except PolymarketError as e:
                raise MarketUnavailable(f"{shown} failed: {self._scrub(str(e))}") from e
            if attempt >= retries:
                break
            self._backoff(attempt, retry_after)
            attempt += 1
        raise MarketUnavailable(f"{shown} failed after {attempt + 1} attempt(s): {last}")
