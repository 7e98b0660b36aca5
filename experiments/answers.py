"""The answers of the Python API (``experiments.api``) and how an ``ask`` answer is assembled.

Result records: ``PriceResult`` (``price``), ``AskResult`` (``ask``: the price, the market's
price and our edge, the drivers), ``MarketEdge``, ``DataCheck`` (``Dataset.check``).

Assembling an ``ask``:

- ``find_market``: the dataset market a text names, known at T (``markets_as_of``): its id
  (Kalshi ticker, Polymarket market or condition id), its slug, a venue URL holding one of those
  (``polymarket.com/event/<event>/<market-slug>``, ``kalshi.com/markets/<series>/<name>/<ticker>``;
  a Kalshi event ticker names its one market, or is an error listing some of them) or its exact
  question (case and spacing aside). Several matches: the one open at T, else the
  latest listed. A URL, or one token shaped like an id or slug, that names no market is an error;
  other text is a question in words.
- ``parse_found``: the market's contract from its own title and rules (``parse_market``).
- ``market_edge``: its quote at T as the scanner reads it (``experiments.scanning.candidates``:
  the last archived book, else the last price +- an assumed half-spread) and our edge net of the
  venue's fees at T and of the spread (``markets.fees.fees_for_market``, ``markets.odds.compare``
  for one share at the taker price).
- ``drivers_of``: the learned answer's drivers (``models.learned.drivers.input_effects``),
  computed from the same point-in-time inputs the pricer read.
- ``contract_rows``: priced contracts as ``FittedForecaster.predict`` rows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlparse

import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, UnsupportedContract
from levercast.models.contracts import Contract

if TYPE_CHECKING:
    from levercast.markets.questions.common import Parsed
    from levercast.models.learned.drivers import InputEffect
    from levercast.models.pricing.price import Forecast, Pricer

__all__ = [
    "AskResult",
    "DataCheck",
    "MarketEdge",
    "PriceResult",
    "contract_rows",
    "drivers_of",
    "find_market",
    "market_edge",
    "parse_found",
]

_URL: Final = re.compile(r"^(https?://)?([a-z0-9-]+\.)?(polymarket\.com|kalshi\.com)/", re.I)
_ID_LIKE: Final = re.compile(r"^(0x[0-9a-f]+|[0-9]+|[A-Za-z0-9]+([-_.][A-Za-z0-9]+)+)$")


@dataclass(frozen=True, slots=True)
class DataCheck:
    """``Dataset.check()``: ``ok`` is False only when a validation rule is broken."""

    ok: bool
    tables: Mapping[str, Any]
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §4 ``data check`` object."""
        return {
            "ok": self.ok,
            "tables": dict(self.tables),
            "problems": list(self.problems),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class PriceResult:
    """A probability for a contract at a time (``price``).

    Attributes
    ----------
    forecast
        The pricer's ``Forecast`` (contract, band, model, components, inputs, warnings).
    yes_outcome
        The outcome label of the event, when the contract came from a question.
    assumptions
        The conventions the parser chose for what the question did not state.
    """

    forecast: Forecast
    yes_outcome: str | None = None
    assumptions: tuple[str, ...] = ()

    @property
    def prob(self) -> float:
        """Probability of the event the contract names."""
        return self.forecast.prob

    @property
    def band(self) -> tuple[float, float]:
        """``(prob_lo, prob_hi)``."""
        return (self.forecast.prob_lo, self.forecast.prob_hi)

    @property
    def model(self) -> str:
        """The model that produced ``prob`` (a fallback is named in ``warnings``)."""
        return self.forecast.model

    @property
    def contract(self) -> Contract:
        """The contract priced (a partial touch's direction filled in)."""
        return self.forecast.contract

    @property
    def at(self) -> datetime:
        """The decision time."""
        return self.forecast.at

    @property
    def components(self) -> Mapping[str, float]:
        """Named sub-probabilities."""
        return self.forecast.components

    @property
    def inputs(self) -> Mapping[str, Any]:
        """Spot, vol, the leverage features used, the fit, ... (``to_dict()["inputs"]``)."""
        return self.to_dict()["inputs"]

    @property
    def warnings(self) -> tuple[str, ...]:
        """Fallbacks, caveats and which fit answered."""
        return self.forecast.warnings

    def to_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §4 ``price`` object (``inputs`` also hold ``yes_outcome`` and the
        parser's ``assumptions`` when the contract came from a question)."""
        doc = self.forecast.to_json_dict()
        if self.yes_outcome is not None:
            doc["inputs"]["yes_outcome"] = self.yes_outcome
        if self.assumptions:
            doc["inputs"]["assumptions"] = list(self.assumptions)
        return doc


@dataclass(frozen=True, slots=True)
class MarketEdge:
    """The market's price for the event and our edge against it, net of fees and spread.

    Attributes
    ----------
    venue, market_id, question
        The market.
    prob_market
        The market's mid probability of the event (None without a quote).
    edge
        Expected profit per $1 share of the better trade (``side``) at the executable price,
        after the venue's taker fee at T (``markets.odds.compare``); None without a quote.
    fee
        That trade's fee per share (probability units).
    side
        ``"yes"`` (buy the event) or ``"no"``; None without a quote.
    price
        That trade's executable price per share.
    quote_source
        Where the quote comes from (archived book, or last price +- an assumed half-spread), or
        why there is none.
    quote_age_secs
        Age of the quote at T.
    note
        A caveat (e.g. the event is already decided by the path to date).
    """

    venue: str
    market_id: str
    question: str
    prob_market: float | None = None
    edge: float | None = None
    fee: float | None = None
    side: str | None = None
    price: float | None = None
    quote_source: str = ""
    quote_age_secs: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """``{venue, market_id, prob_market, edge, fee}`` (INTERFACE.md §4 ``ask``) and the
        rest of the fields."""
        return {
            "venue": self.venue,
            "market_id": self.market_id,
            "prob_market": self.prob_market,
            "edge": self.edge,
            "fee": self.fee,
            "side": self.side,
            "price": self.price,
            "question": self.question,
            "quote_source": self.quote_source,
            "quote_age_secs": self.quote_age_secs,
            "note": self.note or None,
        }


@dataclass(frozen=True, slots=True)
class AskResult:
    """``ask``: the price, the market when the question is one, and what moved the answer.

    Attributes
    ----------
    price
        Our answer.
    market
        The market's price and our edge (None: the question is not a market of the dataset).
    drivers
        The inputs that moved the learned answer most (``models.learned.drivers.InputEffect``:
        ``effect`` = the probability minus the probability with that input at its training
        median); empty when the closed form answered.
    """

    price: PriceResult
    market: MarketEdge | None = None
    drivers: tuple[InputEffect, ...] = field(default_factory=tuple)

    @property
    def prob(self) -> float:
        """Our probability of the event."""
        return self.price.prob

    @property
    def band(self) -> tuple[float, float]:
        """``(prob_lo, prob_hi)``."""
        return self.price.band

    @property
    def contract(self) -> Contract:
        """The contract."""
        return self.price.contract

    @property
    def model(self) -> str:
        """The model that answered."""
        return self.price.model

    @property
    def warnings(self) -> tuple[str, ...]:
        """The answer's warnings."""
        return self.price.warnings

    def to_dict(self) -> dict[str, Any]:
        """The INTERFACE.md §4 ``ask`` object: the ``price`` object, ``market`` and
        ``drivers``."""
        return {
            **self.price.to_dict(),
            "market": None if self.market is None else self.market.to_dict(),
            "drivers": [d.to_json_dict() for d in self.drivers],
        }


# -- finding the market ----------------------------------------------------------------------------
def _keys(text: str) -> tuple[list[str], bool]:
    """Ids or slugs the text may be, and whether it must name a market (a URL or an id-shaped
    token)."""
    if _URL.match(text):
        url = urlparse(text if "://" in text else f"https://{text}")
        return [part for part in reversed(url.path.split("/")) if part], True
    if any(ch.isspace() for ch in text):
        return [], False
    return [text], bool(_ID_LIKE.match(text))


def _norm(text: Any) -> str:
    return " ".join(str(text).casefold().split())


def _pick(hits: pd.DataFrame, at: datetime) -> dict[str, Any]:
    stamp = pd.Timestamp(at)
    open_now = hits["resolved_at"].isna() & (hits["end_date"].isna() | (hits["end_date"] > stamp))
    ranked = hits.assign(_open=open_now.to_numpy(), _created=hits["created_at"]).sort_values(
        ["_open", "_created"], ascending=False, na_position="last", kind="stable"
    )
    row: dict[str, Any] = ranked.drop(columns=["_open", "_created"]).iloc[0].to_dict()
    return row


def find_market(store: Store, text: str, at: datetime) -> dict[str, Any] | None:
    """The ``markets`` row (as known at ``at``) that ``text`` names, or None for a question in
    words (module docstring).

    Raises
    ------
    ConfigError
        ``text`` is a URL or an id/slug-shaped token that names no market known at ``at``.
    """
    text = text.strip()
    keys, must = _keys(text)
    markets = store.markets_as_of(at) if store.has("markets") else None
    if markets is not None and not markets.empty:
        ids = {
            name: markets[name].astype("string").str.lower().fillna("")
            for name in ("market_id", "slug", "condition_id")
            if name in markets
        }
        for key in keys:
            hit = pd.Series(False, index=markets.index)
            for column in ids.values():
                hit |= (column == key.lower()).to_numpy()
            if hit.any():
                return _pick(markets[hit.to_numpy()], at)
        for key in keys:  # a Kalshi event ticker (a URL's last part): its markets' prefix
            family = ids["market_id"].str.startswith(f"{key.lower()}-").to_numpy()
            if family.sum() == 1:
                return _pick(markets[family], at)
            if family.sum() > 1:
                first = ", ".join(markets.loc[family, "market_id"].astype(str).head(3))
                raise ConfigError(
                    f"question must name one market; found {text!r}, an event of "
                    f"{int(family.sum())} markets: ask with one market's ticker (e.g. {first})"
                )
        if not must:
            same = markets["question"].map(_norm) == _norm(text)
            if same.any():
                return _pick(markets[same.to_numpy()], at)
    if must:
        where = f"the markets table of {store.root}" if markets is not None else str(store.root)
        raise ConfigError(
            f"question must be a question in words or a market of the dataset; found {text!r}, "
            f"which names no market known at {pd.Timestamp(at).isoformat()} in {where}"
        )
    return None


def parse_found(store: Store, row: Mapping[str, Any], at: datetime) -> Parsed:
    """The contract of a dataset market, from its own title and rules.

    Raises
    ------
    UnsupportedContract
        The market is not one levercast prices.
    """
    from functools import partial

    from levercast.features.prices import highest_high
    from levercast.markets.dataset import venue_market_from_row
    from levercast.markets.questions import Unsupported, parse_market

    market = venue_market_from_row(row)
    reference = market.created_at
    if reference is None and store.has("market_prices"):
        seen = store.as_of("market_prices", at)
        seen = seen[seen["market_id"] == market.market_id]
        reference = None if seen.empty else pd.Timestamp(seen["ts"].min()).to_pydatetime()
    parsed = parse_market(
        market, reference_time=reference or at, ath_usd=partial(highest_high, store)
    )
    if isinstance(parsed, Unsupported):
        raise UnsupportedContract(f"market {market.market_id}: {parsed.reason}")
    return parsed


def market_edge(
    store: Store, row: Mapping[str, Any], result: PriceResult, at: datetime
) -> MarketEdge:
    """The market's price at ``at`` and our edge against it (module docstring)."""
    from levercast.experiments.scanning.candidates import event_quote, open_markets_at
    from levercast.markets.dataset import venue_market_from_row
    from levercast.markets.fees import fees_for_market
    from levercast.markets.odds import compare

    market = venue_market_from_row(row)
    base: dict[str, Any] = {
        "venue": str(market.venue),
        "market_id": market.market_id,
        "question": market.question,
    }
    decided = "path_to_date" in result.components
    note = "the event is already decided by the path to date" if decided else ""
    candidates, _ = open_markets_at(store, at, [str(market.venue)])
    cand = next((c for c in candidates if c.market.market_id == market.market_id), None)
    if cand is None:
        why = "market not open at T (not listed yet, or resolved): no quote"
        return MarketEdge(**base, quote_source=why, note=note)
    quote, source = event_quote(cand, result.yes_outcome or cand.market.outcomes[0])
    if quote is None:
        return MarketEdge(**base, quote_source=source, note=note)
    prob = min(max(result.prob, 0.0), 1.0)
    lo, hi = min(max(result.band[0], 0.0), prob), max(min(result.band[1], 1.0), prob)
    try:
        fees = fees_for_market(cand.market, at=at)
    except ConfigError as e:
        mid = quote.mid
        return MarketEdge(**base, prob_market=mid, quote_source=source, note=f"no fee: {e}")
    signal = compare(prob, lo, hi, quote, fees=fees, size=1.0, margin=0.0, at=at)
    price = signal.price_yes if signal.side == "yes" else signal.price_no
    return MarketEdge(
        **base,
        prob_market=signal.prob_mid,
        edge=signal.edge,
        fee=signal.fee,
        side=signal.side,
        price=price,
        quote_source=source,
        quote_age_secs=signal.quote_age_secs,
        note=note,
    )


# -- the learned answer's drivers ------------------------------------------------------------------
def contract_rows(forecasts: Sequence[Forecast]) -> pd.DataFrame:
    """``FittedForecaster.predict`` rows of priced contracts: the contract at its decision time
    with the spot, ``gbm`` volatility and window start price the pricer used (NaN volatility for
    a contract the path had already settled)."""
    records = []
    for forecast in forecasts:
        c, inputs = forecast.contract, forecast.inputs
        at = pd.Timestamp(forecast.at)
        end = pd.Timestamp(c.end) if c.end is not None else pd.NaT
        spot = float(inputs.get("spot_usd", float("nan")))
        records.append(
            {
                "asset": c.asset,
                "t": at,
                "start": pd.Timestamp(c.start),
                "end": end,
                "kind": c.kind.value,
                "horizon_hours": (end - at) / pd.Timedelta(hours=1) if c.end else float("inf"),
                "strike_usd": c.strike_usd if c.strike_usd is not None else float("nan"),
                "lower_usd": c.lower_usd if c.lower_usd is not None else float("nan"),
                "upper_usd": c.upper_usd if c.upper_usd is not None else float("nan"),
                "threshold": c.threshold if c.threshold is not None else float("nan"),
                "direction": c.direction or "",
                "monitoring": c.monitoring_rule.value,
                "spot_usd": spot,
                "vol_annual": float(inputs.get("vol_annual", float("nan"))),
                "reference_usd": float(inputs.get("start_price_usd") or spot),
            }
        )
    frame = pd.DataFrame.from_records(records)
    for name in ("t", "start", "end"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def drivers_of(store: Store, forecast: Forecast, pricer: Pricer) -> list[InputEffect]:
    """The learned answer's input effects, largest first (empty when no fit answered)."""
    from levercast.experiments.learning.pricers import OnDemandPricer
    from levercast.models.learned.drivers import input_effects
    from levercast.models.learned.pricer import learned_inputs

    fitted = pricer.fitted if isinstance(pricer, OnDemandPricer) else None
    if fitted is None or "path_to_date" in forecast.components:
        return []
    rows = contract_rows([forecast])
    # the inputs the answer read (the view of T keeps them: computed once for both)
    view = store.at(pd.Timestamp(forecast.at))
    features, maps = learned_inputs(view, fitted, forecast.contract.asset)
    model = "learned" if forecast.model == "learned" else "default"
    return input_effects(fitted, rows, features, maps, model=model)
