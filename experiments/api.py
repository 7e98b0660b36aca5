"""The Python API: ``import levercast as lc`` in a notebook or a script (INTERFACE.md §4a).

Every command line answer has a function here returning a typed, frozen result; the CLI's
``price``, ``ask``, ``parse``, ``backtest`` and ``evaluate`` commands call these and print
``to_dict()`` (the INTERFACE.md §4 JSON) or a text rendering of it.

- ``Dataset(path)``: a dataset directory; ``.at(T)`` (the point-in-time view pricers read),
  ``.tables()``, ``.check()``.
- ``price(question_or_contract, at=T, model="default", data=...)`` -> ``PriceResult``
  (``.prob``, ``.band``, ``.model``, ``.contract``, ``.inputs``, ``.warnings``, ``.to_dict()``).
- ``ask(question_or_market, at=T, model=..., data=...)`` -> ``AskResult``: the price, the
  market's price and edge net of fees when the question is a market of the dataset (its id,
  slug, question or URL), and the ``drivers`` (``models.learned.drivers``: the inputs that moved
  the learned answer most, ``effect`` = the change in probability against the input at its
  training median).
- ``parse(question, at=T, ...)`` -> ``Parsed`` or ``Unsupported`` (``markets.questions``).
- ``backtest(asset=..., start=..., end=..., data=...)`` -> ``BacktestResult``;
  ``evaluate(model=..., data=...)`` -> ``EvaluationResult`` (both with ``.to_frame()``).
- ``forecaster(model, asset=..., at=T, data=...)`` -> the ``FittedForecaster`` (cached or fitted
  now), whose ``predict_proba(contracts, features, maps)`` is scikit-learn style;
  ``contracts_frame(questions, at=T, data=...)`` and ``model_inputs(frame, fit, data=...)`` build
  its arguments.

Times are ISO-8601 strings with an offset or tz-aware datetimes (a naive time is refused);
``at=None`` means now. ``data`` is a ``Dataset``, a directory, or None (``$LEVERCAST_DATA``, else
``./data``); pass one ``Dataset`` to reuse its loaded tables across calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from levercast.experiments.answers import AskResult, DataCheck, MarketEdge, PriceResult
from levercast.experiments.paths import resolve_data_dir
from levercast.features.dataset.store import Store, StoreView
from levercast.features.errors import ConfigError, UnsupportedContract
from levercast.features.timeutil import parse_utc
from levercast.models.contracts import Contract, Kind

if TYPE_CHECKING:
    import pandas as pd

    from levercast.experiments.backtest.run import BacktestResult
    from levercast.experiments.evaluation.evaluate import EvaluationResult
    from levercast.experiments.parallel import Progress
    from levercast.features.liqmap.contract_maps import SnapshotMaps
    from levercast.markets.questions.common import Parsed, Unsupported
    from levercast.models.learned.drivers import InputEffect
    from levercast.models.learned.forecaster import FittedForecaster

__all__ = [
    "AskResult",
    "DataCheck",
    "Dataset",
    "MarketEdge",
    "PriceResult",
    "ask",
    "backtest",
    "contracts_frame",
    "evaluate",
    "forecaster",
    "model_inputs",
    "parse",
    "parse_markets",
    "price",
    "to_contract",
]

TimeLike = str | datetime
LEARNED: Final = ("learned", "default", "default_vol")


class Dataset:
    """A dataset directory (INTERFACE.md §2), read point in time.

    Parameters
    ----------
    path
        The directory; None: ``$LEVERCAST_DATA``, else ``./data``.
    """

    __slots__ = ("store",)

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.store = Store(resolve_data_dir(path))

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r})"

    @property
    def path(self) -> Path:
        """The directory."""
        return Path(self.store.root)

    def at(self, t: TimeLike) -> StoreView:
        """The dataset as known at ``t``: every read returns rows with ``available_at <= t``."""
        import pandas as pd

        return self.store.at(pd.Timestamp(parse_utc(t, name="t")))

    def tables(self) -> list[str]:
        """The tables present."""
        return self.store.tables()

    def fingerprint(self) -> str:
        """A digest of every table's bytes (fits are cached by it)."""
        return self.store.fingerprint()

    def check(self) -> DataCheck:
        """Validate every table and summarise it (``levercast data check``)."""
        from levercast.features.dataset.quality import check_dataset

        report = check_dataset(self.store)
        return DataCheck(
            ok=bool(report["ok"]),
            tables=dict(report["tables"]),
            problems=tuple(report["problems"]),
            warnings=tuple(report["warnings"]),
        )


# -- helpers -------------------------------------------------------------------------------------
def _dataset(data: Dataset | str | os.PathLike[str] | None) -> Dataset:
    return data if isinstance(data, Dataset) else Dataset(data)


def _time(value: TimeLike | None, name: str = "at") -> datetime:
    return datetime.now(UTC) if value is None else parse_utc(value, name=name)


def _lookups(ds: Dataset | None, at: datetime) -> dict[str, Any]:
    """The parser's store lookups: the all-time high and the store's assets."""
    if ds is None:
        return {}
    from functools import partial

    from levercast.features.prices import highest_high

    store = ds.store
    assets: set[str] = set()
    for table in ("candles", "liquidations"):
        if store.has(table):
            assets.update(str(a) for a in store.as_of(table, at)["asset"].unique())
    out: dict[str, Any] = {"assets": sorted(a for a in assets if a.isalnum())}
    if store.has("candles"):
        out["ath_usd"] = partial(highest_high, store)
    return out


def parse(
    question: str,
    *,
    at: TimeLike | None = None,
    data: Dataset | str | os.PathLike[str] | None = None,
    subtitle: str | None = None,
    rules: str | None = None,
    created_at: TimeLike | None = None,
    end_date: TimeLike | None = None,
) -> Parsed | Unsupported:
    """A question (typed words, a venue title, a Kalshi title with ``subtitle``) as a contract.

    Needs no dataset: ``data`` only adds the all-time-high lookup (for all-time-high questions)
    and the dataset's assets as names the parser knows. Relative dates ("this week",
    "tomorrow") are read against ``at`` (default now); ``Parsed.assumptions`` names each
    convention chosen. Never raises on the text: what is not understood is ``Unsupported``.
    """
    from levercast.markets.questions import parse_question

    when = _time(at)
    extra = _lookups(None if data is None else _dataset(data), when)
    return parse_question(
        question,
        rules=rules,
        created_at=None if created_at is None else parse_utc(created_at, name="created_at"),
        end_date=None if end_date is None else parse_utc(end_date, name="end_date"),
        at=when,
        subtitle=subtitle,
        **extra,
    )


def parse_markets(data: Dataset | str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One ``parse`` object per market of the dataset's ``markets`` table, with ``market_id``
    (``levercast parse --data``); a market without ``created_at`` is read against its first
    price observation."""
    from functools import partial

    from levercast.features.prices import highest_high
    from levercast.markets.dataset import parse_markets as parse_rows

    store = _dataset(data).store
    if not store.has("markets"):
        raise ConfigError(
            f"parse without a title reads the markets table of --data; found none in {store.root}"
        )
    now = datetime.now(UTC)
    prices = store.as_of("market_prices", now) if store.has("market_prices") else None
    return parse_rows(store.read("markets"), prices, ath_usd=partial(highest_high, store))


def to_contract(
    spec: str | Mapping[str, Any] | Contract,
    *,
    at: TimeLike | None = None,
    data: Dataset | str | os.PathLike[str] | None = None,
    subtitle: str | None = None,
) -> Parsed:
    """The contract of a ``price`` spec: a ``Contract``, a (partial) contract JSON object or
    text (omitted fields take their defaults, ``start`` = ``at``), or a question in words.

    Raises
    ------
    ConfigError
        An invalid contract JSON.
    UnsupportedContract
        A question the parser does not understand or levercast cannot price.
    """
    from levercast.markets.questions.common import Parsed, Unsupported

    when = _time(at)
    if isinstance(spec, Contract):
        return Parsed(spec, None)
    if isinstance(spec, Mapping):
        return Parsed(Contract.from_json(dict(spec), at=when), None)
    text = str(spec).strip()
    if text.startswith("{"):
        return Parsed(Contract.from_json_text(text, at=when), None)
    parsed = parse(text, at=when, data=data, subtitle=subtitle)
    if isinstance(parsed, Unsupported):
        raise UnsupportedContract(parsed.reason)
    return parsed


def _price_parsed(
    parsed: Parsed, ds: Dataset, at: datetime, model: str, seed: int, paths: int | None
) -> tuple[PriceResult, Any]:
    import pandas as pd

    from levercast.experiments.learning.pricers import pricer_for
    from levercast.models.pricing.price import price_contract

    contract = parsed.contract
    stamp = pd.Timestamp(at)
    pricer = pricer_for(model, ds.store, asset=contract.asset, at=stamp, kind=contract.kind)
    forecast = price_contract(contract, ds.store.at(stamp), pricer=pricer, seed=seed, paths=paths)
    return PriceResult(forecast, parsed.yes_outcome, tuple(parsed.assumptions)), pricer


def price(
    question_or_contract: str | Mapping[str, Any] | Contract,
    *,
    at: TimeLike | None = None,
    model: str | None = "default",
    data: Dataset | str | os.PathLike[str] | None = None,
    seed: int = 0,
    paths: int | None = None,
    subtitle: str | None = None,
) -> PriceResult:
    """The probability of a contract's event at ``at`` (``levercast price``).

    Parameters
    ----------
    question_or_contract
        A question in words, a Kalshi title (with ``subtitle``), a contract JSON (text or
        mapping, partial allowed) or a ``Contract``.
    at
        Decision time (default now); the model sees only what was known then.
    model
        ``default`` (the shipped forecaster), ``gbm``, ``mc``, ``learned``, ``default_vol``, ...
        (INTERFACE.md §4b; ``market_aware`` needs a market: see ``ask``). None, as the
        ``price`` command without ``--model``: ``gbm`` for price paths, ``default`` (its
        liquidation-volume model) for ``liquidations_above``, which no price-path model prices.
    data
        The dataset (``Dataset``, a directory, or None for ``$LEVERCAST_DATA``).
    seed, paths
        Monte Carlo seed and paths (``mc``).

    Raises
    ------
    UnsupportedContract
        The question is not understood, or the model does not price its kind.
    ConfigError, DataError
        Bad arguments or missing data at ``at``.
    """
    when = _time(at)
    ds = _dataset(data)
    parsed = to_contract(question_or_contract, at=when, data=ds, subtitle=subtitle)
    if model is None:
        liquidations = parsed.contract.kind == Kind.LIQUIDATIONS_ABOVE
        model = "default" if liquidations else "gbm"
    return _price_parsed(parsed, ds, when, model, seed, paths)[0]


def ask(
    question_or_market: str,
    *,
    at: TimeLike | None = None,
    model: str = "default",
    data: Dataset | str | os.PathLike[str] | None = None,
    drivers: int = 3,
    subtitle: str | None = None,
) -> AskResult:
    """A question, or a market of the dataset, answered with the market's price and our edge.

    Parameters
    ----------
    question_or_market
        A question in words, or a market of the dataset's ``markets`` table: its id (Kalshi
        ticker, Polymarket market id or condition id), its slug, its URL
        (``https://polymarket.com/event/<event>/<market-slug>``,
        ``https://kalshi.com/markets/<series>/<name>/<ticker>``) or its exact question. A
        market is priced from its own title and rules.
    at, model, data, subtitle
        As for ``price``.
    drivers
        How many drivers to keep (the largest effects).

    Raises
    ------
    ConfigError
        A URL, slug or id that is not a market of the dataset known at ``at``.
    UnsupportedContract
        As for ``price``.
    """
    from levercast.experiments.answers import drivers_of, find_market, market_edge, parse_found

    when = _time(at)
    ds = _dataset(data)
    found = find_market(ds.store, question_or_market, when)
    if found is None:
        parsed = to_contract(question_or_market, at=when, data=ds, subtitle=subtitle)
    else:
        parsed = parse_found(ds.store, found, when)
    result, pricer = _price_parsed(parsed, ds, when, model, 0, None)
    market = None if found is None else market_edge(ds.store, found, result, when)
    effects: tuple[InputEffect, ...] = ()
    if model in LEARNED and result.model == model and drivers > 0:
        effects = tuple(drivers_of(ds.store, result.forecast, pricer)[:drivers])
    return AskResult(result, market, effects)


def backtest(
    *,
    asset: str,
    start: TimeLike,
    end: TimeLike,
    data: Dataset | str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    **config: Any,
) -> BacktestResult:
    """A walk-forward backtest (``levercast backtest``) returning ``BacktestResult``
    (``.to_frame()``: one row per scored forecast; ``.to_json_dict()``: the §4 JSON).

    ``config`` are the other ``experiments.backtest.run.BacktestConfig`` fields: ``kinds``,
    ``horizons`` (``"24h"`` strings or timedeltas), ``models``, ``venue``, ``retrain_every``,
    ``step``, ``purge``, ``engine``, ``seed``. Nothing is logged (the CLI logs to MLflow). The
    learned models' refits are kept in ``$LEVERCAST_HOME/models`` and a later backtest reuses
    those it shares (same data, settings, seed, cut and code): the same numbers without refitting.
    ``progress(done, total, label)``, when given, is told of each step (the refits counted).
    """
    from levercast.experiments.backtest.run import BacktestConfig, run_backtest

    for name in ("kinds", "models", "horizons"):
        if isinstance(config.get(name), str):
            config[name] = tuple(s.strip() for s in config[name].split(",") if s.strip())
    settings = BacktestConfig(
        asset=asset, start=_time(start, "start"), end=_time(end, "end"), **config
    )
    return run_backtest(_dataset(data).store, settings, cached=True, progress=progress)


def evaluate(
    *,
    model: str = "default",
    data: Dataset | str | os.PathLike[str] | None = None,
    seed: int = 0,
    forecasts: bool = False,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Score ``model`` against the dataset's prediction markets (``levercast evaluate``), or
    with ``forecasts=True`` the forward log of ``$LEVERCAST_HOME``; ``.to_frame()`` holds the
    scored observations. Nothing is logged (the CLI logs to MLflow); the learned models'
    refits are kept and reused as by ``backtest``; ``progress`` as there."""
    from levercast.experiments.evaluation.evaluate import run_evaluate, score_forward_log
    from levercast.experiments.paths import levercast_home

    store = _dataset(data).store
    if forecasts:
        return score_forward_log(store, levercast_home(), seed=seed)
    return run_evaluate(store, model=model, seed=seed, cached=True, progress=progress)


def forecaster(
    model: str = "default",
    *,
    asset: str,
    at: TimeLike | None = None,
    data: Dataset | str | os.PathLike[str] | None = None,
    kind: str | None = None,
) -> FittedForecaster:
    """The fitted ``learned``/``default``/``default_vol`` forecaster usable at ``at`` for
    ``asset``: cached, or fitted now and cached.

    Without ``kind`` the full configuration (every grid kind) is fitted; with ``kind`` the fit
    that answers one question of that kind (the one ``price`` uses, and shares with it:
    ``experiments.learning.fitting.question_config``), which also answers close_above and
    close_below rows.

    Raises
    ------
    ConfigError
        An unknown model, or a ``kind`` the model answers without a fit (``default`` on range
        and first_of: the closed form).
    """
    import pandas as pd

    from levercast.experiments.learning.fitting import (
        covering_configs,
        find_or_fit,
        model_config,
        question_config,
    )

    if model not in LEARNED:
        raise ConfigError(f"model must be one of {list(LEARNED)}; found {model!r}")
    full = model_config(model)
    config = full if kind is None else question_config(model, kind)
    if config is None:
        raise ConfigError(
            f"kind must be one the {model} model answers with a fit; found {kind!r}, which it "
            "prices with the closed form"
        )
    stamp = pd.Timestamp(_time(at))
    store = _dataset(data).store
    alternatives = () if kind is None else covering_configs(model, kind)
    outcome = find_or_fit(
        store,
        assets=(asset,),
        at=stamp,
        config=config,
        liquidations=kind is None,
        alternatives=alternatives,
    )
    assert outcome.fitted is not None
    return outcome.fitted


def contracts_frame(
    items: Iterable[str | Mapping[str, Any] | Contract],
    *,
    at: TimeLike | None = None,
    data: Dataset | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Contract rows at ``at`` for ``FittedForecaster.predict_proba``: one row per question or
    contract, with spot and the ``gbm`` volatility at ``at`` (``models.learned.contract_grid``
    columns)."""
    import pandas as pd

    from levercast.experiments.answers import contract_rows

    when = _time(at)
    ds = _dataset(data)
    results = [price(item, at=when, model="gbm", data=ds) for item in items]
    if not results:
        return pd.DataFrame()
    return contract_rows([r.forecast for r in results])


def model_inputs(
    contracts: pd.DataFrame,
    fit: FittedForecaster,
    *,
    data: Dataset | str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, SnapshotMaps | None]:
    """The point-in-time feature rows and liquidation maps at every (asset, t) of
    ``contracts`` that ``fit`` reads: ``fit.predict_proba(contracts, *model_inputs(...))``."""
    from levercast.experiments.learning.training_set import features_for, leverage_inputs

    store = _dataset(data).store
    keys = contracts[["asset", "t"]]
    if fit.leverage:
        features, maps = leverage_inputs(store, keys, fit.features)
        return features, maps
    return features_for(store, keys, list(fit.frame_features)), None
