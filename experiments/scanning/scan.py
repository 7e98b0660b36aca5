"""The edge scanner: open crypto markets, priced by the model, ranked by edge after costs.

``scan`` lists the open markets (live: through the venue clients; replay: the store's
``markets`` table at ``at``), parses each one (``markets.questions.parser``), prices the contract
with the default forecaster (``default`` when registered, else ``gbm``; each row names its
model) or the market-aware forecast (``market_aware``: ``gbm`` combined with the market by the
fit on markets known before T, ``experiments.scanning.market_aware``), reads executable prices
(live: the venue's book; replay: the last archived ``books`` snapshot, else the last
``market_prices`` point +- ``ASSUMED_HALF_SPREAD``) and compares them (``markets.odds``).

Every listed market is a row, including stale quotes, events already decided at T and windows
already closed (``experiments.scanning.pricing`` says when a row is flagged; ``why`` says why
not); rows are ranked by edge net of fees and spread within groups: tradeable rows, stale
quotes, rows without a quote, rows decided or closed at T (``_rank``). Kelly
fractions (flagged rows only) are capped per market (``KellyCaps.per_market``), then scaled down
so that the sum over one underlying and expiry (ladder strikes share one price path) stays under
``per_expiry`` and the sum over one underlying under ``per_asset``.

Orientation: a row's probabilities refer to the event its contract names (``yes_outcome``); a
venue book of the other outcome is mirrored (bids' = 1 - asks). ``side`` ``"yes"`` buys that
event. Replay uses only rows with ``available_at <= at`` and never writes anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from levercast.experiments.scanning.candidates import Candidate, open_markets_at
from levercast.experiments.scanning.pricing import (
    Priced,
    build_row,
    closed_row,
    count_reason,
)
from levercast.experiments.scanning.rows import KellyCaps, ScanResult, ScanRow, describe_row
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, ForecastError, UnsupportedContract
from levercast.features.timeutil import parse_duration

if TYPE_CHECKING:
    from levercast.models.pricing.price import Pricer

__all__ = [
    "KellyCaps",
    "ScanResult",
    "ScanRow",
    "apply_caps",
    "choose_model",
    "describe_row",
    "scan",
]

DEFAULT_SIZE_SHARES: Final = 100.0
MARKET_AWARE_BASE: Final = "gbm"  # the base model of the committed market-aware prior


def choose_model(requested: str | None = None) -> str:
    """``requested``, else the ``default`` forecaster (it falls back to gbm by itself, with a
    named warning, when no fit can be made in the cold budget)."""
    from levercast.experiments.learning.pricers import MODEL_NAMES

    if requested:
        if requested not in MODEL_NAMES:
            raise ConfigError(f"model must be one of {list(MODEL_NAMES)}; found {requested!r}")
        return requested
    return "default"


# -- live candidates ---------------------------------------------------------------------------
def _live_candidates(
    clients: Mapping[str, Any],
    venues: Sequence[str],
    assets: Sequence[str],
    failed: list[dict[str, str]],
) -> list[Candidate]:
    out: list[Candidate] = []
    for venue in venues:
        client = clients.get(venue)
        if client is None:
            raise ConfigError(f"clients must include venue {venue!r}; found {sorted(clients)}")
        try:
            markets = [m for m in client.list_markets(list(assets)) if m.closed is not True]
        except ForecastError as e:
            failed.append({"what": f"{venue} markets", "error": str(e)})
            continue
        for market in markets:
            try:
                book = client.order_book(market)
                out.append(Candidate(market, book=book, source="book"))
            except ForecastError as e:
                out.append(Candidate(market, source=f"no book ({str(e)[:120]})"))
    return out


def apply_caps(rows: Sequence[ScanRow], caps: KellyCaps) -> list[ScanRow]:
    """Scale Kelly fractions down so each (asset, expiry) and each asset sums under its cap.

    Rows of one group are scaled by the same factor (``cap / sum`` when the sum exceeds the
    cap), first per (asset, expiry), then per asset; the order of rows is kept.
    """
    fractions = [r.kelly_fraction for r in rows]
    groupings: list[tuple[Callable[[ScanRow], tuple[Any, ...]], float]] = [
        (lambda r: (r.contract.asset, r.contract.end), caps.per_expiry),
        (lambda r: (r.contract.asset,), caps.per_asset),
    ]
    for key, cap in groupings:
        totals: dict[tuple[Any, ...], float] = {}
        for r, f in zip(rows, fractions, strict=True):
            totals[key(r)] = totals.get(key(r), 0.0) + f
        fractions = [
            f * (cap / totals[key(r)]) if totals[key(r)] > cap else f
            for r, f in zip(rows, fractions, strict=True)
        ]
    out = []
    for r, f in zip(rows, fractions, strict=True):
        if f < r.kelly_fraction - 1e-15:
            why = f"{r.why}; stake scaled {r.kelly_fraction:.4f} -> {f:.4f} by the ladder caps"
            out.append(replace(r, kelly_fraction=f, why=why))
        else:
            out.append(r)
    return out


def _rank(rows: list[ScanRow]) -> list[ScanRow]:
    """Tradeable rows first (undecided, quoted, fresh), then stale quotes, then rows without a
    quote, then rows decided or closed at T; by edge within each group."""

    def key(r: ScanRow) -> tuple[int, float, str, str]:
        edge = r.edge
        quoted = edge is not None and not math.isnan(edge)
        group = 3 if r.decided is not None else (2 if not quoted else (1 if r.stale else 0))
        return (group, -(edge or 0.0) if quoted else 0.0, r.venue, r.market_id)

    return sorted(rows, key=key)


def _names(value: str | Sequence[str], *, upper: bool) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [v.strip() for v in items if v.strip()]
    return [v.upper() if upper else v.lower() for v in out]


def _refresh(
    store: Store,
    assets: list[str],
    fetcher: Callable[..., dict[str, Any]] | None,
    now: datetime,
    notes: list[str],
) -> None:
    """Fetch the tables the pricer reads ('fetch what is stale first'); failures become notes."""
    if fetcher is None:
        from levercast.experiments.ingest.fetch import fetch

        fetcher = fetch
    try:
        result = fetcher(store, ["candles", "implied-vol"], assets=assets, until=now)
    except ForecastError as e:
        notes.append(f"fetch failed ({e}); scanned the store as it is")
        return
    for item in result.get("failed", []):
        notes.append(f"fetch {item.get('what')}: {item.get('error')}")
    store.invalidate()


def scan(
    store: Store,
    *,
    at: datetime | None = None,
    venues: str | Sequence[str] = ("polymarket", "kalshi"),
    assets: str | Sequence[str] = ("BTC", "ETH"),
    min_edge: float = 0.02,
    max_quote_age: str | timedelta = "10m",
    fetch: bool = True,
    clients: Mapping[str, Any] | None = None,
    model: str | None = None,
    caps: KellyCaps | None = None,
    size_shares: float = DEFAULT_SIZE_SHARES,
    now: Callable[[], datetime] | None = None,
    fetcher: Callable[..., dict[str, Any]] | None = None,
) -> ScanResult:
    """Scan the open markets and rank them by edge (see module docstring).

    Parameters
    ----------
    store
        The dataset: prices the contracts (and, in replay, supplies markets and quotes).
    at
        Replay time: scan the markets open at ``at`` from the store, no fetch, no network.
        None: a live scan at ``now()`` through ``clients``.
    venues, assets
        Venues (``polymarket``, ``kalshi``) and underlyings to scan (comma list or sequence).
    min_edge
        Edge per share beyond fees and spread that sets ``flag``.
    max_quote_age
        Older quotes set ``stale`` (``"10m"`` or a timedelta).
    fetch
        Live only: refresh candles and implied vol in ``store`` first.
    clients
        Venue -> ``MarketClient`` (live; default: real clients from the environment).
    model
        Pricing model (default: ``choose_model()``).
    caps
        Kelly caps (default ``KellyCaps()``).
    size_shares
        Order size walked through the books (a book too thin for it is priced at 1 share).
    now, fetcher
        Clock and fetch function, injectable for tests.

    Returns
    -------
    ScanResult
        Ranked rows, failed venues, unsupported counts by reason, notes.

    Raises
    ------
    ConfigError
        A naive ``at``, an unknown venue, a negative ``min_edge`` or a bad ``max_quote_age``.
    """
    venue_list = _names(venues, upper=False)
    bad = [v for v in venue_list if v not in ("polymarket", "kalshi")]
    if bad:
        raise ConfigError(f"venue must be polymarket or kalshi; found {bad[0]!r}")
    asset_list = _names(assets, upper=True)
    if not min_edge >= 0.0:
        raise ConfigError(f"min_edge must be >= 0; found {min_edge}")
    age = (
        parse_duration(max_quote_age, name="max_quote_age")
        if isinstance(max_quote_age, str)
        else max_quote_age
    )
    caps = caps or KellyCaps()
    model_name = choose_model(model)
    failed: list[dict[str, str]] = []
    notes: list[str] = []
    live = at is None
    if at is None:
        t = (now or (lambda: datetime.now(UTC)))()
        if fetch:
            _refresh(store, asset_list, fetcher, t, notes)
        if clients is None:
            from levercast.experiments.ingest.venues import make_clients

            clients = make_clients(venue_list)
        candidates = _live_candidates(clients, venue_list, asset_list, failed)
    else:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ConfigError(f"at must be tz-aware UTC; found naive {at.isoformat()}")
        t = at.astimezone(UTC)
        candidates, replay_notes = open_markets_at(store, t, venue_list)
        notes += replay_notes
    rows, unsupported, pricing_notes = _price_all(
        candidates, store, t, model_name, asset_list, min_edge, age, caps, size_shares
    )
    notes += pricing_notes
    return ScanResult(
        at=t,
        live=live,
        model=model_name,
        rows=tuple(_rank(apply_caps(rows, caps))),
        failed=tuple(failed),
        unsupported=dict(sorted(unsupported.items(), key=lambda kv: -kv[1])),
        notes=tuple(notes),
        data_fingerprint=store.fingerprint() if not store.is_empty() else "",
    )


def _price_batched(
    open_: list[tuple[Candidate, Any]],
    store: Store,
    t: datetime,
    model: str,
    count: Callable[[str], None],
) -> list[Priced]:
    """The open markets' contracts priced per asset in one batch (a learned model: one model
    call per asset), each distinct contract once; a contract the model refuses is counted
    with its reason, never hiding the others."""
    from levercast.experiments.learning.pricers import price_each, pricer_for
    from levercast.experiments.scanning.candidates import event_quote

    view = store.at(t)
    by_asset: dict[str, list[Any]] = {}
    for _, parsed in open_:
        contracts = by_asset.setdefault(parsed.contract.asset, [])
        if parsed.contract not in contracts:
            contracts.append(parsed.contract)
    answers: dict[Any, Any] = {}
    for asset, contracts in by_asset.items():
        pricer: Pricer = pricer_for(model, store, asset=asset, at=t)
        answers.update(zip(contracts, price_each(contracts, view, pricer=pricer), strict=True))
    priced: list[Priced] = []
    for cand, parsed in open_:
        forecast = answers[parsed.contract]
        if isinstance(forecast, UnsupportedContract):
            count(f"model {model} cannot price it: {forecast}")
        elif isinstance(forecast, ForecastError):
            count(f"not priced: {forecast}")
        else:
            quote, source = event_quote(cand, parsed.yes_outcome or cand.market.outcomes[0])
            priced.append(Priced(cand, parsed, forecast, quote, source))
    return priced


def _price_all(
    candidates: list[Candidate],
    store: Store,
    t: datetime,
    model: str,
    assets: list[str],
    min_edge: float,
    age: timedelta,
    caps: KellyCaps,
    size_shares: float,
) -> tuple[list[ScanRow], dict[str, int], list[str]]:
    from levercast.features.prices import highest_high
    from levercast.markets.questions.parser import Unsupported, parse_market

    lookup = partial(highest_high, store)
    unsupported: dict[str, int] = {}
    count = count_reason(unsupported)
    closed: list[ScanRow] = []
    open_: list[tuple[Candidate, Any]] = []
    for cand in candidates:
        parsed = parse_market(cand.market, reference_time=cand.reference_time or t, ath_usd=lookup)
        if isinstance(parsed, Unsupported):
            count(f"unsupported: {parsed.reason}")
            continue
        contract = parsed.contract
        if contract.asset not in assets:
            count(f"asset {contract.asset} not scanned (--asset {','.join(assets)})")
            continue
        if contract.end is not None and contract.end <= t:
            closed.append(closed_row(cand, parsed, at=t, model=model, max_age=age))
            continue
        open_.append((cand, parsed))
    base = MARKET_AWARE_BASE if model == "market_aware" else model
    priced = _price_batched(open_, store, t, base, count)
    bands: dict[str, tuple[float, float, float]] = {}
    notes: list[str] = []
    if model == "market_aware":
        from levercast.experiments.scanning.market_aware import market_aware_bands

        bands, notes = market_aware_bands(priced, store, t)
    rows = [
        build_row(
            p,
            at=t,
            band=bands.get(p.cand.market.market_id),
            model=model,
            min_edge=min_edge,
            max_age_secs=age.total_seconds(),
            caps=caps,
            size_shares=size_shares,
        )
        for p in priced
    ]
    return rows + closed, unsupported, notes
