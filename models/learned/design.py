"""The learned models' design: contract columns, feature selection, the training-set record.

Everything here is store-free: rows of contracts (``models.learned.contract_grid`` columns) and
feature-frame rows in, numbers out. ``experiments.learning.training_set`` assembles a
``TrainingSet`` from the store and the label reader; ``models.learned.forecaster`` fits on it.

Contract columns (``contract_design``): the event-family code, the ``gbm`` probability as a
logit, the signed moneyness and width in ``sigma sqrt(h)`` units, log hours to expiry.

Feature columns: the asset-level volatility features ``BASE_FEATURES`` of the feature frame
(one value per (asset, t)) and, with ``use_leverage``, the contract-relative leverage features of
``models.learned.leverage`` (one value per contract row: mass to the barrier, cluster distances,
oriented dominance and funding, ...). Other registered frame features (ELR, map, dominance,
deleveraging signals as asset-level scalars) are not design columns: leverage enters through the
contract-relative ones. ``leverage_families`` names the event families whose answers come from
the leverage model; the others come from a volatility-only companion fitted on the same rows
(``TrainingSet.without_leverage``).

Feature selection (``select_features``): features with under ``min_history_days`` (365) of
history before the cut, features with no value in the ``stale_days`` before the cut, USD levels
(non-stationary) and trend features (directional) are left out and listed with the reason.

NaN policy: NaN feature values are kept (the estimators accept them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.frame.registry import feature_specs
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.learned.contract_grid import DEFAULT_HORIZONS_HOURS, GRID_KINDS, Z_GRID
from levercast.models.pricing.gbm import gbm_probabilities
from levercast.models.probability import logit

__all__ = [
    "BASE_FEATURES",
    "CONTRACT_COLUMNS",
    "FAMILIES",
    "FAMILY_CODES",
    "TREND_FEATURES",
    "TrainingConfig",
    "TrainingSet",
    "contract_design",
    "decision_times",
    "design_matrix",
    "family_codes",
    "select_features",
]

# Event families: the learned models are direction-neutral (METHODS.md §2.6: leverage features
# are volatility / tail inputs, not directional alpha), so an event and its mirror image share a
# family and, through the signed moneyness, the same design row: close above K = S e^(zs) and
# close below S e^(-zs), an up and a down touch at the same distance, a one-way terminal move and
# the close beyond its level, up_down and close above the start price.
FAMILIES: Final = ("terminal_beyond", "touch", "range", "first_of", "move_either")
FAMILY_CODES: Final = {name: float(i) for i, name in enumerate(FAMILIES)}
CONTRACT_COLUMNS: Final = (
    "family_code",
    "gbm_logit",
    "signed_moneyness",
    "width",
    "log_hours",
)
# Volatility and trend features; every other registered feature is a leverage feature (ELR,
# liquidation map, dominance, deleveraging signals) for the ablation.
BASE_FEATURES: Final = ("rvol_24h", "rvol_7d", "rvol_30d")
# Trend features carry direction, which the direction-neutral design leaves out.
TREND_FEATURES: Final = ("price_change_30d", "price_change_90d", "price_change_270d")
_EPS: Final = 1e-6  # the clip of the gbm logit in the design matrix


@dataclass(frozen=True, slots=True)
class TrainingConfig:
    """How a learned model's training set and fit are sized (defaults: the cold ``price``).

    Attributes
    ----------
    decision_every_hours, history_days
        Decision grid before the cut.
    horizons_hours, kinds, z_grid
        Contract grid (``models.learned.contract_grid``); 30m horizons only where 30m bars exist.
    min_history_days, stale_days
        Feature selection (see module docstring).
    use_leverage
        True adds the contract-relative leverage features (``models.learned.leverage``) to the
        volatility features; False is ``default_vol`` (volatility features only).
    leverage_families
        Event families (``FAMILIES``) answered by the leverage model; the others are answered
        by a volatility-only companion fitted on the same rows. None = every family (no
        companion). The shipped ``("terminal_beyond",)`` is the walk-forward choice of
        experiments/studies/learned_models/README.md: the leverage model answers closes,
        one-way moves and up_down (and, through ``c(K)``, the close floor of touches); touches
        themselves are answered without leverage, where it did not help.
    max_rows
        Seeded subsample of the labelled rows (time order kept) above this size.
    n_estimators, learning_rate, num_leaves, min_child_samples
        LightGBM settings.
    calibration_fraction
        Latest share of rows used for the per-family calibration.
    calibration
        ``sigmoid`` (default: smooth in the strike) or ``isotonic`` (piecewise constant).
    max_domain_hours
        Longest window the fit answers (``domain_hours``); None: the longest trained horizon.
        Longer windows are answered by ``gbm`` (``FittedForecaster.predict``'s ``in_domain``).
        Prediction only: the fit itself does not depend on it.
    """

    decision_every_hours: float = 24.0
    history_days: float = 540.0
    horizons_hours: tuple[float, ...] = DEFAULT_HORIZONS_HOURS
    kinds: tuple[str, ...] = GRID_KINDS
    z_grid: tuple[float, ...] = Z_GRID
    min_history_days: float = 365.0
    stale_days: float = 30.0
    use_leverage: bool = True
    leverage_families: tuple[str, ...] | None = ("terminal_beyond",)
    max_rows: int = 400_000
    n_estimators: int = 150
    learning_rate: float = 0.05
    num_leaves: int = 7
    min_child_samples: int = 2000
    calibration_fraction: float = 0.25
    calibration: str = "sigmoid"
    max_domain_hours: float | None = None

    def __post_init__(self) -> None:
        for name in ("decision_every_hours", "history_days", "max_rows", "n_estimators"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive; found {getattr(self, name)}")
        if not self.horizons_hours or min(self.horizons_hours) <= 0:
            raise ConfigError(f"horizons_hours must be positive; found {self.horizons_hours}")
        if self.calibration not in ("sigmoid", "isotonic"):
            raise ConfigError(
                f"calibration must be 'sigmoid' or 'isotonic'; found {self.calibration!r}"
            )
        if self.max_domain_hours is not None and not (
            math.isfinite(self.max_domain_hours)
            and self.max_domain_hours >= max(self.horizons_hours)
        ):
            raise ConfigError(
                "max_domain_hours must be finite and at least the longest horizon "
                f"{max(self.horizons_hours):g}; found {self.max_domain_hours}"
            )
        unknown = sorted(set(self.kinds) - set(GRID_KINDS))
        if unknown:
            raise ConfigError(f"kinds must be among {GRID_KINDS}; found {unknown}")
        families = sorted(set(self.leverage_families or ()) - set(FAMILIES))
        if families:
            raise ConfigError(f"leverage_families must be among {FAMILIES}; found {families}")

    @property
    def uses_companion(self) -> bool:
        """Whether some families are answered by a volatility-only companion fit."""
        return (
            self.use_leverage
            and self.leverage_families is not None
            and set(self.leverage_families) != set(FAMILIES)
        )

    def vol_only(self) -> TrainingConfig:
        """The same settings without leverage features (``default_vol``, the ablation)."""
        return replace(self, use_leverage=False, leverage_families=None)

    @property
    def domain_hours(self) -> float:
        """Longest window answered: ``max_domain_hours``, else the longest trained horizon."""
        if self.max_domain_hours is not None:
            return float(self.max_domain_hours)
        return float(max(self.horizons_hours))

    @property
    def purge(self) -> pd.Timedelta:
        """The purge gap: the longest horizon (labels of decisions at the cut resolve by then)."""
        return pd.Timedelta(hours=max(self.horizons_hours))

    def key(self) -> str:
        """A short stable text of the settings, for cache keys."""
        parts = [
            self.decision_every_hours,
            self.history_days,
            self.horizons_hours,
            self.kinds,
            self.z_grid,
            self.min_history_days,
            self.stale_days,
            self.use_leverage,
            self.leverage_families,
            self.max_rows,
            self.n_estimators,
            self.learning_rate,
            self.num_leaves,
            self.min_child_samples,
            self.calibration_fraction,
            self.calibration,
        ]
        if self.max_domain_hours is not None:  # keys of configurations without it unchanged
            parts.append(("max_domain_hours", self.max_domain_hours))
        return repr(parts)


@dataclass(frozen=True, slots=True, eq=False)
class TrainingSet:
    """Labelled rows in time order.

    Attributes
    ----------
    frame
        Contract rows (``models.learned.contract_grid`` columns) + ``prob_gbm`` + ``y`` (0/1).
    X
        Design matrix: ``CONTRACT_COLUMNS`` then ``features`` (float32), rows as ``frame``.
    features
        Frame feature columns used (one value per (asset, t)).
    excluded
        Feature -> reason it was left out.
    n_unlabelled
        Grid rows dropped for an unknown outcome.
    leverage
        Contract-relative leverage columns used (after ``features`` in ``X``).
    """

    frame: pd.DataFrame
    X: pd.DataFrame
    features: tuple[str, ...]
    excluded: dict[str, str]
    n_unlabelled: int
    leverage: tuple[str, ...] = ()

    def without_leverage(self) -> TrainingSet:
        """The same rows with the leverage columns dropped (the volatility-only design)."""
        excluded = dict(self.excluded)
        excluded.update(
            {name: "leverage feature left out (use_leverage=False)" for name in self.leverage}
        )
        X = self.X.drop(columns=list(self.leverage))
        return TrainingSet(self.frame, X, self.features, excluded, self.n_unlabelled, ())


def decision_times(
    cut: pd.Timestamp, *, every_hours: float, history_days: float
) -> pd.DatetimeIndex:
    """Decision times ``cut - k * every`` (k >= 0) after ``cut - history_days``, increasing."""
    cut = pd.Timestamp(cut)
    if cut.tzinfo is None:
        raise ConfigError(f"cut must be tz-aware UTC; found naive {cut.isoformat()}")
    step = pd.Timedelta(hours=every_hours)
    count = int(pd.Timedelta(days=history_days) / step)
    return pd.DatetimeIndex([cut - k * step for k in range(count, -1, -1)]).tz_convert("UTC")


def contract_design(rows: pd.DataFrame) -> pd.DataFrame:
    """``prob_gbm`` and the ``CONTRACT_COLUMNS`` of contract rows (window from ``t``).

    ``rows`` has the contract-grid columns; ``horizon_hours`` is the time left at ``t`` and an
    optional ``reference_usd`` (default spot) is the window's start price (up_down, move).
    ``signed_moneyness`` is the distance from spot to the event boundary in ``sigma sqrt(h)``
    units, signed so that larger means more likely (``ln(S/K)`` for close_above and an up
    touch, ``ln(K/S)`` for close_below and a down touch, ``-|ln(c/S)|`` for a range centred at
    ``c``, ``-ln(c/S)`` for first_of, ``ln(S/ref)`` for up_down, minus the threshold's log size
    for move); ``width`` is ``ln(upper/lower)`` in the same units (range, first_of).
    """
    kind = rows["kind"].to_numpy(str)
    spot = rows["spot_usd"].to_numpy(float)
    vol = rows["vol_annual"].to_numpy(float)
    hours = rows["horizon_hours"].to_numpy(float)
    ref = rows["reference_usd"].to_numpy(float) if "reference_usd" in rows else spot
    way = rows["direction"].fillna("").to_numpy(str)
    mon = rows["monitoring"].fillna("").to_numpy(str)
    strike, lo, hi, th = (
        rows[c].to_numpy(float) for c in ("strike_usd", "lower_usd", "upper_usd", "threshold")
    )
    years = hours / HOURS_PER_YEAR
    prob = gbm_probabilities(
        kind,
        spot,
        vol,
        years,
        strike_usd=strike,
        lower_usd=lo,
        upper_usd=hi,
        threshold=th,
        reference_usd=ref,
        direction=way,
        monitoring=mon,
    )
    scale = vol * np.sqrt(years)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_strike = np.log(strike / spot) / scale
        centre = np.log(np.sqrt(lo * hi) / spot) / scale
        width = np.log(hi / lo) / scale
        up_size = np.log1p(th) / scale
        down_size = -np.log1p(-np.minimum(th, 1 - _EPS)) / scale
        m_ref = np.log(spot / ref) / scale
    signed = np.select(
        [
            kind == "close_above",
            kind == "close_below",
            (kind == "touch") & (way == "up"),
            kind == "touch",
            kind == "range",
            kind == "first_of",
            kind == "up_down",
            (kind == "move") & (way == "down"),
            kind == "move",
        ],
        [
            -m_strike,
            m_strike,
            -m_strike,
            m_strike,
            -np.abs(centre),
            -centre,
            m_ref,
            -down_size,
            -up_size,
        ],
        default=np.nan,
    )
    return pd.DataFrame(
        {
            "prob_gbm": prob,
            "family_code": family_codes(kind, way),
            "gbm_logit": logit(prob, eps=_EPS),
            "signed_moneyness": signed,
            "width": np.where(np.isin(kind, ("range", "first_of")), width, 0.0),
            "log_hours": np.log(np.maximum(hours, 1e-3)),
        },
        index=rows.index,
    )


def family_codes(kind: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Event-family code per contract (NaN for kinds outside the families)."""
    one_way = (kind == "move") & (direction != "")
    beyond = np.isin(kind, ("close_above", "close_below", "up_down")) | one_way
    return np.select(
        [beyond, kind == "touch", kind == "range", kind == "first_of", kind == "move"],
        [FAMILY_CODES[name] for name in FAMILIES],
        np.nan,
    )


def select_features(
    features: pd.DataFrame, cut: pd.Timestamp, config: TrainingConfig
) -> tuple[list[str], dict[str, str]]:
    """(kept, excluded with reasons) among the feature columns of a training frame."""
    units = {spec.name: spec.unit for spec in feature_specs()}
    names = [c for c in features.columns if c not in ("asset", "ts")]
    kept: list[str] = []
    excluded: dict[str, str] = {}
    min_history = pd.Timedelta(days=config.min_history_days)
    stale = pd.Timedelta(days=config.stale_days)
    ts = pd.DatetimeIndex(features["ts"])
    for name in names:
        valid = ts[features[name].notna().to_numpy()]
        if name in TREND_FEATURES:
            excluded[name] = "trend feature (directional); the learned models are direction-neutral"
        elif units.get(name) == "usd" or name.endswith("_usd"):
            excluded[name] = "a USD level (non-stationary); not used by the learned models"
        elif len(valid) == 0:
            excluded[name] = "no value before the cut"
        elif cut - valid.min() < min_history:
            days = (cut - valid.min()) / pd.Timedelta(days=1)
            excluded[name] = (
                f"{days:.0f} days of history before the cut (< {config.min_history_days:.0f})"
            )
        elif cut - valid.max() > stale:
            excluded[name] = f"stale: no value in the {config.stale_days:.0f} days before the cut"
        else:
            kept.append(name)
    return kept, excluded


def design_matrix(
    rows: pd.DataFrame,
    features: pd.DataFrame,
    names: Sequence[str],
    leverage: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``CONTRACT_COLUMNS`` of ``rows`` (with ``contract_design`` columns) + frame feature values
    at each row's (asset, t) + the per-row ``leverage`` columns (aligned with ``rows``)."""
    keyed = features.set_index(["asset", "ts"])
    index = pd.MultiIndex.from_arrays([rows["asset"].astype(str), pd.DatetimeIndex(rows["t"])])
    values = (
        keyed.reindex(index)[list(names)].to_numpy(np.float32)
        if names
        else np.zeros((len(rows), 0), np.float32)
    )
    X = pd.DataFrame(values, columns=list(names), index=rows.index)
    for column in reversed(CONTRACT_COLUMNS):
        X.insert(0, column, rows[column].to_numpy(np.float32))
    if leverage is not None and len(leverage.columns):
        extra = pd.DataFrame(
            leverage.to_numpy(np.float32), columns=list(leverage.columns), index=rows.index
        )
        X = pd.concat([X, extra], axis=1)
    return X
