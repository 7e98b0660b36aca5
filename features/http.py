"""The HTTP client shared by every venue and feed client (requests), and the same guarantees for
httpx-based SDKs. The promises below are listed, with their tests, in ``RELIABILITY.md``.

Deadline
    One ``get``/``get_json`` call returns or raises within ``deadline_secs`` (default 45 s, or
    ``$LEVERCAST_HTTP_DEADLINE_SECS``): connect, headers, body, retries and backoff together. A
    watchdog thread shuts the request's socket down when the deadline passes, so a server that
    trickles one byte a second, in its headers or its body, fails then and not minutes later;
    ``timeout_secs`` (``$LEVERCAST_HTTP_TIMEOUT_SECS``) still bounds each connect and each read.
Retries
    429 and 5xx (``Retry-After`` honoured up to ``max_backoff_secs`` and the deadline), timeouts,
    dropped connections, truncated bodies and bodies that are not JSON are retried under a urllib3
    ``Retry`` policy (its counters, exponential backoff and ``Retry-After`` parsing), with full
    jitter from the injected seed and the injected ``sleep``. A refused connection is retried
    ``max_connect_retries`` times, so an offline run fails fast. Other 4xx fail at once.
Redirects
    Followed by hand: at most ``max_redirects`` hops, a loop fails at once, and a hop to another
    origin (scheme, host, port) than ``base_url``'s is made without the client's headers, so API
    keys are never sent to another host. A body above ``max_body_bytes`` is refused.
Secrets
    Every message goes through ``scrub``: URL userinfo, values of secret-looking query keys and
    headers (``api_key=``, ``token``, ``signature``, ``CG-API-KEY``, ``Bearer``), and the values of
    the client's secret headers and parameters and of key-like environment variables, in any form
    (raw, escaped, URL-quoted, line by line). Header values with control characters are refused
    before anything is sent, without echoing them.
Pagination
    ``PageGuard`` stops a walk that repeats a cursor or a page, or passes a page limit.
httpx
    ``deadline_transport`` / ``httpx_client`` give an httpx client (the Polymarket SDK) the same
    total deadline and the same header stripping; ``scrub`` cleans its error texts.

The session, the clock, the sleep and the random source are injected (STYLE G12). Every failure
is a ``MarketUnavailable`` with one line: ``<name> GET <path> <params> failed ...: <reason>``.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NoReturn
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.util.retry import Retry

from levercast.features.deadline import (
    DEADLINE_ENV,
    DEFAULT_DEADLINE_SECS,
    TIMEOUT_ENV,
    WatchedAdapter,
    deadline_transport,
    env_seconds,
    origin,
    watching,
)
from levercast.features.errors import ConfigError, MarketUnavailable
from levercast.features.redaction import SECRET_NAME, checked_headers, one_line, redact, scrub

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEADLINE_ENV",
    "TIMEOUT_ENV",
    "HttpClient",
    "HttpSettings",
    "PageGuard",
    "deadline_transport",
    "httpx_client",
    "redact",
    "scrub",
]

_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES: Final = 64 * 1024
_DEADLINE: Final = DEFAULT_DEADLINE_SECS
_Fail = Callable[..., NoReturn]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where and how politely to call one service.

    Attributes
    ----------
    base_url
        e.g. ``https://fapi.binance.com``; its origin is the only one that receives the client's
        headers.
    timeout_secs
        Bound of one connect and of one socket read (default ``$LEVERCAST_HTTP_TIMEOUT_SECS``
        or 10 s).
    deadline_secs
        Total time of one call, retries and backoff included (default
        ``$LEVERCAST_HTTP_DEADLINE_SECS`` or 45 s, so a failing source is reported within a
        minute).
    max_retries
        Retries after the first attempt for transient failures.
    backoff_secs, max_backoff_secs
        Exponential backoff factor and cap (full jitter); the cap also bounds ``Retry-After``.
    min_interval_secs
        Minimum time between two requests (client-side rate limit).
    max_connect_retries
        Retries of a refused or failed connection (at most ``max_retries``). A host that refuses
        connections rarely recovers within a backoff window, so an offline run fails fast.
    max_redirects
        Redirect hops followed per request.
    max_body_bytes
        Largest response body accepted.
    """

    base_url: str
    timeout_secs: float = field(default_factory=lambda: env_seconds(TIMEOUT_ENV, 10.0))
    deadline_secs: float = field(
        default_factory=lambda: env_seconds(DEADLINE_ENV, DEFAULT_DEADLINE_SECS)
    )
    max_retries: int = 4
    backoff_secs: float = 0.5
    max_backoff_secs: float = 30.0
    min_interval_secs: float = 0.0
    max_connect_retries: int = 1
    max_redirects: int = 5
    max_body_bytes: int = 256 * 2**20

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"base_url must start with http:// or https://; found {scrub(self.base_url)!r}"
            )
        for name in ("timeout_secs", "deadline_secs", "backoff_secs", "max_backoff_secs"):
            value = getattr(self, name)
            if not 0 < value < math.inf:
                raise ConfigError(f"{name} must be positive and finite; found {value}")
        for name in ("max_retries", "max_connect_retries", "max_redirects", "min_interval_secs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0; found {getattr(self, name)}")
        if self.max_body_bytes < 1:
            raise ConfigError(f"max_body_bytes must be >= 1; found {self.max_body_bytes}")


# -- failures inside one attempt ---------------------------------------------------------------
class _Retryable(Exception):
    """A transient failure of one attempt; ``error``/``raw`` feed the urllib3 ``Retry``."""

    def __init__(self, reason: str, *, error: Exception | None = None, raw: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.raw = raw


def _is_connect_failure(error: BaseException) -> bool:
    """Whether requests' error wraps a failed connect (refused, unreachable, connect timeout)."""
    node: object = error
    for _ in range(6):  # requests wraps urllib3's MaxRetryError, which wraps the socket error
        if isinstance(node, requests.ConnectTimeout | ConnectTimeoutError | NewConnectionError):
            return True
        if isinstance(node, MaxRetryError):
            node = node.reason
        elif isinstance(node, BaseException) and node.args:
            node = node.args[0]
        else:
            return False
    return False


class HttpClient:
    """GET JSON or bytes from one service within a deadline (see module docstring).

    Parameters
    ----------
    settings
        Base URL, deadline, timeouts, retry, redirect and rate-limit settings.
    session
        A ``requests.Session`` (default: a new one); its adapters are replaced by ones whose
        sockets the deadline watchdog can interrupt.
    sleep, clock
        Injected for tests (default ``time.sleep``, ``time.monotonic``); ``clock`` paces the rate
        limit, the deadline runs on the real monotonic clock.
    seed
        Seed of the jitter.
    name
        Service name used in error messages.
    headers
        Extra headers sent with every request to ``base_url``'s origin (never shown in messages,
        never sent to another origin).
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
        if isinstance(self.session, requests.Session):
            adapter = WatchedAdapter()
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random(seed)
        self._last = -float("inf")
        self._headers = checked_headers(headers)
        base = urlsplit(settings.base_url)
        self._secrets = [v for k, v in self._headers.items() if SECRET_NAME.search(k)]
        self._secrets += [s for s in (base.username, base.password) if s]
        self._origin = origin(settings.base_url)
        self.name = scrub(name or settings.base_url, self._secrets)
        self.requests_made = 0
        self.last_redirects: tuple[str, ...] = ()

    # -- helpers ------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    def _wait_rate_limit(self) -> None:
        gap = self.settings.min_interval_secs - (self._clock() - self._last)
        if gap > 0:
            self._sleep(gap)
        self._last = self._clock()

    def _scrub(self, text: str, params: Mapping[str, Any] | None) -> str:
        secrets = [str(v) for k, v in (params or {}).items() if SECRET_NAME.search(str(k))]
        return scrub(text, [*self._secrets, *secrets])

    def _shown(self, path: str, params: Mapping[str, Any] | None) -> str:
        target = path.split("?", 1)[0]  # a query string in the path may hold a key
        text = f"{self.name} GET {target} {redact(params) if params else ''}".rstrip()
        return self._scrub(text, params)

    def _policy(self) -> Retry:
        s = self.settings
        return Retry(
            total=s.max_retries,
            connect=min(s.max_connect_retries, s.max_retries),
            read=s.max_retries,
            status=s.max_retries,
            other=s.max_retries,
            redirect=False,
            status_forcelist=_RETRY_STATUSES,
            backoff_factor=s.backoff_secs,
            backoff_max=s.max_backoff_secs,
            respect_retry_after_header=True,
            retry_after_max=s.max_backoff_secs,  # type: ignore[arg-type]  # a float works
            raise_on_status=False,
        )

    def _wait_secs(self, policy: Retry, raw: Any) -> float:
        if raw is not None:
            try:
                after = policy.get_retry_after(raw)
            except InvalidHeader:  # an unparsable Retry-After: back off as usual
                after = None
            if after is not None:
                return float(after)
        return self._rng.uniform(0.0, max(policy.get_backoff_time(), self.settings.backoff_secs))

    # -- one attempt ------------------------------------------------------------------------------
    def _send(self, url: str, params: Any, headers: dict[str, str], deadline: float) -> Any:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Retryable(self._deadline_text(), error=ProtocolError("read"))
        per_op = min(self.settings.timeout_secs, remaining)
        self.requests_made += 1
        return self.session.get(
            url,
            params=params,
            headers=headers,
            timeout=(per_op, per_op),
            stream=True,
            allow_redirects=False,
        )

    def _deadline_text(self) -> str:
        return f"timed out: total deadline of {self.settings.deadline_secs:g} s exceeded"

    def _follow(self, url: str, params: Any, deadline: float, fail: _Fail) -> Any:
        """Send, following redirects by hand (capped, loop-checked, no headers off-origin)."""
        headers = dict(self._headers) if origin(url) == self._origin else {}
        hops: list[str] = []
        seen: set[str] = set()
        while True:
            response = self._send(url, params, headers, deadline)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECT_STATUSES or not location:
                self.last_redirects = tuple(hops)
                return response
            response.close()
            target = urljoin(response.url, location)
            hosts = " -> ".join(urlsplit(u).netloc for u in [response.url, *hops, target][-4:])
            if urlsplit(target).scheme not in ("http", "https"):
                fail(f"redirected to a non-HTTP URL ({urlsplit(target).scheme}:)")
            if target in seen or target == response.url:
                fail(f"redirect loop after {len(hops) + 1} redirect(s) ({hosts})")
            if len(hops) >= self.settings.max_redirects:
                fail(f"more than {self.settings.max_redirects} redirects ({hosts})")
            seen.add(response.url)
            hops.append(self._scrub(target, params))
            if origin(target) != self._origin:
                headers = {}  # the client's headers (API keys) stay with the configured origin
            url, params = target, None

    def _body(self, response: Any, deadline: float, fail: _Fail) -> bytes:
        limit = self.settings.max_body_bytes
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            fail(f"body of {int(length)} bytes exceeds max_body_bytes={limit}")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                fail(f"body exceeds max_body_bytes={limit}")
            if time.monotonic() > deadline:
                raise _Retryable(self._deadline_text(), error=ProtocolError("read"))
            chunks.append(chunk)
        body = b"".join(chunks)
        response._content = body  # requests' cache of .content: callers read the body as usual
        response._content_consumed = True
        return body

    def _attempt(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        deadline: float,
        fail: _Fail,
    ) -> requests.Response:
        response: requests.Response | None = None
        done = False
        with watching(deadline - time.monotonic()) as watchdog:
            try:
                response = self._follow(self._url(path), dict(params or {}), deadline, fail)
                status = response.status_code
                if status in _RETRY_STATUSES:
                    raise _Retryable(f"HTTP {status}", raw=response.raw)
                if status >= 400:
                    head = next(response.iter_content(chunk_size=200), b"")[:200]
                    text = head.decode("utf-8", "replace")
                    fail(f"HTTP {status}: {text}".rstrip(": "), status=status)
                self._body(response, deadline, fail)
                done = not watchdog.expired
            except requests.RequestException as e:
                if watchdog.expired:
                    raise _Retryable(self._deadline_text(), error=ProtocolError("read")) from None
                failure = self._classify(e)
                if isinstance(failure, str):
                    fail(failure)
                raise failure from None  # from None: the cause's text may hold the URL and key
            finally:
                if response is not None and not done:
                    response.close()  # frees the connection (a half-read one is discarded)
        if not done:  # the watchdog cut the body short, though it can look complete
            raise _Retryable(self._deadline_text(), error=ProtocolError("read"))
        assert response is not None
        return response

    def _classify(self, error: requests.RequestException) -> _Retryable | str:
        """A retryable failure, or the reason of a final one."""
        if _is_connect_failure(error):
            reason = f"connection failed ({type(error).__name__})"
            return _Retryable(reason, error=ConnectTimeoutError(reason))
        if isinstance(error, requests.Timeout):
            return _Retryable(
                f"timed out after {self.settings.timeout_secs:g} s without data",
                error=ProtocolError("read timeout"),
            )
        if isinstance(error, requests.exceptions.ChunkedEncodingError | requests.ConnectionError):
            return _Retryable("truncated body or dropped connection", error=ProtocolError("read"))
        if isinstance(error, requests.exceptions.ContentDecodingError):
            return _Retryable("undecodable body", error=DecodeError())
        return f"request failed ({type(error).__name__})"

    # -- public -----------------------------------------------------------------------------------
    def _call(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        decode: Callable[[requests.Response], Any] | None,
    ) -> Any:
        shown = self._shown(path, params)
        deadline = time.monotonic() + self.settings.deadline_secs
        policy = self._policy()
        attempts = 0
        last = ""

        def fail(reason: str, *, status: int | None = None) -> NoReturn:
            error = MarketUnavailable(one_line(self._scrub(f"{shown} failed: {reason}", params)))
            error.status = status  # type: ignore[attr-defined]
            raise error

        while True:
            self._wait_rate_limit()
            attempts += 1
            try:
                response = self._attempt(path, params, deadline, fail)
                return response if decode is None else decode(response)
            except _Retryable as failure:
                last = failure.reason
                try:
                    policy = policy.increment(
                        "GET", path, response=failure.raw, error=failure.error
                    )
                except MaxRetryError:
                    break
                wait = self._wait_secs(policy, failure.raw)
                if wait >= deadline - time.monotonic():
                    asked = failure.raw.headers.get("Retry-After") if failure.raw else None
                    if asked:
                        last += (
                            f" (Retry-After: {asked}; waiting {wait:g} s would pass the deadline)"
                        )
                    break
                self._sleep(wait)
        message = f"{shown} failed after {attempts} attempt(s): {last}"
        raise MarketUnavailable(one_line(self._scrub(message, params)))

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """GET with retries within the deadline; return the successful response (body read).

        Raises
        ------
        MarketUnavailable
            After the retries or the deadline are spent, or at once for a 4xx other than 429, a
            redirect loop, too many redirects or an oversized body (``.status`` holds the HTTP
            status when there is one).
        """
        response: requests.Response = self._call(path, params, None)
        return response

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; a malformed, truncated or HTML body is retried like a 5xx.

        Raises
        ------
        MarketUnavailable
            As ``get``, or when every body was not JSON.
        """
        return self._call(path, params, _decode_json)

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


def _decode_json(response: requests.Response) -> Any:
    body = response.content
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as e:
        head = one_line(body[:60].decode("utf-8", "replace"), 80)
        html = body.lstrip()[:1] == b"<" or "html" in response.headers.get("Content-Type", "")
        kind = "an HTML page instead of JSON" if html else "malformed JSON body"
        raise _Retryable(
            f"{kind} ({type(e).__name__}; starts {head!r})", error=DecodeError()
        ) from None


# -- pagination ---------------------------------------------------------------------------------
class PageGuard:
    """Stops a pagination walk that repeats itself or runs past a page limit.

    Call ``advance(cursor, page)`` before requesting each page after the first, with the cursor
    about to be sent and the page just received. It raises ``MarketUnavailable`` when the cursor
    was sent before (the venue ignores it), when the page is identical to an earlier one, or when
    ``max_pages`` pages have been requested: stopping quietly would store a partial series that
    an incremental fetch could never fill in.
    """

    def __init__(self, source: str, *, max_pages: int) -> None:
        if max_pages < 1:
            raise ConfigError(f"max_pages must be >= 1; found {max_pages}")
        self.source = source
        self.max_pages = max_pages
        self.pages = 1
        self._cursors: set[str] = set()
        self._pages: set[int] = set()

    def advance(self, cursor: object, page: object = None) -> None:
        """Record the next request's ``cursor`` after ``page``; raise if the walk is stuck."""
        if page is not None:
            digest = hash(repr(page))
            if digest in self._pages:
                self.stop(f"page {self.pages} repeats an earlier page")
            self._pages.add(digest)
        key = repr(cursor)
        if key in self._cursors:
            self.stop(f"cursor {one_line(scrub(key), 60)} repeats after page {self.pages}")
        self._cursors.add(key)
        if self.pages >= self.max_pages:
            self.stop(f"more than {self.max_pages} pages (page limit)")
        self.pages += 1

    def stop(self, reason: str) -> NoReturn:
        """Raise the walk's ``MarketUnavailable`` for ``reason`` (a page that went backwards)."""
        raise MarketUnavailable(f"{self.source}: pagination stopped: {reason}")


def httpx_client(
    settings: HttpSettings,
    *,
    headers: Mapping[str, str] | None = None,
    **transport_kwargs: Any,
) -> httpx.Client:
    """An ``httpx.Client`` on ``settings.base_url`` with ``settings``' deadline, phase timeout
    and redirect cap, sending ``headers`` (all private: never to another origin)."""
    import httpx

    checked = checked_headers(headers)
    return httpx.Client(
        base_url=settings.base_url,
        headers=checked,
        timeout=settings.timeout_secs,
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        transport=deadline_transport(
            deadline_secs=settings.deadline_secs,
            base_url=settings.base_url,
            private_headers=list(checked),
            **transport_kwargs,
        ),
    )
