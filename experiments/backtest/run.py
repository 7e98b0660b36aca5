"""Walk-forward backtests of the forecasters on contracts generated from price history.

``run_backtest(store, config)`` builds decision times on a regular grid inside ``[start, end]``,
the z-strike contracts of every kind and horizon at each (``experiments.backtest.contracts``),
labels them only through the single outcome reader
(``experiments.labels.outcomes.label_frame``, on each row's spot venue),
prices them with every model on identical rows and scores them (``experiments.metrics``).

Models
    ``gbm``: the closed forms at zero log-drift with the EWMA vol at each decision, vectorised.
    ``learned`` / ``default``: ``experiments.learning.fitting.fit_default`` refitted walk-forward
    (expanding window) every ``retrain_every``: the fit used for decisions in
    ``[c, c + retrain_every)`` has training cut ``c - purge``, so every training contract
    (decided before the cut, window at most ``purge`` long) resolved before the first decision it
    serves. A row a model cannot forecast (NaN) takes the ``gbm`` probability and is counted in
    ``fallbacks``.

Rows
    A contract is scored only when the outcome reader labels it (its venue's bars cover the whole
    window); others are dropped and counted by reason. Decisions without a fresh venue with a week
    of returns are dropped too. Every forecast made is kept in ``forecasts`` (``scored`` says
    which were scored), so a forecast never depends on whether its outcome became known.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.backtest.contracts import (
    BACKTEST_KINDS,
    backtest_contracts,
    contracts_per_decision,
    decision_grid,
)
from levercast.experiments.backtest.walk_forward import walk_forward_run
from levercast.experiments.labels.outcomes import label_frame
from levercast.experiments.metrics import score_backtest
from levercast.experiments.parallel import ENGINES, Progress, counted, no_progress
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError
from levercast.features.timeutil import (
    HOURS_PER_YEAR,
    duration_text,
    format_utc,
    parse_duration,
    parse_utc,
)
from levercast.models.learned.design import TrainingConfig
from levercast.models.pricing.gbm import gbm_probabilities

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "backtest_task",
    "gbm_frame_probabilities",
    "run_backtest",
]

SUPPORTED_MODELS: Final = ("gbm", "learned", "default", "default_vol")
_DAY: Final = timedelta(days=1)
_NO_INPUTS: Final = "no fresh candle venue with a week of returns at the decision"


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """A backtest's configuration (validated; times tz-aware UTC).

    Attributes
    ----------
    asset
        Ticker, e.g. ``BTC``.
    start, end
        Decision times lie in ``[start, end]``.
    kinds, horizons, models
        Contract kinds (``BACKTEST_KINDS``), window lengths (whole hours), models (``gbm``,
        ``learned``, ``default``; ``gbm`` is always scored as the reference).
    venue
        Candle venue for spot, vol and outcomes; None: the best fresh venue at each decision.
    retrain_every
        Walk-forward refit period of the learned models.
    step
        Decision grid step; None: ``min(horizon, 1 day)`` per horizon.
    purge
        Gap between a fit's training cut and the first decision it serves (>= the longest
        training horizon of the learned models: 30 days).

    engine
        ``threads`` (default: two walk-forward segments side by side in this process, the
        numbers of ``serial``), ``serial``, ``joblib`` or ``dask`` for the walk-forward fits.
    seed
        Seed of the fits and of the bootstrap.

    The durations (``horizons``, ``retrain_every``, ``step``, ``purge``) are ``timedelta``s; a
    duration text (``"24h"``, ``"30d"``) is parsed once here, so a grid task or a test may pass
    text. Output (``to_json_dict``, horizon labels) writes them back as ``duration_text`` does:
    days from two days up, else hours (``1h``, ``24h``, ``7d``, ``30d``).
    """

    asset: str
    start: datetime
    end: datetime
    kinds: tuple[str, ...] = ("touch", "close_above", "move", "up_down")
    horizons: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=24), timedelta(days=7))
    models: tuple[str, ...] = ("gbm", "default")
    venue: str | None = None
    retrain_every: timedelta = timedelta(days=30)
    step: timedelta | None = None
    purge: timedelta = timedelta(days=30)
    engine: str = "threads"
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.asset, str) or not self.asset.isalnum():
            raise ConfigError(f"asset must be a ticker such as BTC; found {self.asset!r}")
        object.__setattr__(self, "asset", self.asset.upper())
        object.__setattr__(self, "start", parse_utc(self.start, name="start"))
        object.__setattr__(self, "end", parse_utc(self.end, name="end"))
        if self.end <= self.start:
            raise ConfigError(
                f"end must be after start; found start={format_utc(self.start)}, "
                f"end={format_utc(self.end)}"
            )
        for name, values, allowed in (
            ("kinds", self.kinds, BACKTEST_KINDS),
            ("models", self.models, SUPPORTED_MODELS),
        ):
            bad = [v for v in values if v not in allowed]
            if not values or bad:
                raise ConfigError(
                    f"{name} must be a non-empty subset of {list(allowed)}; found {bad or []}"
                )
        if not self.horizons:
            raise ConfigError("horizons must list at least one window length; found none")
        horizons = []
        for h in self.horizons:
            delta = parse_duration(h, name="horizons")
            if delta % timedelta(hours=1):
                raise ConfigError(
                    f"horizons must be whole hours (the bar grid); found {duration_text(delta)!r}"
                )
            if delta in horizons:
                raise ConfigError(
                    f"horizons must be distinct; found {duration_text(delta)!r} twice"
                )
            horizons.append(delta)
        object.__setattr__(self, "horizons", tuple(horizons))
        for name in ("retrain_every", "purge"):
            object.__setattr__(self, name, parse_duration(getattr(self, name), name=name))
        if self.step is not None:
            step = parse_duration(self.step, name="step")
            if step % timedelta(hours=1):
                raise ConfigError(
                    f"step must be whole hours (the bar grid); found {duration_text(step)!r}"
                )
            object.__setattr__(self, "step", step)
        if self.engine not in ENGINES:
            raise ConfigError(
                f"engine must be serial, threads, joblib or dask; found {self.engine!r}"
            )
        if "gbm" not in self.models:
            object.__setattr__(self, "models", ("gbm", *self.models))

    def horizon_deltas(self) -> dict[str, timedelta]:
        """Horizon label (``duration_text``) -> window length."""
        return {duration_text(h): h for h in self.horizons}

    def step_for(self, horizon: timedelta) -> timedelta:
        """Decision grid step for a horizon."""
        return self.step if self.step is not None else min(horizon, _DAY)

    def to_json_dict(self) -> dict[str, Any]:
        """Flat JSON form (MLflow params)."""
        return {
            "asset": self.asset,
            "start": format_utc(self.start),
            "end": format_utc(self.end),
            "kinds": ",".join(self.kinds),
            "horizons": ",".join(duration_text(h) for h in self.horizons),
            "models": ",".join(self.models),
            "venue": self.venue,
            "retrain_every": duration_text(self.retrain_every),
            "step": None if self.step is None else duration_text(self.step),
            "purge": duration_text(self.purge),
            "engine": self.engine,
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """What a backtest produced.

    Attributes
    ----------
    forecasts
        One row per contract forecast: inputs, ``prob_<model>``, ``outcome`` (NaN when not
        scored), ``scored``, ``block_day``.
    scores
        The metrics (see ``to_json_dict``).
    config
        The configuration.
    dropped
        Reason -> contracts not scored.
    venues
        Spot venue -> scored contracts.
    fallbacks
        Model -> rows that took the ``gbm`` probability.
    notes
        Caveats in words (e.g. a model unavailable).
    features
        Learned model -> the design features its walk-forward fits used.
    """

    forecasts: pd.DataFrame
    scores: dict[str, Any]
    config: BacktestConfig
    dropped: dict[str, int] = field(default_factory=dict)
    venues: dict[str, int] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    features: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The scored forecasts, one row per contract."""
        return self.forecasts[self.forecasts["scored"]].reset_index(drop=True)

    @cached_property
    def models(self) -> tuple[str, ...]:
        """Models actually scored."""
        return tuple(self.scores["models"])

    def to_json_dict(self) -> dict[str, Any]:
        """INTERFACE.md §4 ``backtest`` object plus reliability, decomposition, venues, notes."""
        s = self.scores
        models: dict[str, Any] = {}
        for m, v in s["models"].items():
            models[m] = {k: v[k] for k in ("brier", "log_loss", "ece")}
            if m in self.features:
                models[m]["features"] = list(self.features[m])
        doc: dict[str, Any] = {
            "n_forecasts": s["n_forecasts"],
            "n_days": s["n_days"],
            "n_dropped": int(sum(self.dropped.values())),
            "models": models,
            "skill_vs_gbm": {
                m: {"value": v["value"], "ci90": v["ci90"]} for m, v in s["skill_vs_gbm"].items()
            },
            "by_kind_horizon": s["by_kind_horizon"],
            "reliability": {m: v["reliability"] for m, v in s["models"].items()},
            "decomposition": {m: v["decomposition"] for m, v in s["models"].items()},
            "dropped": dict(self.dropped),
            "venues": dict(self.venues),
            "fallbacks": dict(self.fallbacks),
            "notes": list(self.notes),
            "config": self.config.to_json_dict(),
        }
        if "skill_vs_default_vol" in s:
            doc["skill_vs_default_vol"] = {
                m: {"value": v["value"], "ci90": v["ci90"]}
                for m, v in s["skill_vs_default_vol"].items()
            }
        return doc


# -- forecasts ---------------------------------------------------------------------------------
def gbm_frame_probabilities(frame: pd.DataFrame) -> np.ndarray:
    """``gbm`` probability of every row of a contract frame (windows start at the decision)."""
    if frame.empty:
        return np.array([], dtype=float)
    return gbm_probabilities(
        frame["kind"].to_numpy(str),
        frame["spot_usd"].to_numpy(float),
        frame["vol_annual"].to_numpy(float),
        frame["horizon_hours"].to_numpy(float) / HOURS_PER_YEAR,
        strike_usd=frame["strike_usd"].to_numpy(float),
        lower_usd=frame["lower_usd"].to_numpy(float),
        upper_usd=frame["upper_usd"].to_numpy(float),
        threshold=frame["threshold"].to_numpy(float),
        direction=frame["direction"].to_numpy(str),
        monitoring=frame["monitoring"].to_numpy(str),
    )


def _label(store: Store, frame: pd.DataFrame) -> tuple[np.ndarray, Counter[str]]:
    """Outcomes of the frame's contracts on their own spot venue (no proxy) and the reasons of
    those left unlabelled, counted."""
    labels = label_frame(store, frame, proxies=False)
    outcome = labels["y"].to_numpy(float)
    missing = np.isnan(outcome)
    fallback = "window not covered by " + frame["spot_venue"].astype(str) + " bars"
    reasons = labels["reason"].where(labels["reason"].notna(), fallback)[missing]
    return outcome, Counter(reasons.astype(str).tolist())


def _learned_probabilities(
    store: Store,
    frame: pd.DataFrame,
    config: BacktestConfig,
    wanted: list[str],
    training: TrainingConfig | None = None,
    cached: bool = False,
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], list[str], dict[str, tuple[str, ...]]]:
    """Walk-forward ``prob_<model>`` for the learned models (NaN where none), the notes and
    the features each model's fits used."""
    result = walk_forward_run(
        store,
        frame,
        wanted=wanted,
        assets=(config.asset,),
        first=config.start,
        every=config.retrain_every,
        purge=config.purge,
        seed=config.seed,
        engine=config.engine,
        configs=None if training is None else {"default": training},
        cached=cached,
        progress=progress,
    )
    notes = [
        f"learned models refitted every {duration_text(config.retrain_every)} (expanding window), "
        f"training cut {duration_text(config.purge)} before the first decision each fit serves"
    ]
    if result.reused:
        notes.append(
            f"{result.reused} of {result.segments} refits taken from $LEVERCAST_HOME/models, "
            "kept by an earlier run with the same data, settings, seed and code (the same fits)"
        )
    return result.probs, notes, result.features


def _contract_frame(store: Store, config: BacktestConfig) -> tuple[pd.DataFrame, Counter[str]]:
    dropped: Counter[str] = Counter()
    pieces = []
    for label, delta in config.horizon_deltas().items():
        times = decision_grid(config.start, config.end, config.step_for(delta))
        piece, missing = backtest_contracts(
            store,
            config.asset,
            times,
            label=label,
            hours=delta.total_seconds() / 3600.0,
            kinds=config.kinds,
            venue=config.venue,
        )
        if missing:
            dropped[_NO_INPUTS] += missing * contracts_per_decision(config.kinds)
        pieces.append(piece)
    pieces = [p for p in pieces if len(p)]
    return (pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()), dropped


def _check_inputs(store: Store, config: BacktestConfig) -> None:
    """Refuse, before any work, an asset or venue the store has no hourly candles for, and a
    period outside the asset's candle history (each names what the store has)."""
    spans = store.coverage("candles", by=("asset", "venue", "interval"))
    hourly = spans[spans["interval"] == "1h"]
    assets = sorted(set(hourly["asset"]))
    if config.asset not in assets:
        raise DataError(
            f"asset must be one the store has hourly candles for: {assets}; found {config.asset!r}"
        )
    mine = hourly[hourly["asset"] == config.asset]
    venues = sorted(set(mine["venue"]))
    if config.venue is not None and config.venue not in venues:
        raise DataError(
            f"venue must be one with hourly {config.asset} candles in the store: {venues}; "
            f"found {config.venue!r}"
        )
    if config.venue is not None:
        mine = mine[mine["venue"] == config.venue]
    first, last = mine["first"].min(), mine["last"].max()
    if config.end <= first or config.start > last:
        raise DataError(
            f"--start/--end must overlap the {config.asset} hourly candles "
            f"({format_utc(first.to_pydatetime())} to {format_utc(last.to_pydatetime())}); "
            f"found {format_utc(config.start)} to {format_utc(config.end)}"
        )


def run_backtest(
    store: Store,
    config: BacktestConfig,
    *,
    training: TrainingConfig | None = None,
    cached: bool = False,
    progress: Progress | None = None,
) -> BacktestResult:
    """Walk-forward backtest of ``config.models`` on ``config.asset`` (see module docstring).

    ``training`` replaces the shipped training settings of ``default`` (and ``learned``) for
    studies of the fit itself (``experiments.studies.fit_budget``); the CLI never sets it.
    ``cached`` keeps the learned models' refits in ``$LEVERCAST_HOME/models`` and reuses those
    made before (``walk_forward_run``: the same probabilities, value for value); the CLI and
    ``levercast.backtest`` set it. ``progress(done, total, label)`` is told of each step
    (contracts, outcomes, the learned models' walk-forward refits, scores).

    Raises
    ------
    ConfigError
        A bad configuration (see ``BacktestConfig``).
    DataError
        Unreadable tables.
    """
    tick = counted(progress or no_progress)

    _check_inputs(store, config)
    tick(0, None, "contracts")
    frame, dropped = _contract_frame(store, config)
    notes: list[str] = []
    fallbacks: dict[str, int] = {}
    models = list(config.models)
    if frame.empty:
        raise DataError(
            f"no decision time in [{format_utc(config.start)}, {format_utc(config.end)}] had a "
            f"fresh {config.asset} candle venue with a week of hourly returns before it; "
            f"nothing to backtest"
        )
    frame["prob_gbm"] = gbm_frame_probabilities(frame)
    tick(0, None, "outcomes")
    outcome, unlabelled = _label(store, frame)
    frame["outcome"] = outcome
    frame["scored"] = np.isfinite(outcome)
    dropped.update(unlabelled)
    wanted = [m for m in models if m != "gbm"]
    features: dict[str, tuple[str, ...]] = {}
    if wanted:
        probs, more, features = _learned_probabilities(
            store, frame, config, wanted, training, cached, tick
        )
        notes += more
        for m in wanted:
            if m not in probs:
                models.remove(m)
                continue
            missing = ~np.isfinite(probs[m])
            fallbacks[m] = int((missing & frame["scored"].to_numpy()).sum())
            frame[f"prob_{m}"] = np.where(missing, frame["prob_gbm"].to_numpy(), probs[m])
    tick(0, None, "scores")
    frame["block_day"] = frame["decision_time"].dt.floor("D")
    scored = frame[frame["scored"]].reset_index(drop=True)
    scores = score_backtest(scored, tuple(models), config.seed)
    venues = {str(k): int(v) for k, v in scored["spot_venue"].value_counts().sort_index().items()}
    return BacktestResult(
        frame,
        scores,
        config,
        dict(sorted(dropped.items())),
        venues,
        fallbacks,
        tuple(notes),
        {m: features[m] for m in models if m in features},
    )


def backtest_task(task: dict[str, Any]) -> dict[str, Any]:
    """One cell of a backtest grid: ``{"data": dir, **BacktestConfig fields}`` -> JSON result.

    Module-level (picklable by reference) so that every engine can run it; the result carries
    everything needed to compare runs across engines.
    """
    fields = dict(task)
    store = Store(fields.pop("data"))
    config = BacktestConfig(**fields)
    doc: dict[str, Any] = run_backtest(store, config).to_json_dict()
    return doc
