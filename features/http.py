"""A small retrying HTTP client shared by every venue and feed client (requests-based).

Retries 429 (honouring ``Retry-After``), 5xx, timeouts, connection errors and malformed JSON
bodies with exponential backoff and full jitter, then raises ``MarketUnavailable`` with one clear
line. Other 4xx fail at once. A minimum interval between requests enforces a rate limit. Query
parameters whose names look secret (key, token, secret, signature) are redacted from every
message. The session, the clock and the random source are injected (STYLE G12).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from levercast.features.errors import ConfigError, MarketUnavailable

__all__ = ["HttpClient", "HttpSettings", "redact"]

_SECRET = re.compile(r"(key|token|secret|signature|passphrase|auth)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where and how politely to call one service.

    Attributes
    ----------
    base_url
        e.g. ``https://fapi.binance.com``.
    timeout_secs
        Connect and read timeout of one request.
    max_retries
        Retries after the first attempt for transient failures.
    backoff_secs, max_backoff_secs
        Exponential backoff base and cap (full jitter).
    min_interval_secs
        Minimum time between two requests (client-side rate limit).
    max_connect_retries
        Retries of a refused or failed connection (at most ``max_retries``). A host that refuses
        connections rarely recovers within a backoff window, so an offline run fails fast.
    """

    base_url: str
    timeout_secs: float = 10.0
    max_retries: int = 4
    backoff_secs: float = 0.5
    max_backoff_secs: float = 30.0
    min_interval_secs: float = 0.0
    max_connect_retries: int = 1

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"base_url must start with http:// or https://; found {self.base_url!r}"
            )
        for name in ("timeout_secs", "backoff_secs", "max_backoff_secs"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive; found {getattr(self, name)}")
        if self.max_retries < 0 or self.min_interval_secs < 0 or self.max_connect_retries < 0:
            raise ConfigError(
                f"max_retries, max_connect_retries and min_interval_secs must be >= 0; found "
                f"{self.max_retries}, {self.max_connect_retries}, {self.min_interval_secs}"
            )


def redact(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Copy of ``params`` with secret-looking values replaced by ``***``."""
    return {k: ("***" if _SECRET.search(str(k)) else v) for k, v in (params or {}).items()}


def _retry_after_secs(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpClient:
    """GET JSON or bytes from one service with retries (see module docstring).

    Parameters
    ----------
    settings
        Base URL, timeouts, retry and rate-limit settings.
    session
        A ``requests.Session`` (default: a new one).
    sleep, clock
        Injected for tests (default ``time.sleep``, ``time.monotonic``).
    seed
        Seed of the jitter.
    name
        Service name used in error messages.
    headers
        Extra headers sent with every request (never included in messages).
    """

    def __init__(
        self,
        settings: HttpSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._last = -float("inf")
        self.name = name or settings.base_url
        self._headers = dict(headers or {})
        self.requests_made = 0

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _wait_rate_limit(self) -> None:
        gap = self.settings.min_interval_secs - (self._clock() - self._last)
        if gap > 0:
            self._sleep(gap)
        self._last = self._clock()

    def _backoff(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            self._sleep(min(retry_after, self.settings.max_backoff_secs))
            return
        cap = min(self.settings.max_backoff_secs, self.settings.backoff_secs * 2**attempt)
        self._sleep(self._rng.uniform(0, cap))

    def _scrub(self, text: str, params: Mapping[str, Any] | None) -> str:
        """Replace secret parameter and header values echoed in ``text`` by ``***``."""
        secrets = [str(v) for k, v in (params or {}).items() if _SECRET.search(str(k))]
        secrets += [v for k, v in self._headers.items() if _SECRET.search(k)]
        for value in secrets:
            if value:
                text = text.replace(value, "***")
        return text

    def _shown(self, path: str, params: Mapping[str, Any] | None) -> str:
        target = path.split("?", 1)[0]  # a query string in the path may hold a key
        return f"{self.name} GET {target} {redact(params) if params else ''}".rstrip()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET with retries; return the successful response.

        Raises
        ------
        MarketUnavailable
            After the retries are spent, or at once for a 4xx other than 429.
        """
        url = self._url(path)
        shown = self._shown(path, params)
        last_error = "no attempt made"
        connect_failures = 0
        retries = self.settings.max_retries
        attempt = 0
        while True:
            self._wait_rate_limit()
            self.requests_made += 1
            retry_after: float | None = None
            try:
                response = self.session.get(
                    url,
                    params=dict(params or {}),
                    headers=self._headers,
                    timeout=self.settings.timeout_secs,
                )
                status = response.status_code
                if status == 429 or status >= 500:
                    last_error = f"HTTP {status}"
                    retry_after = _retry_after_secs(response.headers.get("Retry-After"))
                elif status >= 400:
                    body = self._scrub(response.text[:200].replace("\n", " "), params)
                    error = MarketUnavailable(f"{shown} failed: HTTP {status}: {body}")
                    error.status = status  # type: ignore[attr-defined]
                    raise error
                else:
                    _ = response.content  # read the body now: a truncated one is retried
                    return response
            except requests.Timeout:
                last_error = f"timed out after {self.settings.timeout_secs:g} s"
            except requests.ConnectionError as e:
                last_error = f"connection failed ({type(e).__name__})"
                connect_failures += 1
                retries = min(
                    retries, attempt + self.settings.max_connect_retries + 1 - connect_failures
                )
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ):
                last_error = "truncated body"
            if attempt >= retries:
                break
            self._backoff(attempt, retry_after)
            attempt += 1
        raise MarketUnavailable(f"{shown} failed after {attempt + 1} attempt(s): {last_error}")

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; a malformed (e.g. truncated) body is retried like a 5xx.

        Raises
        ------
        MarketUnavailable
            As ``get``, or when every body was malformed JSON.
        """
        shown = self._shown(path, params)
        last: str = ""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            response = self.get(path, params)
            try:
                return json.loads(response.content)
            except ValueError as e:
                last = f"malformed JSON body ({e.__class__.__name__}: {str(e)[:80]})"
                if attempt < self.settings.max_retries:
                    self._backoff(attempt, None)
        raise MarketUnavailable(f"{shown} failed after {attempts} attempt(s): {last}")

    def get_bytes(self, path: str, params: Mapping[str, Any] | None = None) -> bytes:
        """GET a binary body (archives)."""
        return bytes(self.get(path, params).content)

    def get_optional_bytes(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> bytes | None:
        """GET a binary body, or ``None`` when the server answers 404 (a file not published yet).

        Raises
        ------
        MarketUnavailable
            As ``get`` for every other failure.
        """
        try:
            return self.get_bytes(path, params)
        except MarketUnavailable as e:
            if getattr(e, "status", None) == 404:
                return None
            raise
