"""Live Polymarket books from the CLOB market websocket, through ``polymarket-client``.

``BookStream`` is a live resource: ``start()`` runs an asyncio loop in a daemon thread holding
one ``polymarket.AsyncPublicClient`` (on ``VenueSettings.market_ws_url``); ``watch(markets)``
subscribes each new market's first-outcome token (one SDK handle per market, all on one
socket) and unsubscribes markets no longer watched; every ``book``, ``price_change`` and
``tick_size_change`` event goes on a bounded backlog (``stream_backlog``, drop-oldest, counted);
``apply()`` applies the backlog to the books in the caller's thread (call it often: the backlog
bounds memory, not time), ``drain()`` applies and returns the books changed since the last
drain; ``close()`` unsubscribes, closes the client, stops the loop and joins the thread.

The SDK reconnects by itself (full-jitter backoff from 0.25 s, forever), resubscribes, and the
server then sends a fresh ``book``. It gives no reconnect signal, so a ``book`` event always
replaces the whole book, a ``price_change`` before any ``book`` is ignored, and after a loss (the
backlog or an SDK handle queue overflowed) the affected books are withheld until their next
``book`` snapshot. The SDK sends ``PING`` every 10 s and drops a socket silent for 30 s.

Websocket payloads (``book``: ``bids``/``asks`` string levels, ``timestamp`` in epoch ms;
``price_change``: ``price_changes[]`` with ``asset_id``, ``price``, ``size`` = the new size at the
level, ``side`` BUY = bid) are parsed by the SDK's models; nothing downstream sees them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from levercast.features.errors import ConfigError, MarketUnavailable
from levercast.markets.polymarket.sdk import scrub_message, sdk_environment
from levercast.markets.settings import VenueSettings
from levercast.markets.types import BookLevel, OrderBook, Venue, VenueMarket

__all__ = ["BookStream", "StreamBatch"]

_SUBSCRIBE_WAIT_SECS: Final = 15.0  # the SDK's websocket open timeout is 10 s
_CLOSE_WAIT_SECS: Final = 5.0


@dataclass(frozen=True, slots=True)
class StreamBatch:
    """What one ``drain`` found.

    Attributes
    ----------
    books
        ``(book, received_at)`` of every watched market whose book changed since the last drain.
    dropped
        Events lost to a full backlog or SDK handle queue since the last drain.
    withheld
        Markets whose book is incomplete after a loss (until their next ``book`` snapshot).
    errors
        One-line descriptions of stream failures since the last drain.
    """

    books: tuple[tuple[OrderBook, datetime], ...]
    dropped: int = 0
    withheld: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Event:
    kind: str  # "book" | "change" | "tick"
    asset_id: str
    at: datetime | None
    received_at: datetime
    bids: tuple[tuple[float, float], ...] = ()
    asks: tuple[tuple[float, float], ...] = ()
    tick: float | None = None


@dataclass(slots=True)
class _Book:
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    tick: float | None = None
    observed_at: datetime | None = None
    received_at: datetime | None = None
    complete: bool = False
    changed: bool = False


def _levels(levels: Sequence[Any]) -> tuple[tuple[float, float], ...]:
    return tuple((float(level.price), float(level.size)) for level in levels)


def _events(event: Any, asset_id: str, received: datetime) -> list[_Event]:
    """levercast's small events of one SDK market event, for one watched asset."""
    kind, payload = event.type, event.payload
    if kind == "book" and str(payload.asset_id) == asset_id:
        tick = float(payload.tick_size) if payload.tick_size is not None else None
        bids, asks = _levels(payload.bids), _levels(payload.asks)
        return [_Event("book", asset_id, payload.timestamp, received, bids, asks, tick)]
    if kind == "price_change":
        out = []
        for change in payload.price_changes:
            if str(change.asset_id) != asset_id:
                continue
            level = ((float(change.price), float(change.size)),)
            bids, asks = (level, ()) if change.side == "BUY" else ((), level)
            out.append(_Event("change", asset_id, payload.timestamp, received, bids, asks))
        return out
    if kind == "tick_size_change" and str(payload.asset_id) == asset_id:
        tick = float(payload.new_tick_size)
        return [_Event("tick", asset_id, payload.timestamp, received, tick=tick)]
    return []


class BookStream:
    """Live first-outcome books of watched Polymarket markets (see the module docstring).

    Parameters
    ----------
    settings
        ``market_ws_url`` and ``stream_backlog``.
    now
        Clock stamping when events arrive (tz-aware UTC).
    """

    def __init__(
        self, settings: VenueSettings, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Condition()
        self._backlog: collections.deque[_Event] = collections.deque()
        self._dropped = 0
        self._lost: set[str] = set()
        self._errors: list[str] = []
        self._snapshots: set[str] = set()
        self._pending_drops = 0
        self._pending_errors: list[str] = []
        self.received = 0
        """Events received so far (including the dropped ones)."""
        self._books: dict[str, _Book] = {}
        self._markets: dict[str, VenueMarket] = {}
        self._handles: dict[str, tuple[Any, asyncio.Task[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> BookStream:
        """Start the loop thread and the SDK client (no connection until ``watch``)."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="polymarket-book-stream", daemon=True
        )
        self._thread.start()
        self._submit(self._open(), _SUBSCRIBE_WAIT_SECS)
        return self

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _open(self) -> None:
        from polymarket import AsyncPublicClient

        self._client = AsyncPublicClient(sdk_environment(self.settings))

    def _submit(self, coro: Any, timeout: float) -> Any:
        if self._loop is None:
            coro.close()
            raise ConfigError("the book stream must be started before use; call start()")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError as e:
            future.cancel()
            raise MarketUnavailable(f"polymarket websocket: no answer within {timeout:g} s") from e

    def close(self) -> None:
        """Unsubscribe everything, close the client, stop the loop and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(MarketUnavailable):
            self._submit(self._shutdown(), _CLOSE_WAIT_SECS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_CLOSE_WAIT_SECS)
        self._loop, self._thread = None, None

    async def _shutdown(self) -> None:
        for asset in list(self._handles):
            await self._unsubscribe(asset)
        if self._client is not None:
            with contextlib.suppress(Exception):  # the SDK's close is best effort too
                await self._client.close()
            self._client = None

    def __enter__(self) -> BookStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- subscriptions -----------------------------------------------------------------------
    def watch(self, markets: Sequence[VenueMarket]) -> list[str]:
        """Follow exactly the first-outcome books of ``markets``; return the newly watched ids.

        Raises
        ------
        MarketUnavailable
            The websocket could not be opened (the SDK's connect failed) or did not answer.
        """
        wanted = {m.token_ids[0]: m for m in markets if m.token_ids and m.token_ids[0]}
        new = [a for a in wanted if a not in self._handles]
        gone = [a for a in self._handles if a not in wanted]
        self._markets = dict(wanted)
        self._submit(self._update(new, gone), _SUBSCRIBE_WAIT_SECS + len(new))
        return [wanted[a].market_id for a in new]

    async def _update(self, new: list[str], gone: list[str]) -> None:
        from polymarket.errors import PolymarketError
        from polymarket.streams import MarketSpec

        for asset in gone:
            await self._unsubscribe(asset)
            self._books.pop(asset, None)
        for asset in new:
            try:
                handle = await self._client.subscribe(MarketSpec(asset_ids=[asset]))
            except PolymarketError as e:
                raise MarketUnavailable(
                    f"polymarket websocket subscribe failed: {scrub_message(str(e))}"
                ) from e
            task = asyncio.get_running_loop().create_task(self._consume(asset, handle))
            self._handles[asset] = (handle, task)

    async def _unsubscribe(self, asset: str) -> None:
        handle, task = self._handles.pop(asset)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await handle.close()

    async def _consume(self, asset: str, handle: Any) -> None:
        seen_drops = 0
        try:
            async for event in handle:
                self._push(_events(event, asset, self._now()), asset)
                if handle.dropped != seen_drops:  # the SDK's own queue overflowed
                    with self._lock:
                        self._dropped += handle.dropped - seen_drops
                        self._lost.add(asset)
                    seen_drops = handle.dropped
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the stream ended with an error: report, do not kill the loop
            with self._lock:
                self._errors.append(f"polymarket websocket {asset[:12]}: {scrub_message(str(e))}")

    def _push(self, events: list[_Event], asset: str) -> None:
        limit = self.settings.stream_backlog
        with self._lock:
            self.received += len(events)
            for event in events:
                if len(self._backlog) >= limit:
                    old = self._backlog.popleft()
                    self._dropped += 1
                    self._lost.add(old.asset_id)
                self._backlog.append(event)
                if event.kind == "book":
                    self._snapshots.add(asset)
            self._lock.notify_all()

    def wait_for_books(self, markets: Sequence[VenueMarket], timeout_secs: float) -> bool:
        """Block until each market's first ``book`` snapshot arrived (True) or the timeout."""
        assets = {m.token_ids[0] for m in markets if m.token_ids and m.token_ids[0]}
        deadline = time.monotonic() + timeout_secs
        with self._lock:
            while not assets <= self._snapshots:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    # -- books -----------------------------------------------------------------------------
    def apply(self) -> None:
        """Apply the backlog to the books (in the caller's thread); losses mark books incomplete."""
        with self._lock:
            events = list(self._backlog)
            self._backlog.clear()
            self._pending_drops += self._dropped
            self._pending_errors += self._errors
            lost, self._dropped, self._lost, self._errors = self._lost, 0, set(), []
        for asset in lost & self._markets.keys():
            self._books.setdefault(asset, _Book()).complete = False
        for event in events:
            if event.asset_id in self._markets:
                self._apply(self._books.setdefault(event.asset_id, _Book()), event)

    def drain(self) -> StreamBatch:
        """Apply the backlog; the books changed since the last drain (see ``StreamBatch``)."""
        self.apply()
        dropped, errors = self._pending_drops, self._pending_errors
        self._pending_drops, self._pending_errors = 0, []
        books, withheld, bad = [], [], list(errors)
        for asset, state in self._books.items():
            market = self._markets[asset]
            if not state.complete:
                withheld.append(market.market_id)
                continue
            if not state.changed:
                continue
            state.changed = False
            try:
                books.append((self._book(market, state), state.received_at or self._now()))
            except ConfigError as e:
                bad.append(f"polymarket websocket book of {market.market_id}: {e}")
        return StreamBatch(tuple(books), dropped, tuple(withheld), tuple(bad))

    @staticmethod
    def _apply(state: _Book, event: _Event) -> None:
        if event.kind == "book":
            state.bids, state.asks = dict(event.bids), dict(event.asks)
            state.tick = event.tick if event.tick is not None else state.tick
            state.complete = True
        elif event.kind == "tick":
            state.tick = event.tick
        elif state.complete:  # a change applies only on top of a snapshot
            for side, levels in ((state.bids, event.bids), (state.asks, event.asks)):
                for price, size in levels:
                    if size > 0:
                        side[price] = size
                    else:
                        side.pop(price, None)
        else:
            return
        state.observed_at = event.at or event.received_at
        state.received_at = event.received_at
        state.changed = True

    def _book(self, market: VenueMarket, state: _Book) -> OrderBook:
        observed = state.observed_at or state.received_at or self._now()
        return OrderBook(
            venue=Venue.POLYMARKET.value,
            market_id=market.market_id,
            outcome=market.outcomes[0],
            observed_at=observed,
            bids=tuple(BookLevel(p, s) for p, s in state.bids.items()),
            asks=tuple(BookLevel(p, s) for p, s in state.asks.items()),
            tick_size=state.tick,
        )
