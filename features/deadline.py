"""Total deadlines for HTTP requests: a watchdog that shuts a request's socket down when its
deadline passes, for requests (``WatchedAdapter`` + ``watching``) and for httpx
(``deadline_transport``, used by the Polymarket SDK adapter).

Why a watchdog: requests', urllib3's and httpx's timeouts bound one connect and one socket read,
and restart with every byte, so a server that trickles a byte a second (in its headers or its
body) holds a request for as long as it likes. Shutting the socket down from a timer thread
wakes the blocked read at once on every POSIX system; the caller then sees a dropped connection
and reports the deadline. Sockets are registered where the waiting starts: urllib3 connections
when they wait for response headers (``getresponse``), httpx connections when they are opened
(httpcore's ``trace`` extension); a pooled httpx connection is registered with every later
request of the same transport.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection

from levercast.features.errors import ConfigError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEADLINE_ENV",
    "TIMEOUT_ENV",
    "Watchdog",
    "WatchedAdapter",
    "deadline_transport",
    "env_seconds",
    "origin",
    "watching",
]

DEADLINE_ENV: Final = "LEVERCAST_HTTP_DEADLINE_SECS"
TIMEOUT_ENV: Final = "LEVERCAST_HTTP_TIMEOUT_SECS"
DEFAULT_DEADLINE_SECS: Final = 45.0


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment variable ``name``, else ``default``.

    Raises
    ------
    ConfigError
        When the variable is set to anything but a positive finite number.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise ConfigError(f"{name} must be a positive number of seconds; found {text!r}")
    return value


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, the default port filled in."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default


class Watchdog:
    """Shuts down the registered sockets when ``secs`` have passed since ``start``."""

    def __init__(self, secs: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(secs, 0.0), self._expire)
        self._timer.daemon = True

    def add(self, sock: socket.socket) -> None:
        """Watch ``sock`` (shut it down at once when the deadline has already passed)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def start(self) -> None:
        """Start the clock."""
        self._timer.start()

    def stop(self) -> None:
        """Stop the clock (the request finished)."""
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed or never connected: nothing to interrupt
        return


_WATCHING = threading.local()


@contextmanager
def watching(secs: float) -> Iterator[Watchdog]:
    """A started ``Watchdog`` that this thread's ``WatchedAdapter`` connections register with."""
    watchdog = Watchdog(secs)
    _WATCHING.current = watchdog
    watchdog.start()
    try:
        yield watchdog
    finally:
        watchdog.stop()
        _WATCHING.current = None


def _watch_current(sock: socket.socket | None) -> None:
    watchdog: Watchdog | None = getattr(_WATCHING, "current", None)
    if watchdog is not None and sock is not None:
        watchdog.add(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> Any:
        _watch_current(self.sock)  # waiting for headers: the phase the timeouts cannot bound
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> Any:
        _watch_current(self.sock)
        return super().getresponse()


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections register their socket with ``watching``'s watchdog
    (proxied connections are not registered: their body reads still stop at the deadline)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def deadline_transport(
    *,
    deadline_secs: float | None = None,
    base_url: str | None = None,
    private_headers: Iterable[str] = (),
    transport: httpx.BaseTransport | None = None,
    **transport_kwargs: Any,
) -> httpx.BaseTransport:
    """An httpx transport with a total deadline per request and no private headers off-origin.

    Parameters
    ----------
    deadline_secs
        Total time of one request: connect, headers and the whole body (default
        ``$LEVERCAST_HTTP_DEADLINE_SECS`` or 45 s). A watchdog shuts the connection's socket
        down at the deadline; the request then raises ``httpx.ReadTimeout("total deadline of
        N s exceeded")``, which SDKs treat as a transport failure. Phase timeouts are capped by
        the time left.
    base_url
        The configured origin; on a request to any other origin (a redirect) the
        ``private_headers`` and ``Authorization`` are removed before sending.
    private_headers
        Header names that carry credentials (e.g. ``CG-API-KEY``, ``POLY_API_KEY``).
    transport
        The transport to wrap (default ``httpx.HTTPTransport(**transport_kwargs)``).

    Retries stay with the SDK (its own policy); wrap the SDK's error texts in ``scrub``.
    """
    import httpx

    inner = transport or httpx.HTTPTransport(**transport_kwargs)
    secs = (
        deadline_secs
        if deadline_secs is not None
        else env_seconds(DEADLINE_ENV, DEFAULT_DEADLINE_SECS)
    )
    if not 0 < secs < math.inf:
        raise ConfigError(f"deadline_secs must be positive and finite; found {secs}")
    transport_type, _ = _httpx_types()
    wrapped: httpx.BaseTransport = transport_type(
        inner, secs, origin(base_url) if base_url else None, private_headers
    )
    return wrapped


@functools.cache
def _httpx_types() -> tuple[type[Any], type[Any]]:
    """The httpx transport and stream wrappers, built on first use (httpx is imported lazily)."""
    import httpx

    class DeadlineStream(httpx.SyncByteStream):
        def __init__(self, inner: Any, watchdog: Watchdog, deadline: float, text: str) -> None:
            self._inner = inner
            self._watchdog = watchdog
            self._deadline = deadline
            self._text = text

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self._inner:
                    if self._watchdog.expired or time.monotonic() > self._deadline:
                        raise httpx.ReadTimeout(self._text)
                    yield chunk
            except httpx.TransportError as e:
                if self._watchdog.expired and not isinstance(e, httpx.ReadTimeout):
                    raise httpx.ReadTimeout(self._text) from None
                raise
            if self._watchdog.expired:  # a body cut short by the watchdog can look complete
                raise httpx.ReadTimeout(self._text)

        def close(self) -> None:
            self._watchdog.stop()
            self._inner.close()

    class DeadlineTransport(httpx.BaseTransport):
        def __init__(
            self,
            inner: httpx.BaseTransport,
            deadline_secs: float,
            home: tuple[str, str, int | None] | None,
            private_headers: Iterable[str],
        ) -> None:
            self._inner = inner
            self._secs = deadline_secs
            self._origin = home
            self._private = {h.lower() for h in private_headers} | {"authorization"}
            self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

        def _trace(
            self, previous: Any, watchdog: Watchdog
        ) -> Callable[[str, dict[str, Any]], None]:
            def trace(event: str, info: dict[str, Any]) -> None:
                if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
                    stream = info.get("return_value")
                    sock = stream.get_extra_info("socket") if stream is not None else None
                    if isinstance(sock, socket.socket):
                        self._sockets.add(sock)
                        watchdog.add(sock)
                if previous is not None:
                    previous(event, info)

            return trace

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if self._origin is not None and origin(str(request.url)) != self._origin:
                for name in [h for h in request.headers if h.lower() in self._private]:
                    del request.headers[name]
            deadline = time.monotonic() + self._secs
            text = f"total deadline of {self._secs:g} s exceeded"
            watchdog = Watchdog(self._secs)
            for sock in list(self._sockets):  # a pooled connection may carry this request
                watchdog.add(sock)
            timeouts = dict(request.extensions.get("timeout") or {})
            for phase in ("connect", "read", "write", "pool"):
                value = timeouts.get(phase)
                timeouts[phase] = self._secs if value is None else min(value, self._secs)
            request.extensions = {
                **request.extensions,
                "timeout": timeouts,
                "trace": self._trace(request.extensions.get("trace"), watchdog),
            }
            watchdog.start()
            try:
                response = self._inner.handle_request(request)
            except httpx.TransportError:
                watchdog.stop()
                if watchdog.expired:
                    raise httpx.ReadTimeout(text, request=request) from None
                raise
            response.stream = DeadlineStream(response.stream, watchdog, deadline, text)
            return response

        def close(self) -> None:
            self._inner.close()

    return DeadlineTransport, DeadlineStream
