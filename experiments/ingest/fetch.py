"""``levercast fetch``: fill the store from the exchange and on-chain feeds (INTERFACE.md §4).

``fetch(store, what, ...)`` plans one task per (kind, venue, asset), fetches every task first and
then writes all that succeeded in one ``store.writer()`` block (each table an atomic upsert), so a
failed task never touches the store. It is incremental (a series resumes after its last stored
row unless ``since`` reaches before its first one), idempotent (upserts on the table key) and
reports ``{"written": {table: rows}, "failed": [{"what", "error"}]}``. A venue that cannot be
reached is skipped for the rest of the run so that an offline run fails within seconds. API keys
live only in environment variables; every error text is scrubbed of their values.

Exchange reserves come from every configured provider, DefiLlama's keyless CEX holdings included
(``features.sources.defillama``): its rows are available from the time they are fetched, so the
providers' clock never runs behind the wall clock. Open-interest rows without a USD value count
as not fetched yet (a store written before Bybit's were valued at the mark price is repaired).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO

import pandas as pd

from levercast.experiments.ingest.venues import fetch_markets
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, ForecastError, MarketUnavailable

__all__ = ["FETCH_KINDS", "default_clients", "fetch", "scrub_secrets"]

FETCH_KINDS: Final = (
    "candles",
    "open-interest",
    "funding",
    "ratios",
    "liquidations",
    "reserves",
    "implied-vol",
    "markets",
)
DERIVATIVE_KINDS: Final = ("open-interest", "funding", "ratios")
EXCHANGES: Final = ("binance", "bybit", "okx")
MARKET_VENUES: Final = ("polymarket", "kalshi")
DEFAULT_LOOKBACK: Final = timedelta(days=30)
ARCHIVE_MIN_SPAN: Final = timedelta(days=7)
REST_RECENT: Final = timedelta(days=28)
_TABLE: Final = {
    "candles": "candles",
    "open-interest": "open_interest",
    "funding": "funding",
    "ratios": "ratios",
    "liquidations": "liquidations",
    "reserves": "exchange_reserves",
    "implied-vol": "implied_vol",
}
_SECRET_ENV: Final = (
    "LEVERCAST_CRYPTOQUANT_KEY",
    "LEVERCAST_GLASSNODE_KEY",
    "LEVERCAST_COINGLASS_KEY",
)

Fetcher = Callable[[datetime, datetime], pd.DataFrame]


def scrub_secrets(text: str) -> str:
    """``text`` with the value of every key environment variable replaced by ``***``."""
    for name in _SECRET_ENV:
        value = os.environ.get(name, "").strip()
        if value:
            text = text.replace(value, "***")
    return text


@dataclass(frozen=True, slots=True)
class _Task:
    what: str
    venue: str
    asset: str
    table: str
    series: dict[str, str]  # filters of the stored series, for resuming
    step: timedelta
    run: Fetcher
    label: str


def default_clients(now: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Lazily built clients keyed ``binance``, ``binance-archive``, ``bybit``, ``okx``,
    ``deribit``, ``reserves`` (list of configured providers) and ``coinglass`` (or None)."""
    from levercast.features.sources.binance import BinanceClient
    from levercast.features.sources.binance_archive import BinanceArchive
    from levercast.features.sources.bybit import BybitClient
    from levercast.features.sources.decode import utc_now
    from levercast.features.sources.deribit import DeribitClient
    from levercast.features.sources.okx import OkxClient
    from levercast.features.sources.reserves import reserve_providers

    clock = now or utc_now

    def fetch_time() -> datetime:
        # Reserve rows may be stamped with the time they were fetched (DefiLlama's are available
        # only from then): never earlier than the wall clock, even when a run fixes ``now``.
        return max(clock(), utc_now())

    coinglass = None
    if os.environ.get("LEVERCAST_COINGLASS_KEY", "").strip():
        from levercast.features.sources.coinglass import CoinGlassLiquidations

        coinglass = CoinGlassLiquidations()
    return {
        "binance": BinanceClient(now=clock),
        "binance-archive": BinanceArchive(now=clock),
        "bybit": BybitClient(now=clock),
        "okx": OkxClient(now=clock),
        "deribit": DeribitClient(now=clock),
        "reserves": reserve_providers(now=fetch_time),
        "coinglass": coinglass,
    }


def _binance_candles(clients: dict[str, Any], asset: str, interval: str, now: datetime) -> Fetcher:
    def run(since: datetime, until: datetime) -> pd.DataFrame:
        rest, archive = clients["binance"], clients["binance-archive"]
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        parts = []
        start = since
        if min(until, today) - since >= ARCHIVE_MIN_SPAN:
            try:
                deep = archive.klines(
                    asset, interval=interval, since=since, until=min(until, today)
                )
            except MarketUnavailable:  # REST serves klines too: fall back to it
                deep = None
            if deep is not None and not deep.empty:
                parts.append(deep)
                start = deep["ts"].max().to_pydatetime() + pd.Timedelta(interval)
        if start < until:
            parts.append(rest.candles(asset, interval=interval, since=start, until=until))
        return pd.concat(parts, ignore_index=True)

    return run


def _binance_metrics(clients: dict[str, Any], asset: str, kind: str, now: datetime) -> Fetcher:
    def run(since: datetime, until: datetime) -> pd.DataFrame:
        rest = clients["binance"]
        recent = now - REST_RECENT
        parts = []
        if since < recent:
            oi, ratios = clients["binance-archive"].metrics(
                asset, since=since, until=min(until, recent)
            )
            parts.append(oi if kind == "open-interest" else ratios)
        method = rest.open_interest if kind == "open-interest" else rest.ratios
        if until > recent:
            parts.append(method(asset, since=max(since, recent), until=until))
        return pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)

    return run


def _plan(
    what: str, assets: list[str], venues: set[str] | None, clients: dict[str, Any], now: datetime
) -> tuple[list[_Task], list[dict[str, str]]]:
    tasks: list[_Task] = []
    failed: list[dict[str, str]] = []
    table = _TABLE[what]

    def want(venue: str) -> bool:
        return venues is None or venue in venues

    hour = timedelta(hours=1)
    if what in ("candles", "open-interest", "funding", "ratios"):
        for venue in [v for v in EXCHANGES if want(v)]:
            for asset in assets:
                if what == "candles":
                    for interval in ("1h", "30m") if venue == "binance" else ("1h",):
                        store_venue = "binance-usdm" if venue == "binance" else venue
                        run = (
                            _binance_candles(clients, asset, interval, now)
                            if venue == "binance"
                            else _method(clients, venue, what, asset, interval=interval)
                        )
                        tasks.append(
                            _Task(
                                what,
                                venue,
                                asset,
                                table,
                                {"venue": store_venue, "asset": asset, "interval": interval},
                                pd.Timedelta(interval).to_pytimedelta(),
                                run,
                                f"candles {store_venue} {asset} {interval}",
                            )
                        )
                    continue
                if venue == "binance" and what != "funding":
                    run = _binance_metrics(clients, asset, what, now)
                else:
                    run = _method(clients, venue, what, asset)
                step = timedelta(minutes=1) if what == "funding" else hour
                tasks.append(
                    _Task(
                        what,
                        venue,
                        asset,
                        table,
                        {"venue": venue, "asset": asset},
                        step,
                        run,
                        f"{what} {venue} {asset}",
                    )
                )
    elif what == "implied-vol" and want("deribit"):
        for asset in assets:
            run = _method(clients, "deribit", what, asset)
            tasks.append(
                _Task(
                    what,
                    "deribit",
                    asset,
                    table,
                    {"source": "deribit-dvol", "asset": asset},
                    hour,
                    run,
                    f"implied-vol deribit {asset}",
                )
            )
    elif what == "reserves":
        providers = [p for p in clients.get("reserves") or [] if want(p.source)]
        if not providers:
            failed.append(
                {
                    "what": what,
                    "error": "no reserve provider configured"
                    + (f" among --venue {sorted(venues)}" if venues is not None else "")
                    + ": DefiLlama needs no key (unless LEVERCAST_DEFILLAMA_EXCHANGES=none; "
                    "--venue defillama), or set LEVERCAST_CRYPTOQUANT_KEY, "
                    "LEVERCAST_GLASSNODE_KEY or LEVERCAST_RESERVES_CSV",
                }
            )
        for provider in providers:
            for asset in assets:
                tasks.append(
                    _Task(
                        what,
                        provider.source,
                        asset,
                        table,
                        {"source": provider.source, "asset": asset},
                        timedelta(days=1),
                        _reserves(provider, asset),
                        f"reserves {provider.source} {asset}",
                    )
                )
    elif what == "liquidations":
        coinglass = clients.get("coinglass")
        if coinglass is None or not want("coinglass"):
            failed.append(
                {
                    "what": what,
                    "error": "no liquidation history source: set "
                    "LEVERCAST_COINGLASS_KEY, or run `levercast record liquidations`",
                }
            )
        else:
            for asset in assets:
                tasks.append(
                    _Task(
                        what,
                        "coinglass",
                        asset,
                        table,
                        {"venue": "aggregate", "asset": asset, "interval": "1h"},
                        hour,
                        _method(clients, "coinglass", what, asset, interval="1h"),
                        f"liquidations aggregate {asset}",
                    )
                )
    if not tasks and not failed:
        failed.append(
            {"what": what, "error": f"no venue of --venue {sorted(venues or [])} serves {what}"}
        )
    return tasks, failed


def _method(clients: dict[str, Any], venue: str, what: str, asset: str, **kwargs: Any) -> Fetcher:
    name = {"open-interest": "open_interest", "implied-vol": "implied_vol"}.get(what, what)

    def run(since: datetime, until: datetime) -> pd.DataFrame:
        method = getattr(clients[venue], name)
        return method(asset, since=since, until=until, **kwargs)  # type: ignore[no-any-return]

    return run


def _reserves(provider: Any, asset: str) -> Fetcher:
    def run(since: datetime, until: datetime) -> pd.DataFrame:
        return provider.reserves(asset, since=since, until=until)  # type: ignore[no-any-return]

    return run


def _window(store: Store, task: _Task, since: datetime | None, until: datetime) -> datetime:
    """Where the task starts: after the last stored row, unless ``since`` reaches earlier."""
    default = since or (until - DEFAULT_LOOKBACK)
    if not store.has(task.table):
        return default
    rows = store.read(task.table)
    for column, value in task.series.items():
        rows = rows[rows[column] == value]
    if task.table == "open_interest":
        # rows without a USD value (Bybit's, before they were valued at the mark price) do not
        # count as fetched: they are fetched again, and the upsert fills them in
        rows = rows[rows["oi_usd"].notna()]
    if rows.empty:
        return default
    first = rows["ts"].min().to_pydatetime()
    if since is not None and since < first:
        return since
    if "metric" in rows.columns:
        last = rows.groupby("metric")["ts"].max().min().to_pydatetime()
    else:
        last = rows["ts"].max().to_pydatetime()
    return max(default, last + task.step)


def _is_unreachable(error: Exception) -> bool:
    text = str(error)
    return isinstance(error, MarketUnavailable) and (
        "connection failed" in text or "timed out" in text
    )


def fetch(
    store: Store,
    what: str | Iterable[str],
    *,
    assets: list[str],
    venues: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    clients: dict[str, Any] | None = None,
    now: datetime | None = None,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Fetch ``what`` (a kind of ``FETCH_KINDS``, ``all``, or several) into ``store``.

    Parameters
    ----------
    store
        The dataset to fill (written under its lock).
    what
        ``candles``, ``open-interest``, ``funding``, ``ratios``, ``liquidations``, ``reserves``,
        ``implied-vol``, ``markets`` or ``all``.
    assets, venues
        Assets (``BTC``) and an optional venue filter (``binance,bybit``).
    since, until
        Window (tz-aware); ``until`` defaults to now, ``since`` to resuming (or 30 days back).
    clients
        Client objects by name (see ``default_clients``); missing ones are built by default.

    Returns
    -------
    dict
        ``{"written": {table: rows changed}, "failed": [{"what", "error"}]}``; with ``all``,
        optional sources that are not configured (no API key) are listed under ``skipped``
        instead of ``failed``.
    """
    kinds = list(FETCH_KINDS) if what == "all" else [what] if isinstance(what, str) else list(what)
    bad = [k for k in kinds if k not in FETCH_KINDS]
    if bad:
        raise ConfigError(f"what must be one of {[*FETCH_KINDS, 'all']}; found {bad}")
    now = now or datetime.now(UTC)
    until = min(until or now, now)
    if since is not None and since >= until:
        raise ConfigError(
            f"since must be before until ({until.isoformat()}); found {since.isoformat()}"
        )
    out = sys.stderr if progress is None else progress
    merged = default_clients(lambda: now)
    merged.update(clients or {})
    venue_set = {v.strip().lower() for v in venues} if venues else None
    frames: dict[str, list[pd.DataFrame]] = {}
    failed: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    down: dict[str, str] = {}
    for kind in kinds:
        if kind == "markets":
            continue  # after this run's own write: venue_fetch takes the lock itself
        tasks, plan_failed = _plan(kind, assets, venue_set, merged, now)
        if what == "all":
            # An optional source with no key configured is not a failure of `fetch all`.
            skipped.extend(plan_failed)
        else:
            failed.extend(plan_failed)
        for task in tasks:
            if task.venue in down:
                failed.append({"what": task.label, "error": f"skipped: {down[task.venue]}"})
                continue
            start = _window(store, task, since, until)
            if start >= until:
                print(f"fetch: {task.label}: up to date", file=out)
                continue
            try:
                rows = task.run(start, until)
            except ForecastError as e:
                error = scrub_secrets(str(e))
                failed.append({"what": task.label, "error": error})
                if _is_unreachable(e):
                    down[task.venue] = f"{task.venue} unreachable ({error})"
                continue
            print(f"fetch: {task.label}: {len(rows)} rows from {start:%Y-%m-%dT%H:%MZ}", file=out)
            if not rows.empty:
                frames.setdefault(task.table, []).append(rows)
    written = _write(store, frames, failed)
    market_venues = [v for v in venue_set or MARKET_VENUES if v in MARKET_VENUES]
    if "markets" in kinds and not market_venues and what == "markets":
        failed.append(
            {
                "what": "markets",
                "error": f"no venue of --venue {sorted(venue_set or [])} "
                f"serves markets (use {', '.join(MARKET_VENUES)})",
            }
        )
    elif "markets" in kinds and market_venues:
        market_written, market_failed = _fetch_markets(store, assets, market_venues)
        for table, count in market_written.items():
            written[table] = written.get(table, 0) + count
        failed.extend(market_failed)
    result: dict[str, Any] = {"written": written, "failed": failed}
    if skipped:
        result["skipped"] = skipped
    return result


def _write(
    store: Store, frames: dict[str, list[pd.DataFrame]], failed: list[dict[str, str]]
) -> dict[str, int]:
    written: dict[str, int] = {}
    if not frames:
        return written
    try:
        with store.writer() as writer:
            for table, parts in frames.items():
                try:
                    written[table] = writer.upsert(table, pd.concat(parts, ignore_index=True))
                except ForecastError as e:
                    failed.append({"what": table, "error": scrub_secrets(str(e))})
    except ForecastError as e:  # the lock is held by another writer
        failed.append({"what": "write", "error": str(e)})
    return written


def _fetch_markets(
    store: Store, assets: list[str], venues: list[str] | None
) -> tuple[dict[str, int], list[dict[str, str]]]:
    """Delegate to ``experiments.ingest.venues.fetch_markets``; a venue failure is a failure row."""
    try:
        result = fetch_markets(store, venues=venues, assets=assets)
    except ForecastError as e:
        return {}, [{"what": "markets", "error": scrub_secrets(str(e))}]
    written = {str(k): int(v) for k, v in dict(result.get("written", {})).items()}
    return written, [dict(f) for f in result.get("failed", [])]
