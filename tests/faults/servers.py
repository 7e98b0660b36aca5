"""Loopback HTTP servers that misbehave on purpose, for the fault suite (issue 19).

``FaultServer(behaviour)`` listens on 127.0.0.1 and runs ``behaviour(conn, request)`` in a thread
per connection. ``request`` is the parsed ``Request`` (method, target, headers); the behaviour
writes whatever bytes it likes. pytest-httpserver (werkzeug) covers well-formed responses; these
cover what werkzeug will not send: trickles, hangs, bodies shorter than their Content-Length.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def args(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}


Behaviour = Callable[[socket.socket, Request], None]


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = head[0].split(" ", 2)
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(method, target, headers)


class FaultServer:
    """A threaded loopback server; ``requests`` records every request it read."""

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self.requests: list[Request] = []
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError):
            while not self._stop.is_set():
                request = _read_request(conn)
                if request is None:
                    break
                self.requests.append(request)
                self._behaviour(conn, request)
                if request.headers.get("connection", "").lower() == "close":
                    break
        with contextlib.suppress(OSError):
            conn.close()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()


@contextlib.contextmanager
def fault_server(behaviour: Behaviour) -> Iterator[FaultServer]:
    server = FaultServer(behaviour)
    try:
        yield server
    finally:
        server.close()


# -- behaviours ---------------------------------------------------------------------------------
def response_bytes(
    body: bytes, *, status: str = "200 OK", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def trickle(delay_secs: float, *, headers_too: bool, body: bytes = b"[]") -> Behaviour:
    """A valid response sent one byte every ``delay_secs`` (from the status line, or after the
    headers), for as long as the client listens."""

    def behave(conn: socket.socket, _request: Request) -> None:
        padded = body + b" " * 100_000  # more than any test waits for
        data = response_bytes(padded, headers={"Content-Type": "application/json"})
        if not headers_too:
            split = data.index(b"\r\n\r\n") + 4
            conn.sendall(data[:split])
            data = data[split:]
        for byte in data:
            conn.sendall(bytes([byte]))
            time.sleep(delay_secs)

    return behave


def hang(conn: socket.socket, _request: Request) -> None:
    """Read the request, never answer (until the server closes)."""
    while True:
        time.sleep(0.05)
        conn.getpeername()  # raises once the client or the server closed the connection


def truncated(body: bytes, *, declared: int) -> Behaviour:
    """Declare ``declared`` bytes of body, send ``body`` (shorter), close."""

    def behave(conn: socket.socket, _request: Request) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
        conn.sendall(head.encode() + body)
        conn.shutdown(socket.SHUT_RDWR)
        raise OSError("closed on purpose")

    return behave


def respond(
    body: bytes, *, status: str = "200 OK", headers: dict[str, str] | None = None
) -> Behaviour:
    """The same well-formed response to every request."""

    def behave(conn: socket.socket, _request: Request) -> None:
        conn.sendall(response_bytes(body, status=status, headers=headers))

    return behave
