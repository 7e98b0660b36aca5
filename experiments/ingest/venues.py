"""Fetch prediction-market listings, price histories and order books into the store.

``fetch_markets`` (behind ``levercast fetch markets``) lists open and recently resolved crypto
price markets of each venue, fetches their price history since the last stored point, and
upserts ``markets`` and ``market_prices`` (kind ``history``, ``available_at = ts``). Each venue
is fetched completely in memory first and written in one block, so a venue that fails midway
writes nothing; a repeated fetch changes nothing (idempotent upserts on the table keys).

``record_books`` (behind ``levercast record books``) archives the books of the open markets into
the ``books`` table every ``every`` until ``max_runs`` rounds are done or SIGINT/SIGTERM arrives
(the round in progress finishes and is written; the lock is released; the websocket thread is
joined). Each round relists the open markets. A venue whose client streams books (Polymarket's
market websocket, ``markets.client.BookStreaming``) is followed live: new markets are
subscribed, closed ones dropped, events are applied about every second from a bounded backlog
(reconnects are the SDK's), and each round writes the books that changed since the last round
(lost events and withheld books are reported in ``failed``). When the stream cannot be opened
the round falls back to REST (``POST /books`` in batches) and the stream is retried next round.
Other venues are polled per market over REST.

Both return ``{"written": {table: rows}, "failed": [{"what", "error"}]}`` (INTERFACE.md §4).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import pandas as pd

from levercast.experiments.shutdown import stop_on_signals
from levercast.features.dataset.schema import TABLES, validate_table
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, ForecastError
from levercast.features.timeutil import parse_duration
from levercast.markets.client import BookStreaming, LiveBooks, MarketClient
from levercast.markets.dataset import book_rows
from levercast.markets.settings import VenueSettings, venue_settings_from_env
from levercast.markets.types import VenueMarket

__all__ = ["VENUES", "fetch_markets", "make_clients", "record_books"]

VENUES: Final = ("polymarket", "kalshi")
DEFAULT_ASSETS: Final = ("BTC", "ETH")
_MAX_FAILED: Final = 100  # failures kept in a long recording
_MAX_BOOK_FAILURES: Final = 3  # consecutive book failures that abandon a venue for one round
_SETTLE_SECS: Final = 10.0  # longest wait for the first snapshots of newly watched markets
_APPLY_EVERY_SECS: Final = 1.0  # how often streamed events are applied between rounds


def _names(value: str | Sequence[str] | None, default: Sequence[str], what: str) -> list[str]:
    if value is None or value == "" or (not isinstance(value, str) and not value):
        return list(default)
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [v.strip() for v in items if v.strip()]
    if what == "venue":
        out = [v.lower() for v in out]
        bad = [v for v in out if v not in VENUES]
        if bad:
            raise ConfigError(f"venue must be one of {list(VENUES)}; found {bad[0]!r}")
    else:
        out = [v.upper() for v in out]
    return out


def make_clients(
    venues: Sequence[str], *, settings: VenueSettings | None = None
) -> dict[str, MarketClient]:
    """Real clients of ``venues`` with ``settings`` (default: from the environment)."""
    from levercast.markets.kalshi.client import KalshiClient
    from levercast.markets.polymarket.client import PolymarketClient

    resolved = settings or venue_settings_from_env()
    factories: dict[str, Callable[[], MarketClient]] = {
        "polymarket": lambda: PolymarketClient(resolved),
        "kalshi": lambda: KalshiClient(resolved),
    }
    return {v: factories[v]() for v in _names(list(venues), VENUES, "venue")}


def _close(clients: Mapping[str, Any]) -> None:
    for client in clients.values():
        close = getattr(client, "close", None)
        if callable(close):
            close()


def _client(clients: Mapping[str, MarketClient], venue: str) -> MarketClient:
    if venue not in clients:
        raise ConfigError(f"clients must include venue {venue!r}; found {sorted(clients)}")
    return clients[venue]


# -- fetch markets -----------------------------------------------------------------------------
def _existing_ids(existing: pd.DataFrame, venue: str) -> dict[str, str]:
    """Venue id (condition id, ``token-<id>``) -> stored market id, so known markets keep ids."""
    rows = existing[existing["venue"] == venue]
    out = {str(m): str(m) for m in rows["market_id"]}
    for cid, mid in zip(rows["condition_id"], rows["market_id"], strict=True):
        if not pd.isna(cid) and cid:
            out[str(cid)] = str(mid)
    return out


def _store_id(market: VenueMarket, ids: Mapping[str, str]) -> str:
    if market.market_id in ids:
        return ids[market.market_id]
    if market.token_ids and f"token-{market.token_ids[0]}" in ids:
        return ids[f"token-{market.token_ids[0]}"]
    return market.market_id


def _market_row(market: VenueMarket, store_id: str, client: MarketClient) -> dict[str, Any]:
    resolution = client.resolution(market)
    is_condition = market.venue == "polymarket" and market.market_id.startswith("0x")
    family = market.event_ticker.lower() if market.event_ticker else None
    return {
        "venue": market.venue,
        "market_id": store_id,
        "condition_id": market.market_id if is_condition else None,
        "question": market.question,
        "event_title": market.event_title,
        "slug": market.slug,
        "rules": market.rules,
        "outcomes": "|".join(market.outcomes),
        "token_ids": "|".join(market.token_ids),
        "created_at": market.created_at,
        "end_date": market.end_date,
        "resolved_at": resolution.resolved_at if resolution else None,
        "winning_outcome": resolution.winning_outcome if resolution else None,
        "family": family,
        # Structured fields the Kalshi parser needs; kept only once the markets schema has them.
        "series_ticker": market.series_ticker,
        "strike_type": market.strike_type,
        "floor_strike": market.floor_strike,
        "cap_strike": market.cap_strike,
        "close_time": market.close_time,
        # The market's own fee fields (markets.fees.fees_for_market reads them back).
        "category": market.category,
        "cadence": market.cadence,
        "fee_category": market.fee_category,
        "fee_rate": market.fee_rate,
        "fee_exponent": market.fee_exponent,
        "maker_rebate_rate": market.maker_rebate_rate,
        "fees_enabled": market.fees_enabled,
        "fee_multiplier": market.fee_multiplier,
        "fee_waiver_until": market.fee_waiver_until,
    }


def _markets_frame(rows: list[dict[str, Any]], existing: pd.DataFrame) -> pd.DataFrame:
    columns = list(existing.columns)
    new = pd.DataFrame(rows, columns=columns)
    for column, kind in TABLES["markets"].columns.items():
        if kind == "time" and column in new:
            new[column] = pd.to_datetime(new[column], utc=True)
        elif kind == "float" and column in new:
            new[column] = pd.to_numeric(new[column]).astype("float64")
    new = validate_table("markets", new)
    old = existing.set_index("market_id").reindex(new["market_id"]).reset_index(drop=True)
    for column in columns:  # a value the venue does not send keeps the stored one
        if column != "market_id":
            new[column] = new[column].where(
                new[column].notna(), old[column].astype(new[column].dtype)
            )
    return validate_table("markets", new)


def _last_points(store: Store, venue: str) -> dict[tuple[str, str], pd.Timestamp]:
    if not store.has("market_prices"):
        return {}
    prices = store.read("market_prices")
    prices = prices[(prices["venue"] == venue) & (prices["kind"] == "history")]
    last = prices.groupby(["market_id", "outcome"])["ts"].max()
    return {(str(m), str(o)): t for (m, o), t in last.items()}


def _since(
    market: VenueMarket, store_id: str, last: Mapping[tuple[str, str], pd.Timestamp]
) -> datetime | None:
    outcomes = market.outcomes if market.token_ids else market.outcomes[:1]
    stamps = [s for s in (last.get((store_id, o)) for o in outcomes) if s is not None]
    return min(stamps).to_pydatetime() if stamps else None


def _fetch_venue(
    store: Store, client: MarketClient, assets: list[str], existing: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    markets = client.list_markets(assets)
    ids = _existing_ids(existing, client.venue)
    last = _last_points(store, client.venue)
    rows, histories = [], []
    for market in markets:
        store_id = _store_id(market, ids)
        rows.append(_market_row(market, store_id, client))
        history = client.price_history(market, since=_since(market, store_id, last))
        if not history.empty:
            histories.append(history.assign(market_id=store_id))
    markets_frame = _markets_frame(rows, existing)
    prices = pd.concat(histories, ignore_index=True) if histories else None
    prices_frame = validate_table(
        "market_prices", prices if prices is not None else _empty("market_prices")
    )
    return markets_frame, prices_frame


def _empty(table: str) -> pd.DataFrame:
    spec = TABLES[table]
    return pd.DataFrame(
        {
            c: pd.Series([], dtype="datetime64[ns, UTC]" if k == "time" else "string")
            if k in ("time", "str")
            else pd.Series([], dtype="float64")
            for c, k in spec.columns.items()
        }
    )


def fetch_markets(
    store: Store,
    *,
    venues: str | Sequence[str] | None,
    assets: str | Sequence[str] | None,
    clients: Mapping[str, MarketClient] | None = None,
) -> dict[str, Any]:
    """Fetch markets and their price histories of ``venues`` into ``store`` (see module doc).

    Parameters
    ----------
    store
        The dataset to write.
    venues
        ``"polymarket,kalshi"`` or a list (None: both).
    assets
        ``"BTC,ETH"`` or a list (None: BTC and ETH).
    clients
        Venue -> ``MarketClient`` (default: real clients configured from the environment).

    Returns
    -------
    dict
        ``{"written": {"markets": n, "market_prices": n}, "failed": [{"what", "error"}]}``;
        ``n`` counts inserted or changed rows.

    Raises
    ------
    ConfigError
        An unknown venue or asset, or ``clients`` lacking a venue.
    """
    venue_list = _names(venues, VENUES, "venue")
    asset_list = _names(assets, DEFAULT_ASSETS, "asset")
    owned = clients is None
    clients = clients if clients is not None else make_clients(venue_list)
    existing = store.read("markets") if store.has("markets") else _empty("markets")
    written = {"markets": 0, "market_prices": 0}
    failed: list[dict[str, str]] = []
    try:
        for venue in venue_list:
            client = _client(clients, venue)
            try:
                markets_frame, prices_frame = _fetch_venue(store, client, asset_list, existing)
                with store.writer() as w:
                    written["markets"] += w.upsert("markets", markets_frame)
                    written["market_prices"] += w.upsert("market_prices", prices_frame)
            except ConfigError:
                raise
            except ForecastError as e:
                failed.append({"what": f"{venue} markets", "error": str(e)})
                continue
            notes = getattr(client, "notes", [])  # e.g. a Kalshi series without fee fields
            failed.extend({"what": f"{venue} markets", "error": note} for note in notes)
            existing = store.read("markets")
    finally:
        if owned:
            _close(clients)
    return {"written": written, "failed": failed}


# -- record books ------------------------------------------------------------------------------
def _streamed(
    client: BookStreaming,
    venue: str,
    markets: list[VenueMarket],
    streams: dict[str, LiveBooks],
    settle_secs: float,
    failed: list[dict[str, str]],
) -> list[pd.DataFrame]:
    """Books of ``markets`` from the venue's live stream (opened on first use).

    Raises
    ------
    ForecastError
        The stream could not be opened or subscribed (the caller falls back to REST).
    """
    if venue not in streams:
        streams[venue] = client.book_stream().start()
    stream = streams[venue]
    new = set(stream.watch(markets))
    if new:
        stream.wait_for_books([m for m in markets if m.market_id in new], settle_secs)
    batch = stream.drain()
    what = f"{venue} books stream"
    failed.extend({"what": what, "error": error} for error in batch.errors)
    if batch.dropped or batch.withheld:
        failed.append(
            {
                "what": what,
                "error": f"{batch.dropped} event(s) lost (backlog or SDK queue full); "
                f"{len(batch.withheld)} book(s) withheld until their next snapshot",
            }
        )
    return [book_rows(book, received_at=received) for book, received in batch.books]


def _polled(
    client: MarketClient,
    markets: list[VenueMarket],
    now: Callable[[], datetime],
    failed: list[dict[str, str]],
) -> list[pd.DataFrame]:
    """Books of ``markets`` over REST: one batch call where the client has one, else per market."""
    frames: list[pd.DataFrame] = []
    batch = getattr(client, "order_books", None)
    if callable(batch):
        try:
            books = batch(markets)
        except ForecastError as e:
            failed.append({"what": f"{client.venue} books", "error": str(e)})
            return frames
        return [book_rows(book, received_at=now()) for book in books]
    streak = 0
    for market in markets:
        try:
            book = client.order_book(market)
        except ForecastError as e:
            failed.append({"what": f"{client.venue} book {market.market_id}", "error": str(e)})
            streak += 1
            if streak >= _MAX_BOOK_FAILURES:
                break
            continue
        streak = 0
        frames.append(book_rows(book, received_at=now()))
    return frames


def _record_round(
    client: MarketClient,
    assets: list[str],
    now: Callable[[], datetime],
    failed: list[dict[str, str]],
    streams: dict[str, LiveBooks] | None,
    settle_secs: float,
) -> list[pd.DataFrame]:
    try:
        markets = [m for m in client.list_markets(assets) if m.closed is not True]
    except ForecastError as e:
        failed.append({"what": f"{client.venue} books", "error": str(e)})
        return []
    if streams is not None and isinstance(client, BookStreaming):
        try:
            return _streamed(client, client.venue, markets, streams, settle_secs, failed)
        except ForecastError as e:
            failed.append({"what": f"{client.venue} books stream", "error": str(e)})
            live = streams.pop(client.venue, None)
            if live is not None:
                with contextlib.suppress(ForecastError):
                    live.close()
    return _polled(client, markets, now, failed)


def _wait(stop: threading.Event, period: timedelta, streams: Mapping[str, LiveBooks]) -> None:
    """Wait ``period`` (or until ``stop``), applying streamed events about every second."""
    deadline = time.monotonic() + period.total_seconds()
    while (left := deadline - time.monotonic()) > 0:
        if stop.wait(min(left, _APPLY_EVERY_SECS) if streams else left):
            return
        for stream in streams.values():
            stream.apply()


def record_books(
    store: Store,
    *,
    every: str | timedelta,
    venues: str | Sequence[str] | None,
    assets: str | Sequence[str] | None,
    max_runs: int | None = None,
    clients: Mapping[str, MarketClient] | None = None,
    stop: threading.Event | None = None,
    now: Callable[[], datetime] | None = None,
    stream: bool = True,
) -> dict[str, Any]:
    """Archive the books of open markets into ``books`` every ``every`` (see module doc).

    Parameters
    ----------
    store
        The dataset to write.
    every
        Period between rounds (``"5m"`` or a ``timedelta``).
    venues, assets
        As in ``fetch_markets``.
    max_runs
        Stop after this many rounds (None: until SIGINT/SIGTERM or ``stop``).
    clients
        Venue -> ``MarketClient`` (default: real clients configured from the environment).
    stop
        An event that ends the recording after the current round (set by SIGINT/SIGTERM).
    now
        Clock (tz-aware UTC) stamping when each book was received.
    stream
        Follow books live where the client can (False: poll REST every round).

    Returns
    -------
    dict
        ``{"written": {"books": n}, "failed": [{"what", "error"}]}`` (the last 100 failures).
    """
    period = parse_duration(every, name="every") if isinstance(every, str) else every
    if period <= timedelta(0):
        raise ConfigError(f"every must be positive; found {every!r}")
    if max_runs is not None and max_runs < 1:
        raise ConfigError(f"max_runs must be >= 1; found {max_runs}")
    venue_list = _names(venues, VENUES, "venue")
    asset_list = _names(assets, DEFAULT_ASSETS, "asset")
    owned = clients is None
    clients = clients if clients is not None else make_clients(venue_list)
    clock = now or (lambda: datetime.now(UTC))
    stop = stop or threading.Event()
    streams: dict[str, LiveBooks] = {}
    settle = min(period.total_seconds(), _SETTLE_SECS)
    written = 0
    failed: list[dict[str, str]] = []
    runs = 0
    try:
        with stop_on_signals(stop):
            while not stop.is_set():
                frames: list[pd.DataFrame] = []
                for venue in venue_list:
                    frames += _record_round(
                        _client(clients, venue),
                        asset_list,
                        clock,
                        failed,
                        streams if stream else None,
                        settle,
                    )
                if frames:
                    batch = pd.concat(frames, ignore_index=True)
                    try:
                        with store.writer() as w:
                            written += w.upsert("books", batch)
                    except ForecastError as e:
                        failed.append({"what": "books write", "error": str(e)})
                del failed[:-_MAX_FAILED]
                runs += 1
                if max_runs is not None and runs >= max_runs:
                    break
                _wait(stop, period, streams)
    finally:
        for live in streams.values():
            live.close()
        if owned:
            _close(clients)
    return {"written": {"books": written}, "failed": failed}
