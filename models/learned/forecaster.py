"""The learned forecaster and the ``default`` model: learned corrections on top of ``gbm``.

Store-free: ``fit_forecaster`` learns from a ``TrainingSet`` (``X``, ``y`` in time order, built
by ``experiments.learning.training_set``) and ``FittedForecaster.predict`` answers from contract
rows and their point-in-time feature rows. It never reads a store or the label reader.

Fit (``fit_forecaster``)
    Two calibrated models: LightGBM (monotone increasing in the ``gbm`` logit and in the signed
    moneyness, so ladders stay monotone in strike) and a logistic variant (imputer + missing
    indicators), each wrapped in ``TimeCalibratedClassifier`` (sigmoid per event family on the
    latest 25 % of rows, purged by the longest horizon). The result, ``FittedForecaster``,
    records ``cut``, ``purge``, the data fingerprint, the features used and left out, and may
    carry the liquidation-volume model.

Use (``FittedForecaster.predict``)
    Rows with ``t < cut + purge`` are refused (``ConfigError``). Columns ``prob_gbm`` (closed
    form), ``prob_learned`` (the LightGBM model on the row's own kind), ``prob_learned_logistic``
    and ``prob_default``, built to be coherent: with ``c(K)`` the learned P(close above K) of the
    same asset, time and deadline, symmetrised as ``(P(close above K) + 1 - P(close below K)) / 2``
    so that the two sum to 1,

    - close_above ``c(K)``; close_below ``1 - c(K)``;
    - range: ``gbm`` (``c(lo) - c(hi)`` is coherent but lost to ``gbm`` out of sample: the
      difference of two step functions of the strike is noisy for narrow ranges; gbm ranges of
      one deadline are differences of one CDF, so they sum to at most 1);
    - up_down ``c(reference)``; terminal move ``c(ref (1 + x))`` up, ``1 - c(ref (1 - x))`` down,
      their sum (at most 1) either way;
    - continuous touch ``max(learned touch, c(K))`` up, ``max(learned touch, 1 - c(K))`` down;
    - first_of: ``gbm`` (the learned first_of lost to ``gbm`` out of sample in the walk-forward
      study of experiments/studies/learned_models/README.md, so ``default`` does not use it).

    Learned probabilities are kept within ``[0.002, 0.998]`` unless ``gbm`` itself is beyond
    (a calibrator can map sparse tails to exactly 0 or 1, which log loss punishes). Strikes beyond
    the trained moneyness (``|z| > 1.5``) take the learned logit shift measured at the boundary.

    Outside the learned domain (a forward-start window, horizons beyond the longest trained one,
    discrete touches, continuous moves, open-ended first_of, kinds not trained) ``prob_default``
    is ``prob_gbm`` and ``in_domain`` is False. ``models.consistency.enforce_consistency`` then
    repairs any remaining incoherence between rows of one (asset, t, end).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.consistency import enforce_consistency
from levercast.models.learned.design import (
    TrainingConfig,
    TrainingSet,
    contract_design,
    design_matrix,
)
from levercast.models.learned.estimators import (
    TimeCalibratedClassifier,
    lightgbm_classifier,
    logistic_classifier,
)
from levercast.models.learned.liquidation_volume import LiquidationVolumeModel
from levercast.models.probability import logit, shift_logit

__all__ = ["FittedForecaster", "fit_forecaster"]

LOGISTIC_MAX_ROWS: Final = 60_000  # the logistic variant is fitted on the latest rows only
_MONOTONE: Final = {"gbm_logit": 1, "signed_moneyness": 1}
_FLOOR: Final = 0.002


@dataclass(frozen=True, slots=True, eq=False)
class FittedForecaster:
    """A fitted learned/default forecaster (see module docstring).

    Attributes
    ----------
    cut
        Last decision time of the training contracts.
    purge
        At least the longest training horizon: every training label resolved by ``cut + purge``;
        usable at ``T >= cut + purge``.
    fingerprint
        ``Store.fingerprint()`` of the data it was fitted on.
    assets, features, excluded, config, seed
        What it was trained on: assets, feature columns, features left out (with reasons),
        the ``TrainingConfig`` and the seed.
    lightgbm, logistic
        The calibrated classifiers (``logistic`` may be None).
    liquidations
        The liquidation-volume model (None without enough liquidation history).
    n_rows, fit_seconds
        Training rows and wall time of the fit.
    """

    cut: pd.Timestamp
    purge: pd.Timedelta
    fingerprint: str
    assets: tuple[str, ...]
    features: tuple[str, ...]
    excluded: dict[str, str]
    config: TrainingConfig
    lightgbm: TimeCalibratedClassifier
    logistic: TimeCalibratedClassifier | None
    liquidations: LiquidationVolumeModel | None
    n_rows: int
    fit_seconds: float
    seed: int = 0
    model_kind: str = field(default="lightgbm-monotone+calibrated-per-family")

    def usable_at(self, t: pd.Timestamp) -> bool:
        """Whether no training label resolves after ``t`` (``t >= cut + purge``)."""
        return bool(pd.Timestamp(t) >= self.cut + self.purge)

    def _check_times(self, times: pd.Series) -> None:
        first = pd.Timestamp(pd.DatetimeIndex(times).min())
        if not self.usable_at(first):
            raise ConfigError(
                f"t must be at or after cut + purge = {self.cut + self.purge} for this fit "
                f"(training labels resolve until then); found t = {first}; refit earlier"
            )

    def _raw(self, rows: pd.DataFrame, features: pd.DataFrame) -> tuple[np.ndarray, ...]:
        design = contract_design(rows)
        X = design_matrix(
            pd.concat([rows[["asset", "t"]], design], axis=1), features, self.features
        )
        values = X.to_numpy(np.float64)
        p_lgbm = self.lightgbm.predict_proba(values)[:, 1]
        p_log = self.logistic.predict_proba(values)[:, 1] if self.logistic is not None else p_lgbm
        gbm = design["prob_gbm"].to_numpy(float)
        return p_lgbm, p_log, gbm, design["signed_moneyness"].to_numpy(float)

    def _learned(self, rows: pd.DataFrame, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Learned probabilities; strikes beyond the trained moneyness are extrapolated.

        Past ``max |z|`` of the grid the model has no data (trees are flat there), so a strike
        contract (close, touch) beyond it gets the learned logit shift over ``gbm`` at the
        boundary strike added to its own ``gbm`` logit: continuous at the boundary and monotone
        in the strike like ``gbm``.
        """
        p_lgbm, p_log, gbm, signed = self._raw(rows, features)
        limit = max(abs(z) for z in self.config.z_grid)
        kinds = rows["kind"].to_numpy(str)
        beyond = np.isin(kinds, ("close_above", "close_below", "touch")) & (np.abs(signed) > limit)
        if beyond.any():
            sub = rows[beyond].copy()
            way = sub["direction"].fillna("").to_numpy(str)
            sign = np.where(
                (sub["kind"].to_numpy(str) == "close_above")
                | ((sub["kind"].to_numpy(str) == "touch") & (way == "up")),
                -1.0,
                1.0,
            )
            scale = sub["vol_annual"].to_numpy(float) * np.sqrt(
                sub["horizon_hours"].to_numpy(float) / HOURS_PER_YEAR
            )
            clamped = np.clip(signed[beyond], -limit, limit)
            sub["strike_usd"] = sub["spot_usd"].to_numpy(float) * np.exp(sign * clamped * scale)
            b_lgbm, b_log, b_gbm, _ = self._raw(sub, features)
            p_lgbm[beyond] = _shifted(gbm[beyond], b_lgbm, b_gbm)
            p_log[beyond] = _shifted(gbm[beyond], b_log, b_gbm)
        low, high = np.fmin(gbm, _FLOOR), np.fmax(gbm, 1.0 - _FLOOR)
        return np.clip(p_lgbm, low, high), np.clip(p_log, low, high)

    def predict(self, contracts: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
        """Probabilities of contract rows from their point-in-time features.

        Parameters
        ----------
        contracts
            ``models.learned.contract_grid`` columns: ``asset, t, kind, horizon_hours`` (time left
            at
            ``t``), ``end, strike_usd, lower_usd, upper_usd, threshold, direction, monitoring,
            spot_usd, vol_annual``; optional ``reference_usd`` (window start price, default
            spot) and ``start`` (default ``t``). Any index.
        features
            Optional precomputed ``features.frame.frame.feature_frame`` rows (``asset, ts`` + the
            features) covering every (asset, t): saves recomputing them across calls.

        Returns
        -------
        pandas.DataFrame
            Same index: ``prob_gbm, prob_learned, prob_learned_logistic, prob_default,
            in_domain``.

        Raises
        ------
        ConfigError
            A row with ``t < cut + purge`` (look-ahead) or missing columns.
        """
        if contracts.empty:
            return pd.DataFrame(
                columns=[
                    "prob_gbm",
                    "prob_learned",
                    "prob_learned_logistic",
                    "prob_default",
                    "in_domain",
                ]
            )
        self._check_times(contracts["t"])
        rows = contracts.reset_index(drop=True).copy()
        if "reference_usd" not in rows:
            rows["reference_usd"] = rows["spot_usd"]
        rows["reference_usd"] = rows["reference_usd"].fillna(rows["spot_usd"])
        missing = [n for n in self.features if n not in features.columns]
        if missing:
            raise ConfigError(f"features must have the columns the fit uses; missing {missing}")
        kinds = rows["kind"].to_numpy(str)
        domain = self._domain(rows)
        gbm = contract_design(rows)["prob_gbm"].to_numpy(float)
        learned = np.full(len(rows), np.nan)
        logistic = np.full(len(rows), np.nan)
        trained = np.isin(kinds, list(self.config.kinds)) & np.isfinite(gbm)
        if trained.any():
            sub = rows[trained]
            learned[trained], logistic[trained] = self._learned(sub, features)
        default = self._default(rows, features, learned, domain, gbm)
        default = np.where(domain & np.isfinite(default), default, gbm)
        out = rows.assign(prob_default=default)
        out = enforce_consistency(out, prob="prob_default") if "end" in out else out
        result = pd.DataFrame(
            {
                "prob_gbm": gbm,
                "prob_learned": np.where(np.isfinite(learned), learned, gbm),
                "prob_learned_logistic": np.where(np.isfinite(logistic), logistic, gbm),
                "prob_default": out["prob_default"].to_numpy(float),
                "in_domain": domain,
            }
        )
        result.index = contracts.index
        return result

    def _domain(self, rows: pd.DataFrame) -> np.ndarray:
        kinds = rows["kind"].to_numpy(str)
        hours = rows["horizon_hours"].to_numpy(float)
        mon = rows["monitoring"].fillna("").to_numpy(str)
        way = rows["direction"].fillna("").to_numpy(str)
        ok = np.isin(kinds, list(self.config.kinds)) & np.isfinite(hours)
        ok &= (hours <= max(self.config.horizons_hours) * (1 + 1e-9)) & (hours >= 0.25)
        if "start" in rows:
            ok &= np.asarray(pd.DatetimeIndex(rows["start"]) <= pd.DatetimeIndex(rows["t"]))
        ok &= ~((kinds == "touch") & (mon == "discrete"))
        ok &= ~((kinds == "move") & (mon != "terminal") & (mon != ""))
        ok &= ~((kinds == "move") & (way == "") & (mon != "terminal") & (mon != ""))
        return np.asarray(ok)

    def _default(
        self,
        rows: pd.DataFrame,
        features: pd.DataFrame,
        learned: np.ndarray,
        domain: np.ndarray,
        gbm: np.ndarray,
    ) -> np.ndarray:
        kinds = rows["kind"].to_numpy(str)
        way = rows["direction"].fillna("").to_numpy(str)
        ref = rows["reference_usd"].to_numpy(float)
        strike = rows["strike_usd"].to_numpy(float)
        th = rows["threshold"].to_numpy(float)
        k1 = np.select(
            [
                np.isin(kinds, ("close_above", "close_below", "touch")),
                kinds == "range",
                kinds == "up_down",
                kinds == "move",
            ],
            [strike, rows["lower_usd"].to_numpy(float), ref, ref * (1 + th)],
            np.nan,
        )
        k2 = np.select(
            [kinds == "range", kinds == "move"],
            [rows["upper_usd"].to_numpy(float), ref * (1 - th)],
            np.nan,
        )
        c1 = self._close_above(rows, features, k1, domain)
        c2 = self._close_above(rows, features, k2, domain)
        up_move, down_move = c1, 1.0 - c2
        return np.select(
            [
                kinds == "close_above",
                kinds == "close_below",
                kinds == "range",
                kinds == "up_down",
                (kinds == "move") & (way == "up"),
                (kinds == "move") & (way == "down"),
                kinds == "move",
                (kinds == "touch") & (way == "up"),
                (kinds == "touch") & (way == "down"),
                kinds == "first_of",
            ],
            [
                c1,
                1.0 - c1,
                gbm,
                c1,
                up_move,
                down_move,
                np.minimum(up_move + down_move, 1.0),
                np.fmax(learned, c1),
                np.fmax(learned, 1.0 - c1),
                gbm,
            ],
            np.nan,
        )

    def _close_above(
        self, rows: pd.DataFrame, features: pd.DataFrame, strike: np.ndarray, domain: np.ndarray
    ) -> np.ndarray:
        need = domain & np.isfinite(strike) & (strike > 0)
        out = np.full(len(rows), np.nan)
        if not need.any():
            return out
        query = rows.loc[need, ["asset", "t", "horizon_hours", "spot_usd", "vol_annual"]].copy()
        query["kind"] = "close_above"
        query["strike_usd"] = strike[need]
        for name in ("lower_usd", "upper_usd", "threshold"):
            query[name] = np.nan
        query["direction"] = ""
        query["monitoring"] = "terminal"
        above = self._learned(query, features)[0]
        below = self._learned(query.assign(kind="close_below"), features)[0]
        # Symmetrised: the event and its complement predicted separately need not sum to 1.
        out[need] = (above + 1.0 - below) / 2.0
        return out


def _shifted(gbm: np.ndarray, learned_at: np.ndarray, gbm_at: np.ndarray) -> np.ndarray:
    """``gbm`` moved by the learned logit shift measured at another strike."""
    return shift_logit(gbm, logit(learned_at) - logit(gbm_at))


def _purge_rows(t: pd.Series, fraction: float, purge: pd.Timedelta) -> int:
    n = len(t)
    n_cal = int(n * fraction)
    if n_cal == 0 or n_cal >= n:
        return 0
    stamps = pd.DatetimeIndex(t)
    start = stamps[n - n_cal]
    return int(((stamps >= start - purge) & (stamps < start)).sum())


def fit_forecaster(
    data: TrainingSet,
    *,
    cut: pd.Timestamp,
    config: TrainingConfig,
    fingerprint: str,
    assets: Sequence[str],
    seed: int = 0,
    logistic: bool = True,
    liquidations: LiquidationVolumeModel | None = None,
) -> FittedForecaster:
    """Fit the learned/default forecaster on a training set (``X``, ``y`` in time order).

    Parameters
    ----------
    data
        The labelled rows (``experiments.learning.training_set.assemble_training_set``), every
        one decided at or before ``cut`` and resolved by ``cut + config.purge``.
    cut
        Last decision time of the training contracts (tz-aware); the fit is usable at
        ``T >= cut + config.purge``.
    config
        The settings the set was assembled with.
    fingerprint, assets
        Recorded with the fit (the data it came from).
    seed
        Seed of LightGBM and the logistic variant.
    logistic
        Also fit the logistic variant.
    liquidations
        A fitted liquidation-volume model to carry along (or None).
    """
    cut = pd.Timestamp(cut)
    if cut.tzinfo is None:
        raise ConfigError(f"cut must be tz-aware UTC; found naive {cut.isoformat()}")
    started = time.perf_counter()
    names = list(data.X.columns)
    base = lightgbm_classifier(
        n_estimators=config.n_estimators,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_child_samples=config.min_child_samples,
        random_state=seed,
    )
    base.set_params(monotone_constraints=[_MONOTONE.get(n, 0) for n in names])
    purge_rows = _purge_rows(data.frame["t"], config.calibration_fraction, config.purge)
    group = names.index("family_code")
    X = data.X.to_numpy(np.float64)
    y = data.frame["y"].to_numpy(int)
    common: dict[str, Any] = {
        "calibration_fraction": config.calibration_fraction,
        "purge_rows": purge_rows,
        "group_column": group,
        "method": config.calibration,
    }
    lgbm = TimeCalibratedClassifier(base, **common).fit(X, y)
    log_model = None
    if logistic:
        recent = slice(max(len(y) - LOGISTIC_MAX_ROWS, 0), None)
        common["purge_rows"] = _purge_rows(
            data.frame["t"].iloc[recent], config.calibration_fraction, config.purge
        )
        log_model = TimeCalibratedClassifier(
            logistic_classifier(c=0.1, random_state=seed), **common
        )
        log_model.fit(X[recent], y[recent])
    return FittedForecaster(
        cut=cut,
        purge=config.purge,
        fingerprint=fingerprint,
        assets=tuple(assets),
        features=data.features,
        excluded=data.excluded,
        config=config,
        lightgbm=lgbm,
        logistic=log_model,
        liquidations=liquidations,
        n_rows=len(y),
        fit_seconds=time.perf_counter() - started,
        seed=seed,
    )
