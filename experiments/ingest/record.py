"""``levercast record``: keep a live feed accumulating in the store until SIGINT/SIGTERM.

- ``derivatives``: every ``every``, an incremental ``fetch`` of open interest, funding and ratios,
  so that the 30-day-limited REST series keep growing beyond 30 days; and, at most once an hour,
  of exchange reserves when a provider is configured (DefiLlama needs no key), so that ELR stays
  live: reserve rows are daily and DefiLlama's are known only from their fetch time.
- ``liquidations``: listen to the Binance/Bybit/OKX liquidation streams and, at every bucket
  boundary (bucket = ``every``), write the buckets fully covered by a live connection (lower
  bounds, zeros included).
- ``books``: delegated to ``experiments.ingest.venues.record_books``.

SIGINT and SIGTERM set a stop event: the current round finishes, pending liquidation buckets that
are complete are written, and the function returns its summary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from levercast.experiments.ingest.fetch import DERIVATIVE_KINDS, fetch
from levercast.experiments.ingest.venues import record_books
from levercast.experiments.shutdown import stop_on_signals
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, ForecastError
from levercast.features.timeutil import parse_duration

__all__ = ["RESERVES_EVERY", "record"]

RESERVES_EVERY: Final = timedelta(hours=1)


def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    for table, rows in part.get("written", {}).items():
        total["written"][table] = total["written"].get(table, 0) + int(rows)
    total["failed"].extend(part.get("failed", []))


def record(
    store: Store,
    what: str,
    *,
    every: str | timedelta,
    assets: list[str],
    venues: list[str] | None = None,
    max_runs: int | None = None,
    clients: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
    listen: Callable[..., None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> dict[str, Any]:
    """Record ``what`` (``derivatives``, ``liquidations`` or ``books``) until stopped.

    Parameters
    ----------
    store
        Dataset to write into.
    every
        Period between rounds (``1h``); for liquidations also the bucket width.
    max_runs
        Stop after this many rounds (default: until SIGINT/SIGTERM).
    clients, listen, clock, stop
        Injected for tests (REST clients, websocket listener, time source, stop event).

    Returns
    -------
    dict
        ``{"written": {table: rows}, "failed": [{"what", "error"}]}`` summed over rounds.
    """
    period = parse_duration(every, name="every")
    if max_runs is not None and max_runs < 1:
        raise ConfigError(f"max_runs must be >= 1; found {max_runs}")
    stop = stop or threading.Event()
    total: dict[str, Any] = {"written": {}, "failed": []}
    with stop_on_signals(stop):
        if what == "derivatives":
            _record_derivatives(store, period, assets, venues, max_runs, clients, stop, total)
        elif what == "liquidations":
            _record_liquidations(
                store,
                period,
                assets,
                venues,
                max_runs,
                stop,
                total,
                listen,
                clock or (lambda: datetime.now(UTC)),
            )
        elif what == "books":
            _merge(total, _record_books(store, period, assets, venues, max_runs))
        else:
            raise ConfigError(f"what must be derivatives, liquidations or books; found {what!r}")
    return total


def _record_derivatives(
    store: Store,
    period: timedelta,
    assets: list[str],
    venues: list[str] | None,
    max_runs: int | None,
    clients: dict[str, Any] | None,
    stop: threading.Event,
    total: dict[str, Any],
) -> None:
    runs = 0
    due = datetime.min.replace(tzinfo=UTC)
    reserves_due = due if _has_reserves(clients, venues) else None
    while not stop.is_set():
        kinds = list(DERIVATIVE_KINDS)
        now = datetime.now(UTC)
        if reserves_due is not None and now >= reserves_due:
            kinds.append("reserves")
            reserves_due = now + RESERVES_EVERY
        _merge(total, fetch(store, kinds, assets=assets, venues=venues, clients=clients))
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        stop.wait(period.total_seconds())


def _has_reserves(clients: dict[str, Any] | None, venues: list[str] | None) -> bool:
    """Whether a reserve provider is configured (the injected ones, else the environment's) and
    not filtered out by ``venues``."""
    if clients is not None and "reserves" in clients:
        providers = list(clients["reserves"] or [])
    else:
        from levercast.features.sources.reserves import reserve_providers

        providers = reserve_providers()
    wanted = None if venues is None else {v.strip().lower() for v in venues}
    return any(wanted is None or p.source in wanted for p in providers)


def _record_liquidations(
    store: Store,
    period: timedelta,
    assets: list[str],
    venues: list[str] | None,
    max_runs: int | None,
    stop: threading.Event,
    total: dict[str, Any],
    listen: Callable[..., None] | None,
    clock: Callable[[], datetime],
) -> None:
    from levercast.features.sources import liquidation_stream as liq

    interval = {300: "5m", 900: "15m", 1800: "30m", 3600: "1h"}.get(int(period.total_seconds()))
    if interval is None:
        raise ConfigError(f"every must be one of 5m, 15m, 30m, 1h for liquidations; found {period}")
    chosen = [v for v in liq.STREAM_VENUES if venues is None or v in venues]
    if not chosen:
        raise ConfigError(f"venue must include one of {list(liq.STREAM_VENUES)}; found {venues}")
    lock = threading.Lock()
    events: list[Any] = []
    connected: dict[str, datetime | None] = dict.fromkeys(chosen)
    flushed_until: dict[str, datetime] = {}

    def on_events(batch: list[Any]) -> None:
        with lock:
            events.extend(batch)

    def on_connect_of(venue: str) -> Callable[[datetime | None], None]:
        def on_connect(t: datetime | None) -> None:
            with lock:
                connected[venue] = t

        return on_connect

    listener = listen or liq.listen
    threads = [
        threading.Thread(
            target=listener,
            args=(v, assets, on_events, stop),
            kwargs={"on_connect": on_connect_of(v)},
            daemon=True,
        )
        for v in chosen
    ]
    for thread in threads:
        thread.start()
    runs = 0
    while True:
        now = clock()
        boundary = (now - (now - datetime.min.replace(tzinfo=UTC)) % period) + period
        stop.wait(max(0.0, (boundary - now).total_seconds()))
        with lock:
            frames = []
            for venue in chosen:
                since = connected[venue]
                if since is None:
                    continue
                start = max(since, flushed_until.get(venue, since))
                mine = [e for e in events if e.venue == venue]
                frame = liq.aggregate_liquidations(
                    mine,
                    interval=interval,
                    series=[(venue, a) for a in assets],
                    covered_from=start,
                    covered_until=clock(),
                )
                if not frame.empty:
                    flushed_until[venue] = frame["available_at"].max().to_pydatetime()
                    frames.append(frame)
            done = min(flushed_until.values(), default=None)
            if done is not None:
                events[:] = [e for e in events if e.ts >= done]
        if frames:
            import pandas as pd

            try:
                with store.writer() as writer:
                    rows = writer.upsert("liquidations", pd.concat(frames, ignore_index=True))
                _merge(total, {"written": {"liquidations": rows}})
            except ForecastError as e:
                total["failed"].append({"what": "liquidations", "error": str(e)})
        runs += 1
        if stop.is_set() or (max_runs is not None and runs >= max_runs):
            break
    stop.set()
    for thread in threads:
        thread.join(timeout=15)


def _record_books(
    store: Store,
    period: timedelta,
    assets: list[str],
    venues: list[str] | None,
    max_runs: int | None,
) -> dict[str, Any]:
    return record_books(store, every=period, venues=venues, assets=assets, max_runs=max_runs)
