"""The edge scanner: open crypto markets, priced by the model, ranked by edge after costs.

``scan`` lists the open markets (live: through the venue clients; replay: the store's
``markets`` table at ``at``), parses each one (``markets.questions.parser``), prices the contract
with the
default forecaster (``default`` when registered, else ``gbm``; each row names its model), reads
executable prices (live: the venue's book; replay: the last archived ``books`` snapshot, else the
last ``market_prices`` point +- ``ASSUMED_HALF_SPREAD``) and compares them (``markets.odds``).

Every priced market is a row; rows are ranked by edge net of fees and spread (rows without a
quote last). ``min_edge`` and the quote age only set ``flag``/``stale``: no row is ever dropped.
Kelly fractions are capped per market (``KellyCaps.per_market``), then scaled down so that the
sum over one underlying and expiry (ladder strikes share one price path) stays under
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

from levercast.experiments.scanning.candidates import Candidate, event_quote, open_markets_at
from levercast.experiments.scanning.rows import KellyCaps, ScanResult, ScanRow, describe_row
from levercast.features.dataset.store import Store, StoreView
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


# -- pricing and rows -------------------------------------------------------------------------
def _reason_key(reason: str) -> str:
    return reason.split(";")[0].strip()[:160]


def _why(signal: Any, stale: bool, age: float | None, min_edge: float, source: str) -> list[str]:
    if signal is None:
        return [source]
    if signal.side is None:
        return ["quote cannot fill the order on either side"]
    price = signal.price_yes if signal.side == "yes" else signal.price_no
    notes = [
        f"buy {signal.side.upper()} at {price:.3f} + fee {signal.fee:.4f}: "
        f"edge {signal.edge:+.3f} after costs"
    ]
    if not signal.flag:
        notes.append(
            f"edge below {min_edge:g}" if signal.edge <= min_edge else "pessimistic Kelly is 0"
        )
    if stale and age is not None:
        notes.append(f"stale quote ({age / 60:.0f} min old)")
    if source != "book":
        notes.append(f"quote: {source}")
    return notes


def _price_row(
    cand: Candidate,
    parsed: Any,
    view: StoreView,
    pricer: Pricer,
    *,
    at: datetime,
    min_edge: float,
    max_age_secs: float,
    caps: KellyCaps,
    size_shares: float,
    cache: dict[Any, Any],
) -> ScanRow:
    from levercast.markets.fees import fees_for_market
    from levercast.markets.odds import compare
    from levercast.models.pricing.price import price_contract

    market, contract = cand.market, parsed.contract
    model = pricer.name
    key = (contract, model)
    if key not in cache:
        cache[key] = price_contract(contract, view, pricer=pricer)
    forecast = cache[key]
    prob = min(max(forecast.prob, 0.0), 1.0)
    lo, hi = min(max(forecast.prob_lo, 0.0), prob), max(min(forecast.prob_hi, 1.0), prob)
    yes = parsed.yes_outcome or market.outcomes[0]
    quote, source = event_quote(cand, yes)
    signal = None
    if quote is not None:
        kwargs: dict[str, Any] = {
            "fees": fees_for_market(market),
            "margin": min_edge,
            "kelly_fraction_cap": caps.per_market,
            "at": at,
        }
        signal = compare(prob, lo, hi, quote, size=size_shares, **kwargs)
        if signal.side is None and quote.book is not None:
            signal = compare(prob, lo, hi, quote, size=1.0, **kwargs)
            source = f"{source}; book thinner than {size_shares:g} shares, priced at 1"
    age = None if signal is None else signal.quote_age_secs
    stale = bool(age is not None and age > max_age_secs)
    why = _why(signal, stale, age, min_edge, source)
    if forecast.model != model:
        why.append(f"model fell back to {forecast.model}")
    return ScanRow(
        venue=market.venue,
        market_id=market.market_id,
        question=market.question,
        contract=forecast.contract,
        yes_outcome=yes,
        model=forecast.model,
        prob_model=prob,
        prob_lo=lo,
        prob_hi=hi,
        components=dict(forecast.components),
        prob_bid=None if quote is None else quote.prob_bid,
        prob_ask=None if quote is None else quote.prob_ask,
        quote_observed_at=None if quote is None else quote.observed_at,
        quote_source=source,
        signal=signal,
        kelly_fraction=0.0 if signal is None else signal.kelly_fraction,
        stale=stale,
        why="; ".join(why),
    )


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
    def key(r: ScanRow) -> tuple[bool, float, str, str]:
        edge = r.edge
        return (edge is None or math.isnan(edge), -(edge or 0.0), r.venue, r.market_id)

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
    rows, unsupported = _price_all(
        candidates, store, t, model_name, asset_list, min_edge, age, caps, size_shares
    )
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
) -> tuple[list[ScanRow], dict[str, int]]:
    from levercast.experiments.learning.pricers import pricer_for
    from levercast.features.prices import highest_high
    from levercast.markets.questions.parser import Unsupported, parse_market

    view = store.at(t)
    lookup = partial(highest_high, store)
    unsupported: dict[str, int] = {}
    rows: list[ScanRow] = []
    cache: dict[Any, Any] = {}
    pricers: dict[str, Pricer] = {}

    def count(reason: str) -> None:
        key = _reason_key(reason)
        unsupported[key] = unsupported.get(key, 0) + 1

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
            count("contract ended before the scan time")
            continue
        if contract.asset not in pricers:
            pricers[contract.asset] = pricer_for(model, store, asset=contract.asset, at=t)
        try:
            rows.append(
                _price_row(
                    cand,
                    parsed,
                    view,
                    pricers[contract.asset],
                    at=t,
                    min_edge=min_edge,
                    max_age_secs=age.total_seconds(),
                    caps=caps,
                    size_shares=size_shares,
                    cache=cache,
                )
            )
        except UnsupportedContract as e:
            count(f"model {model} cannot price it: {e}")
        except ForecastError as e:
            count(f"not priced: {e}")
    return rows, unsupported
