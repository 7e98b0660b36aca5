"""The learned forecaster and the ``default`` model: learned corrections on top of ``gbm``.

Fit (``fit_default``)
    The training set of ``experiments.learning.training_set`` (grid contracts decided at or before
    ``cut``,
    labelled by the outcome reader, resolved by ``cut + purge``), then two calibrated models:
    LightGBM (monotone increasing in the ``gbm`` logit and in the signed moneyness, so ladders
    stay monotone in strike) and a logistic variant (imputer + missing indicators), each wrapped
    in ``TimeCalibratedClassifier`` (sigmoid per event family on the latest 25 % of rows, purged
    by the longest horizon); plus the liquidation-volume model. The result, ``FittedForecaster``,
    records ``cut``, ``purge``, the data fingerprint, the features used and left out.

Use (``FittedForecaster.predict_frame``)
    Point in time: features at each row's ``t``. Rows with ``t < cut + purge`` are refused
    (``ConfigError``). Columns ``prob_gbm`` (closed form), ``prob_learned`` (the LightGBM model on
    the row's own kind), ``prob_learned_logistic`` and ``prob_default``, built to be coherent:
    with ``c(K)`` the learned P(close above K) of the same asset, time and deadline, symmetrised
    as ``(P(close above K) + 1 - P(close below K)) / 2`` so that the two sum to 1,

    - close_above ``c(K)``; close_below ``1 - c(K)``;
    - range: ``gbm`` (``c(lo) - c(hi)`` is coherent but lost to ``gbm`` out of sample: the
      difference of two step functions of the strike is noisy for narrow ranges; gbm ranges of
      one deadline are differences of one CDF, so they sum to at most 1);
    - up_down ``c(reference)``; terminal move ``c(ref (1 + x))`` up, ``1 - c(ref (1 - x))`` down,
      their sum (at most 1) either way;
    - continuous touch ``max(learned touch, c(K))`` up, ``max(learned touch, 1 - c(K))`` down;
    - first_of: ``gbm`` (the learned first_of lost to ``gbm`` out of sample in the walk-forward
      study of experiments/learned_models/README.md, so ``default`` does not use it).

    Learned probabilities are kept within ``[0.002, 0.998]`` unless ``gbm`` itself is beyond
    (a calibrator can map sparse tails to exactly 0 or 1, which log loss punishes). Strikes beyond
    the trained moneyness (``|z| > 1.5``) take the learned logit shift measured at the boundary.

    Outside the learned domain (a forward-start window, horizons beyond the longest trained one,
    discrete touches, continuous moves, open-ended first_of, kinds not trained) ``prob_default``
    is ``prob_gbm`` and ``in_domain`` is False. ``models.consistency.enforce_consistency`` then
    repairs any remaining incoherence between rows of one (asset, t, end).

Pricing (``price_learned``, ``price_default``: registered as ``learned`` and ``default``)
    ``load_or_fit`` reuses a fit cached in ``$LEVERCAST_HOME/models`` keyed by (fingerprint,
    assets, config, cut) with ``cut + purge <= T``, else fits with ``cut = floor_day(T - purge)``
    (refit on data before T, INTERFACE.md §5). A cold fit runs under a time budget
    (``LEVERCAST_COLD_BUDGET_SECS``, default 40 s); past it the answer is ``gbm`` with the warning
    ``learned-model-timeout``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.learning.liquidation_volume import (
    LiquidationVolumeModel,
    fit_liquidation_model,
)
from levercast.experiments.learning.training_set import (
    TrainingConfig,
    assemble_training_set,
    contract_design,
    design_matrix,
    features_for,
)
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.consistency import enforce_consistency
from levercast.models.learned.estimators import (
    TimeCalibratedClassifier,
    lightgbm_classifier,
    logistic_classifier,
)

__all__ = [
    "COLD_BUDGET_SECS",
    "FittedForecaster",
    "fit_default",
    "fit_with_budget",
    "load_or_fit",
    "replace_config",
]

COLD_BUDGET_SECS: Final = 40.0
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

    def predict_frame(
        self, store: Store, contracts: pd.DataFrame, *, features: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Probabilities of contract rows, point in time (features at each row's ``t``).

        Parameters
        ----------
        store
            The dataset (features are read as of each row's ``t``).
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
        if features is None:
            features = features_for(store, rows[["asset", "t"]], self.features)
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


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.asarray(np.log(q / (1 - q)))


def _shifted(gbm: np.ndarray, learned_at: np.ndarray, gbm_at: np.ndarray) -> np.ndarray:
    """``gbm`` moved by the learned logit shift measured at another strike."""
    return np.asarray(1.0 / (1.0 + np.exp(-(_logit(gbm) + _logit(learned_at) - _logit(gbm_at)))))


def _purge_rows(t: pd.Series, fraction: float, purge: pd.Timedelta) -> int:
    n = len(t)
    n_cal = int(n * fraction)
    if n_cal == 0 or n_cal >= n:
        return 0
    stamps = pd.DatetimeIndex(t)
    start = stamps[n - n_cal]
    return int(((stamps >= start - purge) & (stamps < start)).sum())


def fit_default(
    store: Store,
    *,
    assets: Sequence[str],
    cut: pd.Timestamp,
    seed: int = 0,
    config: TrainingConfig | None = None,
    logistic: bool = True,
    liquidations: bool = True,
) -> FittedForecaster:
    """Fit the learned/default forecaster on contracts decided at or before ``cut``.

    Parameters
    ----------
    store
        The dataset.
    assets
        Assets whose grid contracts are pooled (e.g. ``("BTC", "ETH")``).
    cut
        Last decision time of the training contracts (tz-aware); use the model at
        ``T >= cut + config.purge``.
    seed
        Seed of the row subsample and LightGBM.
    config
        Sizes and settings (default ``TrainingConfig()``: decisions every 24 h over 540 days).
    logistic, liquidations
        Also fit the logistic variant / the liquidation-volume model.

    Raises
    ------
    DataError
        When no contract can be labelled before ``cut + purge``.
    """
    config = config or TrainingConfig()
    cut = pd.Timestamp(cut)
    if cut.tzinfo is None:
        raise ConfigError(f"cut must be tz-aware UTC; found naive {cut.isoformat()}")
    started = time.perf_counter()
    data = assemble_training_set(store, assets=assets, cut=cut, config=config, seed=seed)
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
    liq = fit_liquidation_model(store, assets=assets, cut=cut, seed=seed) if liquidations else None
    return FittedForecaster(
        cut=cut,
        purge=config.purge,
        fingerprint=store.fingerprint(),
        assets=tuple(assets),
        features=data.features,
        excluded=data.excluded,
        config=config,
        lightgbm=lgbm,
        logistic=log_model,
        liquidations=liq,
        n_rows=len(y),
        fit_seconds=time.perf_counter() - started,
        seed=seed,
    )


def _cache_dir() -> Any:
    from levercast.experiments.paths import levercast_home

    path = levercast_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_prefix(fingerprint: str, assets: Sequence[str], config: TrainingConfig) -> str:
    import hashlib

    digest = hashlib.sha256(config.key().encode()).hexdigest()[:10]
    return f"forecaster-{fingerprint}-{'+'.join(assets)}-{digest}-"


def load_or_fit(
    store: Store,
    *,
    assets: Sequence[str],
    at: pd.Timestamp,
    config: TrainingConfig | None = None,
    seed: int = 0,
    max_age_days: float = 7.0,
) -> FittedForecaster:
    """A fit usable at ``at``: cached, or fitted now and cached (joblib).

    A cached fit qualifies when its cut is at most ``max_age_days`` older than
    ``floor_day(at - purge)`` and not newer; otherwise the fit uses that cut.
    """
    import joblib

    config = config or TrainingConfig()
    at = pd.Timestamp(at)
    target = (at - config.purge).floor("D")
    max_age = pd.Timedelta(days=max_age_days)
    prefix = _cache_prefix(store.fingerprint(), assets, config)
    folder = _cache_dir()
    best: tuple[pd.Timestamp, Any] | None = None
    for path in folder.glob(f"{prefix}*.joblib"):
        stamp = pd.Timestamp(path.stem[len(prefix) :].replace("_", ":"))
        if target - max_age <= stamp <= target and (best is None or stamp > best[0]):
            best = (stamp, path)
    if best is not None:
        fitted: FittedForecaster = joblib.load(best[1])
        if fitted.usable_at(at):
            return fitted
    fitted = fit_default(store, assets=assets, cut=target, seed=seed, config=config)
    final = folder / f"{prefix}{target.isoformat().replace(':', '_')}.joblib"
    tmp = final.with_suffix(f".tmp{os.getpid()}")
    joblib.dump(fitted, tmp)
    tmp.replace(final)
    if os.environ.get("MLFLOW_TRACKING_URI"):
        # Tracking configured explicitly: register the fresh fit under a stable name with its
        # training cut (failures are reported on stderr by log_model and never stop pricing).
        from levercast.experiments.tracking import log_model

        log_model(
            fitted.lightgbm,
            name="levercast-default-lightgbm",
            training_cut=fitted.cut.to_pydatetime(),
            tags={"data_fingerprint": fitted.fingerprint, "assets": ",".join(fitted.assets)},
        )
    return fitted


def fit_with_budget(
    store: Store, *, assets: Sequence[str], at: pd.Timestamp, budget_secs: float | None = None
) -> tuple[FittedForecaster | None, str | None]:
    """``load_or_fit`` in a worker thread; (None, reason) when it exceeds the budget or fails."""
    budget = budget_secs
    if budget is None:
        budget = float(os.environ.get("LEVERCAST_COLD_BUDGET_SECS", COLD_BUDGET_SECS))
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["fit"] = load_or_fit(store, assets=assets, at=at)
        except Exception as e:
            result["error"] = e

    worker = threading.Thread(target=work, name="levercast-cold-fit", daemon=True)
    worker.start()
    worker.join(timeout=budget)
    if worker.is_alive():
        return None, f"learned-model-timeout: the cold fit exceeded {budget:.0f} s"
    if "error" in result:
        return None, f"learned-model-unavailable: {result['error']}"
    return result["fit"], None


def replace_config(config: TrainingConfig, **changes: Any) -> TrainingConfig:
    """A copy of ``config`` with ``changes`` (e.g. ``use_leverage=False`` for the ablation)."""
    return replace(config, **changes)
