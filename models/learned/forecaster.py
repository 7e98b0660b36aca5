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
    (a calibrator can map sparse tails to exactly 0 or 1, which log loss punishes).

    Smooth in strike: for a strike contract (close_above, close_below, touch) the learned logit
    shift over ``gbm`` is evaluated at the training z-nodes of the row's (asset, t, horizon,
    kind, direction) (``z`` in ``config.z_grid``; touches on their own side of spot) and
    interpolated linearly in the row's ``z = ln(K/S) / (sigma sqrt(h))``, flat beyond the outer
    nodes (the boundary shift), then added to the row's own ``gbm`` logit. A tree is piecewise
    constant in moneyness (ladders became staircases: 101k = 102k = 0.822, 103k = 0.647); the
    training rows lie on the nodes only, so the model has no information between them anyway.

    Leverage: a fit with contract-relative leverage features (``leverage``) computes them for
    every row it evaluates (node rows included) from the snapshot maps and frame scalars given to
    ``predict`` (``models.learned.leverage``).

    Outside the learned domain (a forward-start window, horizons beyond ``config.domain_hours``,
    discrete touches, continuous moves, open-ended first_of, kinds not trained) ``prob_default``
    is ``prob_gbm`` and ``in_domain`` is False. ``models.consistency.enforce_consistency`` then
    repairs any remaining incoherence between rows of one (asset, t, end).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from levercast.features.errors import ConfigError
from levercast.features.liqmap.contract_maps import SnapshotMaps
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.consistency import enforce_consistency
from levercast.models.learned.beside import Beside, beside
from levercast.models.learned.design import (
    FAMILIES,
    FAMILY_CODES,
    TrainingConfig,
    TrainingSet,
    contract_design,
    design_matrix,
    family_codes,
)
from levercast.models.learned.leverage import SCALAR_INPUTS, leverage_features
from levercast.models.probability import logit, shift_logit

if TYPE_CHECKING:  # scikit-learn and LightGBM are imported to fit, never to predict
    from levercast.models.learned.liquidation_volume import LiquidationVolumeModel

__all__ = ["FittedForecaster", "fit_forecaster"]

LOGISTIC_MAX_ROWS: Final = 60_000  # the logistic variant is fitted on the latest rows only
_MONOTONE: Final = {"gbm_logit": 1, "signed_moneyness": 1}
_FLOOR: Final = 0.002
_SHIFT_EPS: Final = 1e-9
_PIN_COLUMNS: Final = ("_pin_name", "_pin_value")  # predict's pins, carried by every stage
# node shifts per (kind, direction) class: (nodes, LightGBM shifts, logistic shifts)
_NodeShifts = dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]
_Shifts = tuple[_NodeShifts, _NodeShifts]  # the leverage model's, the companion's
# the event family (``models.learned.design.FAMILIES``) of each node class's kind
_NODE_FAMILY: Final = {
    "close_above": "terminal_beyond",
    "close_below": "terminal_beyond",
    "touch": "touch",
}


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
        The calibrated classifiers (``logistic`` may be None): fitted ``TimeCalibratedClassifier``s,
        or their ``models.learned.lean`` form in a cached fit.
    liquidations
        The liquidation-volume model (None without enough liquidation history).
    n_rows, fit_seconds
        Training rows and wall time of the fit.
    leverage
        Contract-relative leverage columns of the design (empty for ``default_vol``).
    companion
        The volatility-only fit on the same rows that answers the families outside
        ``config.leverage_families`` (None: the leverage model answers every family).
    """

    cut: pd.Timestamp
    purge: pd.Timedelta
    fingerprint: str
    assets: tuple[str, ...]
    features: tuple[str, ...]
    excluded: dict[str, str]
    config: TrainingConfig
    # A fitted TimeCalibratedClassifier, or its LeanClassifier form once cached (``lean``): both
    # answer ``predict_proba``; only a fit made in this process has scikit-learn internals.
    lightgbm: Any
    logistic: Any
    liquidations: LiquidationVolumeModel | None
    n_rows: int
    fit_seconds: float
    seed: int = 0
    model_kind: str = field(default="lightgbm-monotone+calibrated-per-family")
    leverage: tuple[str, ...] = ()
    companion: FittedForecaster | None = None

    @property
    def frame_features(self) -> tuple[str, ...]:
        """Feature-frame columns ``predict`` reads: the design's and, with leverage, the scalars
        of ``models.learned.leverage.SCALAR_INPUTS``."""
        extra = SCALAR_INPUTS if self.leverage else ()
        return tuple(dict.fromkeys([*self.features, *extra]))

    def lean(self) -> FittedForecaster:
        """The same fit with its classifiers as plain arrays where they have a lean form
        (``models.learned.lean``: identical predictions up to the last bit of the logistic
        variant's dot product), so that loading it for pricing imports neither scikit-learn nor
        LightGBM; the companion likewise. The fit is returned unchanged when nothing converts."""
        from dataclasses import replace

        from levercast.models.learned.lean import LeanClassifier, lean_classifier

        changes: dict[str, Any] = {}
        for name in ("lightgbm", "logistic"):
            model = getattr(self, name)
            if model is not None and not isinstance(model, LeanClassifier):
                converted = lean_classifier(model)
                if converted is not None:
                    changes[name] = converted
        if self.companion is not None:
            companion = self.companion.lean()
            if companion is not self.companion:
                changes["companion"] = companion
        return replace(self, **changes) if changes else self

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

    def leverage_of(
        self, rows: pd.DataFrame, features: pd.DataFrame, maps: SnapshotMaps | None
    ) -> pd.DataFrame:
        """The contract-relative leverage columns the design uses for ``rows``; no column for
        a fit without leverage."""
        if not self.leverage:
            return pd.DataFrame(index=rows.index)
        if maps is None:
            raise ConfigError(
                "maps must be given for a fit with leverage features "
                "(experiments.learning.training_set.leverage_inputs); found None"
            )
        return leverage_features(rows, maps, features)[list(self.leverage)]

    def uses_leverage_for(self, rows: pd.DataFrame) -> np.ndarray:
        """Rows answered by the leverage model (the others by the volatility-only companion)."""
        if not self.leverage:
            return np.zeros(len(rows), dtype=bool)
        if self.companion is None or self.config.leverage_families is None:
            return np.ones(len(rows), dtype=bool)
        way = rows["direction"].fillna("").to_numpy(str)
        family = family_codes(rows["kind"].to_numpy(str), way)
        allowed = [FAMILY_CODES[name] for name in self.config.leverage_families]
        return np.asarray(np.isin(family, allowed))

    def _raw(
        self, rows: pd.DataFrame, features: pd.DataFrame, maps: SnapshotMaps | None
    ) -> tuple[np.ndarray, ...]:
        design = contract_design(rows)
        X = design_matrix(
            pd.concat([rows[["asset", "t"]], design], axis=1),
            features,
            self.features,
            self.leverage_of(rows, features, maps),
        )
        values = X.to_numpy(np.float64)
        if "_pin_name" in rows:
            _apply_pins(values, list(X.columns), rows)
        p_lgbm = self.lightgbm.predict_proba(values)[:, 1]
        p_log = self.logistic.predict_proba(values)[:, 1] if self.logistic is not None else p_lgbm
        gbm = design["prob_gbm"].to_numpy(float)
        return p_lgbm, p_log, gbm

    def _families_answered(self) -> tuple[frozenset[str] | None, frozenset[str] | None]:
        """The event families this fit's own model answers (None: all) and those its companion
        answers (``_routed``)."""
        if self.companion is None or self.config.leverage_families is None:
            return None, frozenset()
        mine = frozenset(self.config.leverage_families)
        return mine, frozenset(FAMILIES) - mine

    def _node_shifts(
        self,
        rows: pd.DataFrame,
        features: pd.DataFrame,
        maps: SnapshotMaps | None,
        families: frozenset[str] | None = None,
    ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Learned logit shifts over ``gbm`` at the z-nodes of every group ``_g`` of ``rows``.

        Returns, per (kind, direction) class, the node ``z`` values and the shifts of the
        LightGBM and the logistic model, shape (groups, nodes); only the classes of
        ``families`` (None: every class), the ones ``_routed`` sends to this model: each
        node row is predicted on its own, so leaving a class out changes no other.
        """
        groups = rows.drop_duplicates("_g").sort_values("_g")
        groups = groups[groups["_g"] >= 0]
        n_groups = int(rows["_g"].max()) + 1 if len(groups) else 0
        zs = np.asarray(sorted(self.config.z_grid), dtype=float)
        classes = {
            ("close_above", ""): zs,
            ("close_below", ""): zs,
            ("touch", "up"): zs[zs > 0],
            ("touch", "down"): zs[zs < 0],
        }
        pieces, spans = [], {}
        start = 0
        for (kind, way), nodes in classes.items():
            if kind not in self.config.kinds:
                continue
            if families is not None and _NODE_FAMILY[kind] not in families:
                continue  # answered by the other model of the pair
            block = groups.loc[np.repeat(groups.index.to_numpy(), len(nodes))].copy()
            z = np.tile(nodes, len(groups))
            scale = block["vol_annual"].to_numpy(float) * np.sqrt(
                block["horizon_hours"].to_numpy(float) / HOURS_PER_YEAR
            )
            block["kind"] = kind
            block["direction"] = way
            block["monitoring"] = "continuous" if kind == "touch" else "terminal"
            block["strike_usd"] = block["spot_usd"].to_numpy(float) * np.exp(z * scale)
            for name in ("lower_usd", "upper_usd", "threshold"):
                block[name] = np.nan
            block["reference_usd"] = block["spot_usd"]
            pieces.append(block)
            spans[(kind, way)] = (start, start + len(block), nodes)
            start += len(block)
        if not pieces or start == 0:
            return {}
        nodes_frame = pd.concat(pieces, ignore_index=True)
        p_lgbm, p_log, gbm = self._raw(nodes_frame, features, maps)
        out = {}
        g = groups["_g"].to_numpy(int)
        for key, (lo, hi, nodes) in spans.items():
            shape = (len(groups), len(nodes))
            base = logit(gbm[lo:hi], eps=_SHIFT_EPS).reshape(shape)
            lg = np.full((n_groups, len(nodes)), np.nan)
            lo_ = np.full((n_groups, len(nodes)), np.nan)
            lg[g] = logit(p_lgbm[lo:hi], eps=_SHIFT_EPS).reshape(shape) - base
            lo_[g] = logit(p_log[lo:hi], eps=_SHIFT_EPS).reshape(shape) - base
            out[key] = (nodes, lg, lo_)
        return out

    def _routed(
        self,
        rows: pd.DataFrame,
        features: pd.DataFrame,
        maps: SnapshotMaps | None,
        shifts: _Shifts,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``_learned`` of the leverage model or of the companion, by event family."""
        if self.companion is None:
            return self._learned(rows, features, maps, shifts[0])
        mine = self.uses_leverage_for(rows)
        p_lgbm, p_log = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
        if mine.any():
            p_lgbm[mine], p_log[mine] = self._learned(rows[mine], features, maps, shifts[0])
        if (~mine).any():
            p_lgbm[~mine], p_log[~mine] = self.companion._learned(
                rows[~mine], features, None, shifts[1]
            )
        return p_lgbm, p_log

    def _learned(
        self,
        rows: pd.DataFrame,
        features: pd.DataFrame,
        maps: SnapshotMaps | None,
        shifts: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Learned probabilities: strike contracts from the interpolated node shifts (module
        docstring), other kinds from the model directly."""
        n = len(rows)
        kinds = rows["kind"].to_numpy(str)
        way = rows["direction"].fillna("").to_numpy(str)
        gbm = contract_design(rows)["prob_gbm"].to_numpy(float)
        p_lgbm, p_log = np.full(n, np.nan), np.full(n, np.nan)
        strike = np.isin(kinds, ("close_above", "close_below", "touch"))
        other = ~strike
        if other.any():
            sub = rows[other]
            p_lgbm[other], p_log[other], _ = self._raw(sub, features, maps)
        if strike.any():
            scale = rows["vol_annual"].to_numpy(float) * np.sqrt(
                rows["horizon_hours"].to_numpy(float) / HOURS_PER_YEAR
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.log(rows["strike_usd"].to_numpy(float) / rows["spot_usd"].to_numpy(float))
                z = z / scale
            g = rows["_g"].to_numpy(int)
            for (kind, direction), (nodes, lg, lo) in shifts.items():
                sel = strike & (kinds == kind) & (way == direction) & (g >= 0)
                if not sel.any() or not len(nodes):
                    continue
                for target, table in ((p_lgbm, lg), (p_log, lo)):
                    shift = _interpolate(nodes, table[g[sel]], z[sel])
                    target[sel] = shift_logit(gbm[sel], shift, eps=_SHIFT_EPS)
        low, high = np.fmin(gbm, _FLOOR), np.fmax(gbm, 1.0 - _FLOOR)
        return np.clip(p_lgbm, low, high), np.clip(p_log, low, high)

    def predict(
        self,
        contracts: pd.DataFrame,
        features: pd.DataFrame,
        maps: SnapshotMaps | None = None,
        *,
        rowwise: bool = False,
        pins: Sequence[tuple[str, float] | None] | None = None,
    ) -> pd.DataFrame:
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
            Feature-frame rows (``asset, ts`` + at least ``frame_features``) covering every
            (asset, t) of ``contracts``.
        maps
            The liquidation maps at every (asset, t) (``experiments.learning.training_set.
            leverage_inputs``); required when the fit uses leverage features.
        rowwise
            True: each row answered as if predicted alone, no rule across rows (``enforce_
            consistency`` of a single row only clips to [0, 1]): what batched pricing uses so
            that a contract priced with others gets its one-contract answer. False (default):
            the coherence rules of ``models.consistency`` across the rows given.
        pins
            One entry per row (None: no pin): ``(name, value)`` answers that row with design
            column ``name`` replaced by ``value`` wherever the fit reads it for the row (the row
            itself, its z-nodes, its terminal contracts, the companion when its design has the
            column), every other input as it is; a name outside a fit's design pins nothing
            there. Rows differing only by their pin are answered separately (what
            ``models.learned.drivers`` uses to price every input at its median in one call).

        Returns
        -------
        pandas.DataFrame
            Same index: ``prob_gbm, prob_learned, prob_learned_logistic, prob_default,
            in_domain``.

        Raises
        ------
        ConfigError
            A row with ``t < cut + purge`` (look-ahead), missing columns, no ``maps`` for a
            fit with leverage features, or ``pins`` not one entry per row.
        """
        if pins is not None and len(pins) != len(contracts):
            raise ConfigError(
                f"pins must hold one entry per contract row ({len(contracts)}); found {len(pins)}"
            )
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
        if pins is not None:
            rows["_pin_name"] = [pin[0] if pin is not None else "" for pin in pins]
            rows["_pin_value"] = [float(pin[1]) if pin is not None else 0.0 for pin in pins]
        missing = [n for n in self.frame_features if n not in features.columns]
        if missing:
            raise ConfigError(f"features must have the columns the fit uses; missing {missing}")
        if self.leverage and maps is None:
            raise ConfigError(
                "maps must be given for a fit with leverage features "
                "(experiments.learning.training_set.leverage_inputs); found None"
            )
        kinds = rows["kind"].to_numpy(str)
        domain = self._domain(rows)
        gbm = contract_design(rows)["prob_gbm"].to_numpy(float)
        keys = ["asset", "t", "horizon_hours", "spot_usd", "vol_annual"]
        keys += [name for name in _PIN_COLUMNS if name in rows]
        rows["_g"] = rows.groupby(keys, sort=False).ngroup()
        trained = np.isin(kinds, list(self.config.kinds)) & np.isfinite(gbm)
        needed = rows[trained | domain]
        mine, theirs = self._families_answered()
        if self.logistic is not None or (self.companion and self.companion.logistic is not None):
            # The logistic variant's products (BLAS) differ in the last bit with the layout of
            # the batch (86 of 10,080 rows in a test): node frames keep every class, the layout
            # under which a contract priced in a batch gets its answer alone, bit for bit.
            mine = theirs = None
        shifts: _Shifts = (
            self._node_shifts(needed, features, maps, mine),
            self.companion._node_shifts(needed, features, None, theirs) if self.companion else {},
        )
        learned = np.full(len(rows), np.nan)
        logistic = np.full(len(rows), np.nan)
        if trained.any():
            sub = rows[trained]
            learned[trained], logistic[trained] = self._routed(sub, features, maps, shifts)
        default = self._default(rows, features, maps, shifts, learned, domain, gbm)
        default = np.where(domain & np.isfinite(default), default, gbm)
        out = rows.assign(prob_default=default)
        if "end" in out and rowwise:
            out["prob_default"] = np.clip(out["prob_default"].to_numpy(float), 0.0, 1.0)
        elif "end" in out:
            out = enforce_consistency(out, prob="prob_default")
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

    def predict_proba(
        self,
        contracts: pd.DataFrame,
        features: pd.DataFrame | None = None,
        maps: SnapshotMaps | None = None,
        *,
        model: str = "default",
    ) -> np.ndarray:
        """scikit-learn style probabilities of contract rows: ``[P(no), P(event)]`` per row.

        Parameters
        ----------
        contracts
            Contract rows as for ``predict`` (``models.learned.contract_grid`` columns, spot and
            vol at ``t``). When ``features`` is None the rows also carry the frame feature
            columns the fit reads (``frame_features``), one value per (asset, t).
        features, maps
            As for ``predict`` (``experiments.api.model_inputs`` computes both from a dataset
            at each row's ``t``); ``maps`` is required by a fit with leverage features.
        model
            ``default`` (``prob_default``, the coherent answer), ``learned`` (the raw learned
            model of each row's kind), ``learned_logistic`` or ``gbm``.

        Returns
        -------
        numpy.ndarray
            Shape (n, 2), rows in the order of ``contracts``; column 1 is the probability of
            the event each contract names, column 0 its complement. Rows outside the learned
            domain carry the ``gbm`` probability (``predict``'s ``in_domain`` says which).

        Raises
        ------
        ConfigError
            An unknown ``model``, feature columns missing, or ``predict``'s refusals
            (look-ahead: ``t < cut + purge``).
        """
        columns = {
            "default": "prob_default",
            "learned": "prob_learned",
            "learned_logistic": "prob_learned_logistic",
            "gbm": "prob_gbm",
        }
        if model not in columns:
            raise ConfigError(f"model must be one of {sorted(columns)}; found {model!r}")
        if features is None:
            missing = [n for n in self.frame_features if n not in contracts.columns]
            if missing:
                raise ConfigError(
                    "contracts must carry the frame feature columns the fit reads when "
                    f"features is None; missing {missing}"
                )
            features = (
                contracts[["asset", "t", *self.frame_features]]
                .rename(columns={"t": "ts"})
                .drop_duplicates(["asset", "ts"])
            )
        if contracts.empty:
            return np.zeros((0, 2))
        prob = self.predict(contracts, features, maps)[columns[model]].to_numpy(np.float64)
        prob = np.clip(prob, 0.0, 1.0)
        return np.column_stack([1.0 - prob, prob])

    def _domain(self, rows: pd.DataFrame) -> np.ndarray:
        kinds = rows["kind"].to_numpy(str)
        hours = rows["horizon_hours"].to_numpy(float)
        mon = rows["monitoring"].fillna("").to_numpy(str)
        way = rows["direction"].fillna("").to_numpy(str)
        ok = np.isin(kinds, list(self.config.kinds)) & np.isfinite(hours)
        ok &= (hours <= self.config.domain_hours * (1 + 1e-9)) & (hours >= 0.25)
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
        maps: SnapshotMaps | None,
        shifts: _Shifts,
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
        c1 = self._close_above(rows, features, maps, shifts, k1, domain)
        c2 = self._close_above(rows, features, maps, shifts, k2, domain)
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
        self,
        rows: pd.DataFrame,
        features: pd.DataFrame,
        maps: SnapshotMaps | None,
        shifts: _Shifts,
        strike: np.ndarray,
        domain: np.ndarray,
    ) -> np.ndarray:
        need = domain & np.isfinite(strike) & (strike > 0)
        out = np.full(len(rows), np.nan)
        if not need.any():
            return out
        columns = ["asset", "t", "horizon_hours", "spot_usd", "vol_annual", "_g"]
        columns += [name for name in _PIN_COLUMNS if name in rows]
        query = rows.loc[need, columns].copy()
        query["kind"] = "close_above"
        query["strike_usd"] = strike[need]
        for name in ("lower_usd", "upper_usd", "threshold"):
            query[name] = np.nan
        query["direction"] = ""
        query["monitoring"] = "terminal"
        above = self._routed(query, features, maps, shifts)[0]
        below = self._routed(query.assign(kind="close_below"), features, maps, shifts)[0]
        # Symmetrised: the event and its complement predicted separately need not sum to 1.
        out[need] = (above + 1.0 - below) / 2.0
        return out


def _apply_pins(values: np.ndarray, columns: list[str], rows: pd.DataFrame) -> None:
    """Replace, in place, each row's pinned design column (``predict``'s ``pins``) by its
    value; names outside ``columns`` pin nothing."""
    names = rows["_pin_name"].to_numpy(str)
    pinned = rows["_pin_value"].to_numpy(np.float64)
    for name in np.unique(names):
        if name and name in columns:
            at = names == name
            values[at, columns.index(name)] = pinned[at]


def _interpolate(nodes: np.ndarray, table: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Row-wise linear interpolation of ``table`` (rows x nodes, at increasing ``nodes``) at
    ``z``, flat beyond the outer nodes (``np.interp`` for each row, vectorised)."""
    if len(nodes) == 1:
        return np.asarray(table[:, 0], dtype=float)
    j = np.clip(np.searchsorted(nodes, z, side="right") - 1, 0, len(nodes) - 2)
    lo, hi = nodes[j], nodes[j + 1]
    w = np.clip((z - lo) / (hi - lo), 0.0, 1.0)
    rows = np.arange(len(z))
    return np.asarray((1.0 - w) * table[rows, j] + w * table[rows, j + 1], dtype=float)


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
    companion: FittedForecaster | None = None,
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
    companion
        The volatility-only fit that answers the families outside
        ``config.leverage_families`` (``fit_forecaster(data.without_leverage(), ...)``).
    """
    from levercast.models.learned.estimators import (
        TimeCalibratedClassifier,
        lightgbm_classifier,
        logistic_classifier,
    )

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
    log_job: Beside[Any] | None = None
    if logistic:
        # the logistic variant on a second core while LightGBM fits on this one
        recent = slice(max(len(y) - LOGISTIC_MAX_ROWS, 0), None)
        log_common = {
            **common,
            "purge_rows": _purge_rows(
                data.frame["t"].iloc[recent], config.calibration_fraction, config.purge
            ),
        }
        log_model = TimeCalibratedClassifier(
            logistic_classifier(c=0.1, random_state=seed), **log_common
        )
        log_job = beside(log_model.fit, X[recent], y[recent])
    lgbm = TimeCalibratedClassifier(base, **common).fit(X, y)
    log_fitted = log_job.result() if log_job is not None else None
    return FittedForecaster(
        cut=cut,
        purge=config.purge,
        fingerprint=fingerprint,
        assets=tuple(assets),
        features=data.features,
        excluded=data.excluded,
        config=config,
        lightgbm=lgbm,
        logistic=log_fitted,
        liquidations=liquidations,
        n_rows=len(y),
        fit_seconds=time.perf_counter() - started,
        seed=seed,
        leverage=data.leverage,
        companion=companion,
    )
