"""Fitting the market-aware forecast (and the model's recalibration) on resolved markets only.

At a decision time ``t`` the fit sees the observations of the markets whose outcome was public
before ``t`` (``known_at < t``; see ``experiments.learning.market_observations``), each market
weighted equally (weight ``1 / rows`` over at most ``ROWS_PER_MARKET`` evenly spaced rows). It is
a MAP fit (``models.learned.market_aware.MarketAwareClassifier``) under a Gaussian prior:

- before the committed prior's ``cut``: the base prior, "the market" for ``market_aware``
  (``market_prior``) or "the model unchanged" for ``recalibration`` (``identity_prior``), of
  precision ``strength`` (markets' worth of evidence);
- from the cut on: the committed prior (``CoefficientPrior``: the posterior of a fit on the
  markets of ``../shared/data`` known before the cut, written by
  ``python -m levercast.experiments.studies.polymarket_eval.fit_market_aware``), updated by the
  markets of the dataset known before ``t`` that are not among the prior's own.

So with no history the forecast is the market's price (or the model's), and each market that
resolves moves it as much as its evidence allows. ``walk_forward`` fits once per distinct history
(the markets known before a row's time) and predicts every row with the fit of its own history.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray, IntArray
from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_utc
from levercast.models.learned.market_aware import (
    MarketAwareClassifier,
    PriorStrength,
    identity_prior,
    market_aware_design,
    market_prior,
    recalibration_design,
)

__all__ = [
    "PRIOR_PACKAGE",
    "ROWS_PER_MARKET",
    "CoefficientPrior",
    "Design",
    "WalkForward",
    "design_matrix",
    "fit_history",
    "load_coefficient_prior",
    "prior_file",
    "prior_from_fit",
    "walk_forward",
]

Design = Literal["market_aware", "recalibration"]
PRIOR_PACKAGE: Final = "levercast.experiments.studies.polymarket_eval"
ROWS_PER_MARKET: Final = 40
_DESIGNS: Final = ("market_aware", "recalibration")


@dataclass(frozen=True, slots=True)
class CoefficientPrior:
    """A Gaussian prior over named coefficients, fitted on named markets by a recorded command.

    Attributes
    ----------
    design
        ``market_aware`` or ``recalibration``.
    base_model
        The model whose probabilities fed the fit (``gbm``, ``default``).
    names, mean, precision
        Coefficient names (the design's columns), posterior mean and precision.
    strength
        Precision of the base prior (``PriorStrength`` fields; chosen on markets known before
        ``tuned_until``).
    cut
        Fitted on markets known before ``cut``; used for decision times at or after it.
    tuned_until
        Hyperparameters were chosen on markets known before this time: results on markets
        known after it are held out from every choice made.
    fitted_on, markets, command
        What it was fitted on, the markets (left out of later updates) and the command.
    grid
        The strengths tried and their walk-forward score (how ``strength`` was chosen).
    """

    design: str
    base_model: str
    names: tuple[str, ...]
    mean: tuple[float, ...]
    precision: tuple[tuple[float, ...], ...]
    strength: dict[str, float]
    cut: str
    tuned_until: str
    fitted_on: str
    markets: tuple[str, ...]
    command: str
    grid: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.design not in _DESIGNS:
            raise ConfigError(f"design must be one of {_DESIGNS}; found {self.design!r}")
        k = len(self.names)
        if len(self.mean) != k or np.asarray(self.precision).shape != (k, k):
            raise ConfigError(f"mean and precision must match {k} names; found otherwise")
        try:
            PriorStrength(**self.strength)
        except (TypeError, ValueError) as e:
            raise ConfigError(
                f"strength must hold intercept, core, bias and group > 0; found {e}"
            ) from e
        parse_utc(self.cut, name="cut")
        parse_utc(self.tuned_until, name="tuned_until")

    @property
    def base_strength(self) -> PriorStrength:
        """The base prior's strength as a ``PriorStrength``."""
        return PriorStrength(**self.strength)

    def to_json(self) -> str:
        """JSON text (6 significant digits; one line per precision row)."""
        doc = asdict(self)
        mean = [float(f"{v:.6g}") for v in doc.pop("mean")]
        rows = [[float(f"{v:.6g}") for v in row] for row in doc.pop("precision")]
        head = json.dumps(doc, indent=1)[:-2]
        body = ",\n".join("  " + json.dumps(row) for row in rows)
        return f'{head},\n "mean": {json.dumps(mean)},\n "precision": [\n{body}\n ]\n}}\n'

    @classmethod
    def from_json(cls, text: str) -> CoefficientPrior:
        """From ``to_json`` text."""
        doc = json.loads(text)
        doc["names"] = tuple(doc["names"])
        doc["mean"] = tuple(float(v) for v in doc["mean"])
        doc["precision"] = tuple(tuple(float(v) for v in row) for row in doc["precision"])
        doc["markets"] = tuple(doc["markets"])
        doc["grid"] = tuple(doc.get("grid", ()))
        return cls(**doc)


def prior_file(design: Design, base_model: str) -> str:
    """File name of a committed prior: ``<design>_prior_<base model>.json``."""
    return f"{design}_prior_{base_model}.json"


def load_coefficient_prior(
    design: Design, base_model: str, source: Traversable | None = None
) -> CoefficientPrior | None:
    """The committed prior (package data of ``PRIOR_PACKAGE``) or the one at ``source``; None
    when absent."""
    path = source if source is not None else files(PRIOR_PACKAGE) / prior_file(design, base_model)
    if not path.is_file():
        return None
    return CoefficientPrior.from_json(path.read_text())


def design_matrix(design: Design, features: pd.DataFrame) -> tuple[FloatArray, tuple[str, ...]]:
    """The design's matrix and column names."""
    if design == "market_aware":
        return market_aware_design(features)
    if design == "recalibration":
        return recalibration_design(features)
    raise ConfigError(f"design must be one of {_DESIGNS}; found {design!r}")


def _base(
    design: Design, names: tuple[str, ...], strength: PriorStrength
) -> tuple[FloatArray, FloatArray]:
    make = market_prior if design == "market_aware" else identity_prior
    return make(names, strength=strength)


def _thin(codes: IntArray) -> tuple[IntArray, FloatArray]:
    """Rows kept (at most ``ROWS_PER_MARKET`` evenly spaced per market code, in row order) and
    their weights (``1 / rows kept`` of the market)."""
    keep: list[np.ndarray] = []
    weight: list[np.ndarray] = []
    for _, idx in pd.Series(codes).groupby(codes, sort=False).indices.items():
        if len(idx) > ROWS_PER_MARKET:
            idx = idx[np.unique(np.linspace(0, len(idx) - 1, ROWS_PER_MARKET).round().astype(int))]
        keep.append(idx)
        weight.append(np.full(len(idx), 1.0 / len(idx)))
    if not keep:
        return np.array([], dtype=np.int64), np.array([])
    order = np.argsort(np.concatenate(keep), kind="stable")
    return np.concatenate(keep)[order].astype(np.int64), np.concatenate(weight)[order]


def fit_history(
    X: FloatArray,
    outcome: FloatArray,
    market_id: npt.ArrayLike,
    *,
    mean: FloatArray,
    precision: FloatArray,
) -> MarketAwareClassifier:
    """The MAP fit on history rows (each market weighted equally) under the prior given."""
    codes, _ = pd.factorize(np.asarray(market_id))
    rows, weight = _thin(np.asarray(codes, dtype=np.int64))
    return _fit(X[rows], outcome[rows], weight, mean=mean, precision=precision)


def _fit(
    X: FloatArray, y: FloatArray, weight: FloatArray, *, mean: FloatArray, precision: FloatArray
) -> MarketAwareClassifier:
    model = MarketAwareClassifier(prior_mean=mean, prior_precision=precision)
    if len(y) == 0:  # no history: one row of zero evidence leaves the prior as it is
        X, y, weight = np.zeros((1, len(mean))), np.array([0.0]), np.array([1e-12])
    return model.fit(X, y, sample_weight=weight)


@dataclass(frozen=True, slots=True)
class WalkForward:
    """Walk-forward predictions: probability, logit standard deviation, history size per row,
    number of fits, the design's names and the coefficients of the last fit."""

    prob: FloatArray
    logit_sd: FloatArray
    history_markets: IntArray
    fits: int
    names: tuple[str, ...]
    last_coef: dict[str, float]


def walk_forward(
    design: Design,
    features: pd.DataFrame,
    history: pd.DataFrame,
    *,
    prior: CoefficientPrior | None,
    strength: PriorStrength | None = None,
) -> WalkForward:
    """Predict every row of ``features`` from the markets known before its time.

    Parameters
    ----------
    design
        ``market_aware`` or ``recalibration``.
    features
        Design features of the rows to predict (``experiments.learning.market_features``).
    history
        Per row of ``features`` (same order): ``market_id``, ``t`` (decision time),
        ``known_at`` (NaT: never used as history) and ``outcome`` (0/1; read only for rows of
        markets known before the time of the row being predicted).
    prior
        The committed prior (used from its ``cut`` on), or None.
    strength
        Base prior precision (default: the prior's own, else ``PriorStrength()``).
    """
    X, names = design_matrix(design, features)
    if prior is not None and tuple(prior.names) != names:
        raise ConfigError(
            f"prior names must match the {design} design's columns; found {len(prior.names)} "
            f"names for {len(names)} columns"
        )
    if strength is None:
        strength = prior.base_strength if prior is not None else PriorStrength()
    base_mean, base_prec = _base(design, names, strength)
    codes, uniques = pd.factorize(history["market_id"].astype(str).to_numpy())
    codes = np.asarray(codes, dtype=np.int64)
    y = history["outcome"].to_numpy(float)
    t_ns = pd.DatetimeIndex(history["t"]).as_unit("ns").asi8
    known = pd.Series(pd.to_datetime(history["known_at"], utc=True).to_numpy(), index=codes)
    first = known.groupby(level=0).first().reindex(range(len(uniques)))
    order = first.dropna().sort_values(kind="stable")
    rank = np.full(len(uniques), np.iinfo(np.int64).max)
    rank[order.index.to_numpy(dtype=np.int64)] = np.arange(len(order))
    order_ns = pd.DatetimeIndex(order.to_numpy()).as_unit("ns").asi8
    k = np.searchsorted(order_ns, t_ns, side="left")  # markets known strictly before t
    in_prior = np.isin(uniques, list(prior.markets)) if prior is not None else None
    uses_prior = np.zeros(len(X), bool) if prior is None else t_ns >= pd.Timestamp(prior.cut).value
    thin, weight = _thin(codes)
    prob = np.full(len(X), np.nan)
    sd = np.full(len(X), np.nan)
    fits = 0
    last: MarketAwareClassifier | None = None
    groups = pd.Series(np.arange(len(X))).groupby([k, uses_prior]).indices
    for (kk, with_prior), rows in groups.items():
        member = rank[codes[thin]] < kk
        mean, prec = base_mean, base_prec
        if with_prior:
            assert prior is not None and in_prior is not None
            member &= ~in_prior[codes[thin]]
            mean, prec = np.asarray(prior.mean), np.asarray(prior.precision)
        train = thin[member]
        model = _fit(X[train], y[train], weight[member], mean=mean, precision=prec)
        fits += 1
        prob[rows] = model.predict_proba(X[rows])[:, 1]
        sd[rows] = model.predict_logit_sd(X[rows])
        last = model
    coef = {} if last is None else dict(zip(names, map(float, last.coef_), strict=True))
    return WalkForward(prob, sd, k.astype(np.int64), fits, names, coef)


def prior_from_fit(
    model: MarketAwareClassifier, names: tuple[str, ...], **fields: Any
) -> CoefficientPrior:
    """A ``CoefficientPrior`` from a fitted model's posterior (mean ``coef_``, ``precision_``)."""
    precision = 0.5 * (model.precision_ + model.precision_.T)
    return CoefficientPrior(
        names=names,
        mean=tuple(float(v) for v in model.coef_),
        precision=tuple(tuple(float(v) for v in row) for row in precision),
        **fields,
    )
