"""A local Polymarket CLOB market-websocket server for tests (no network).

It speaks the protocol polymarket-client 0.14.0 uses (tests/resources/polymarket/
ws_client_frames.json): the client's first frame ``{"type": "market", "assets_ids": [...]}``,
later ``{"operation": "subscribe" | "unsubscribe", "assets_ids": [...]}``, and a text ``PING``
every 10 s answered by ``PONG``. After a subscription it sends, per asset, the messages
``messages(asset_id, connection_index)`` returns. With ``drop_first`` the first connection is
closed by the server (code 1011) right after its first answer, so the client must reconnect.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from tests.conftest import RESOURCES

SNAPSHOT = json.loads((RESOURCES / "polymarket" / "ws_book_snapshot.json").read_text())[0]
PRICE_CHANGE = json.loads((RESOURCES / "polymarket" / "ws_price_change.json").read_text())


def book_message(
    asset_id: str,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    *,
    timestamp_ms: int = 1787414400000,
) -> dict[str, Any]:
    """A ``book`` event (the recorded snapshot's shape) for ``asset_id``."""
    message = copy.deepcopy(SNAPSHOT)
    message.update(
        asset_id=asset_id,
        bids=[{"price": p, "size": s} for p, s in bids],
        asks=[{"price": p, "size": s} for p, s in asks],
        timestamp=str(timestamp_ms),
    )
    return message


def price_change_message(
    asset_id: str, price: str, size: str, side: str, *, timestamp_ms: int = 1787414401000
) -> dict[str, Any]:
    """A ``price_change`` event moving one level of ``asset_id``."""
    message = copy.deepcopy(PRICE_CHANGE)
    change = dict(message["price_changes"][0], asset_id=asset_id, price=price, size=size, side=side)
    message.update(price_changes=[change], timestamp=str(timestamp_ms))
    return message


class MarketWsServer:
    """The server, running its own event loop in a thread; use as a context manager."""

    def __init__(
        self,
        messages: Callable[[str, int], list[dict[str, Any]]],
        *,
        drop_first: bool = False,
    ) -> None:
        self.messages = messages
        self.drop_first = drop_first
        self.connections: list[list[Any]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/market"

    async def _handler(self, connection: Any) -> None:
        index = len(self.connections)
        frames: list[Any] = []
        self.connections.append(frames)
        async for raw in connection:
            if raw == "PING":
                frames.append("PING")
                await connection.send("PONG")
                continue
            frame = json.loads(raw)
            frames.append(frame)
            if frame.get("type") == "market" or frame.get("operation") == "subscribe":
                for asset in frame.get("assets_ids") or []:
                    for message in self.messages(asset, index):
                        await connection.send(json.dumps(message))
            if self.drop_first and index == 0:
                await asyncio.sleep(0.05)
                await connection.close(1011, "server restart")
                return

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    def __enter__(self) -> MarketWsServer:
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the local websocket server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    def subscribed(self) -> list[list[str]]:
        """Asset ids of every subscription frame, per connection."""
        return [
            [a for f in frames if isinstance(f, dict) and f.get("operation") != "unsubscribe"
             for a in f.get("assets_ids") or []]
            for frames in self.connections
        ]  # fmt: skip
