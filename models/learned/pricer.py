"""The ``learned``, ``default`` and ``default_vol`` pricers: a fitted forecaster answering at T.

``LearnedPricer(name, fitted)`` prices one contract from the view it is given: spot and the
``gbm`` answer from ``models.pricing.gbm``, the contract as a one-row contract frame, its
point-in-time features computed from the view (never the store): the frame features and, for a
fit with leverage features, the liquidation map at T (``features.liqmap.contract_maps``), then
``FittedForecaster.predict``. It never fits and never logs: ``experiments.learning.fitting``
finds or makes a fit usable at ``T`` and builds the pricer. ``default`` and ``default_vol``
report ``prob_default`` of their fit (coherent by construction: see
``models.learned.forecaster``; ``default_vol`` is fitted on volatility features only),
``learned`` the raw learned model of the contract's kind. Components: ``gbm``, ``learned``,
``learned_logistic``, ``default``. ``inputs["leverage"]`` holds the contract-relative leverage
features the fit used, evaluated for this contract (name -> value or None; empty without them).

``price_many(requests)`` answers many contracts with one model call per (asset, decision time),
each answer the one ``price`` gives alone (``FittedForecaster.predict(rowwise=True)``); the
inputs of the last view per asset are kept, so contracts priced one by one through one view (a
scan) compute them once.

``prob_lo``/``prob_hi``: the ``gbm`` vol band shifted by the learned correction in logit space
(``logit(prob) - logit(prob_gbm)``), widened to include the logistic variant.

Fallbacks (``model`` is then ``gbm``; the reason is in ``warnings``): no fit (the reason given by
the fitting code, e.g. ``learned-model-timeout``), or a contract outside the learned domain
(``outside-learned-domain``).

``liquidations_above``: ``models.learned.liquidation_pricer`` (the liquidation-volume model on
the remaining window, banded by the 90-day climatology; the climatology with a named warning when
no model is available: never an error).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError
from levercast.features.frame.frame import compute_feature_frame
from levercast.features.liqmap.contract_maps import SnapshotMaps, snapshot_maps
from levercast.models.contracts import Contract, Kind
from levercast.models.learned.forecaster import FittedForecaster
from levercast.models.learned.liquidation_pricer import price_liquidations
from levercast.models.learned.liquidation_volume import (
    LIQ_HORIZONS_HOURS,
    LiquidationVolumeModel,
)
from levercast.models.pricing.gbm import price_gbm
from levercast.models.pricing.price import Forecast, PricingRequest
from levercast.models.probability import logit, shift_logit

__all__ = ["LEARNED_NAMES", "LearnedPricer", "learned_inputs"]

LEARNED_NAMES: Final = ("learned", "default", "default_vol")
_EPS: Final = 1e-6
LIQ_PURGE: Final = pd.Timedelta(hours=max(LIQ_HORIZONS_HOURS))


def _contract_row(contract: Contract, request: PricingRequest, vol: float) -> pd.DataFrame:
    at = pd.Timestamp(request.at)
    state = request.state
    end = pd.Timestamp(contract.end) if contract.end is not None else pd.NaT
    hours = (end - at) / pd.Timedelta(hours=1) if contract.end is not None else math.inf
    return pd.DataFrame(
        {
            "asset": [contract.asset],
            "t": pd.DatetimeIndex([at]).tz_convert("UTC"),
            "start": pd.DatetimeIndex([pd.Timestamp(contract.start)]).tz_convert("UTC"),
            "end": pd.DatetimeIndex([end]),
            "kind": [contract.kind.value],
            "horizon_hours": [hours],
            "strike_usd": [contract.strike_usd if contract.strike_usd is not None else np.nan],
            "lower_usd": [contract.lower_usd if contract.lower_usd is not None else np.nan],
            "upper_usd": [contract.upper_usd if contract.upper_usd is not None else np.nan],
            "threshold": [contract.threshold if contract.threshold is not None else np.nan],
            "direction": [contract.direction or ""],
            "monitoring": [contract.monitoring_rule.value],
            "spot_usd": [state.spot_usd],
            "vol_annual": [vol],
            "reference_usd": [state.start_price_usd or state.spot_usd],
        }
    )


def _fit_inputs(fitted: FittedForecaster) -> dict[str, Any]:
    return {
        "learned_cut": fitted.cut.isoformat(),
        "learned_purge_hours": fitted.purge / pd.Timedelta(hours=1),
        "learned_rows": fitted.n_rows,
        "learned_features": list(fitted.features),
        "learned_leverage_features": list(fitted.leverage),
        "learned_features_excluded": dict(fitted.excluded),
        "data_fingerprint": fitted.fingerprint,
    }


def _fallback(gbm: Forecast, reason: str) -> Forecast:
    return replace(gbm, model="gbm", warnings=(*gbm.warnings, reason))


def _features(view: StoreView, asset: str, names: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Feature-frame rows of ``asset`` at the view's time, read through the view only."""
    frame = compute_feature_frame(view, asset, [view.t], names=list(names)).frame
    frame["asset"] = frame["asset"].astype(str)
    return frame


_Inputs = tuple[pd.DataFrame, SnapshotMaps | None]


def learned_inputs(view: StoreView, fitted: FittedForecaster, asset: str) -> _Inputs:
    """The frame rows and (for a fit with leverage features) the map of ``asset`` at the view's
    time, as the learned pricer reads them; kept in the view's ``memo`` (same view: same time,
    same data), so every pricer and the drivers of an answer given that view share them."""
    key = ("learned-inputs", asset, tuple(fitted.frame_features), bool(fitted.leverage))
    cached: _Inputs | None = view.memo.get(key)
    if cached is None:
        features = _features(view, asset, fitted.frame_features)
        maps = None
        if fitted.leverage:
            maps = snapshot_maps(view, asset, pd.DatetimeIndex([view.t]).tz_convert("UTC"))
        cached = (features, maps)
        view.memo[key] = cached
    return cached


def _leverage_used(
    fitted: FittedForecaster,
    name: str,
    rows: pd.DataFrame,
    features: pd.DataFrame,
    maps: SnapshotMaps | None,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Which contract rows' answers depend on the leverage model, and their leverage features:
    ``learned`` for the families it answers; ``default`` also through ``c(K)`` (moves, up_down,
    touches), never for range and first_of (``gbm``)."""
    kinds = rows["kind"].to_numpy(str)
    own = np.asarray(fitted.uses_leverage_for(rows), dtype=bool)
    if name == "learned":
        used = own
    else:
        terminal = fitted.uses_leverage_for(rows.assign(kind="close_above", direction=""))
        used = ~np.isin(kinds, ("range", "first_of")) & (own | np.asarray(terminal, dtype=bool))
    if not used.any():
        return used, pd.DataFrame(index=rows.index)
    return used, fitted.leverage_of(rows[used], features, maps)


def _leverage_json(values: pd.DataFrame, index: object) -> dict[str, float | None]:
    if values.empty or not len(values.columns) or index not in values.index:
        return {}
    row = values.loc[index]
    return {str(name): (float(row[name]) if np.isfinite(row[name]) else None) for name in values}


def _price_batch(
    requests: Sequence[PricingRequest],
    name: str,
    fitted: FittedForecaster | None,
    reason: str | None,
) -> list[Forecast]:
    """The answers of requests of one asset at one decision time: the inputs (frame rows, map)
    computed once and one ``predict`` call, each row answered as if alone (``rowwise``).

    The inputs are kept in the view's ``memo`` (same view: same time, same data): requests
    priced one by one through a view (a scan's markets) and every pricer handed the same view
    (``Store.at`` returns the one view of a time; a write to the store drops it) compute them
    once. Two fits reading the same frame features share them.
    """
    gbms = [price_gbm(replace(request, model="gbm")) for request in requests]
    if fitted is None:
        return [_fallback(gbm, f"{name} fell back to gbm: {reason}") for gbm in gbms]
    first = requests[0]
    rows = pd.concat(
        [
            _contract_row(r.contract, r, float(gbm.inputs["vol_annual"]))
            for r, gbm in zip(requests, gbms, strict=True)
        ],
        ignore_index=True,
    )
    asset = first.contract.asset
    features, maps = learned_inputs(first.view, fitted, asset)
    preds = fitted.predict(rows, features, maps, rowwise=True)
    domain = preds["in_domain"].to_numpy(bool)
    inside = rows.index[domain]
    _, leverage = _leverage_used(fitted, name, rows.loc[inside], features, maps)
    out = []
    for i, (request, gbm) in enumerate(zip(requests, gbms, strict=True)):
        if not domain[i]:
            out.append(
                _fallback(
                    gbm,
                    f"outside-learned-domain: {name} fell back to gbm (the learned model covers "
                    f"windows starting by T, horizons up to "
                    f"{fitted.config.domain_hours:.0f} h, continuous touches, terminal "
                    "or one-way moves)",
                )
            )
            continue
        pred = preds.iloc[i]
        prob = float(pred["prob_learned"] if name == "learned" else pred["prob_default"])
        shift = logit(prob, eps=_EPS) - logit(float(pred["prob_gbm"]), eps=_EPS)
        band = [float(v) for v in shift_logit([gbm.prob_lo, gbm.prob_hi], shift, eps=_EPS)]
        logistic = float(pred["prob_learned_logistic"])
        components = {
            "gbm": gbm.prob,
            "learned": float(pred["prob_learned"]),
            "learned_logistic": logistic,
            "default": float(pred["prob_default"]),
        }
        out.append(
            Forecast(
                contract=request.contract,
                at=request.at,
                prob=prob,
                prob_lo=min(prob, logistic, *band),
                prob_hi=max(prob, logistic, *band),
                model=name,
                components=components,
                inputs={
                    **gbm.inputs,
                    **_fit_inputs(fitted),
                    "leverage": _leverage_json(leverage, rows.index[i]),
                },
                warnings=gbm.warnings,
            )
        )
    return out


@dataclass(frozen=True, slots=True, eq=False)
class LearnedPricer:
    """The ``learned`` / ``default`` pricer around a fit (module docstring).

    Attributes
    ----------
    name
        ``learned`` (the raw learned model of the contract's kind), ``default`` or
        ``default_vol`` (``prob_default`` of the fit given: with or without leverage).
    fitted
        A fit usable at the decision time, or None when none could be made.
    unavailable
        Why ``fitted`` is None (named in the ``gbm`` fallback's warnings).
    liquidations
        The liquidation-volume model for ``liquidations_above`` (default: ``fitted``'s); the
        90-day climatology answers, with a warning, when there is none.
    """

    name: str
    fitted: FittedForecaster | None
    unavailable: str | None = None
    liquidations: LiquidationVolumeModel | None = None

    def __post_init__(self) -> None:
        if self.name not in LEARNED_NAMES:
            raise ConfigError(f"name must be one of {LEARNED_NAMES}; found {self.name!r}")
        if self.fitted is None and not self.unavailable:
            raise ConfigError("unavailable must say why when fitted is None; found no reason")

    def refusal(self, kind: Kind) -> str | None:
        """Every kind is accepted (gbm answers outside the learned domain)."""
        return None

    def _check_usable(self, request: PricingRequest) -> None:
        if self.fitted is not None and not self.fitted.usable_at(pd.Timestamp(request.at)):
            raise ConfigError(
                f"the fit (cut {self.fitted.cut.isoformat()}, purge {self.fitted.purge}) is not "
                f"usable at {pd.Timestamp(request.at).isoformat()}: its labels resolve later"
            )

    def price(self, request: PricingRequest) -> Forecast:
        """Price ``request.contract`` at ``request.view.t`` (reads the view only)."""
        if request.contract.kind is not Kind.LIQUIDATIONS_ABOVE:
            self._check_usable(request)
        if request.contract.kind is Kind.LIQUIDATIONS_ABOVE:
            model = self.liquidations
            if model is None and self.fitted is not None:
                model = self.fitted.liquidations
            reason = self.unavailable or "not enough liquidation history before the cut"
            if model is not None and pd.Timestamp(request.at) < model.cut + LIQ_PURGE:
                reason = (
                    f"the liquidation model (cut {model.cut.isoformat()}) has labels resolving "
                    "after T"
                )
                model = None
            return price_liquidations(request, model, name=self.name, reason=reason)
        return _price_batch([request], self.name, self.fitted, self.unavailable)[0]

    def price_many(self, requests: Sequence[PricingRequest]) -> list[Forecast]:
        """``price(request)`` for each request, value for value, with one model call per
        (asset, decision time): the frame rows and the map are computed once per batch and the
        rows predicted together, each as if alone (``FittedForecaster.predict(rowwise=True)``).
        ``liquidations_above`` requests are answered one by one."""
        out: list[Forecast | None] = [None] * len(requests)
        batches: dict[tuple[str, pd.Timestamp], list[int]] = {}
        for i, request in enumerate(requests):
            if request.contract.kind is Kind.LIQUIDATIONS_ABOVE:
                out[i] = self.price(request)
                continue
            self._check_usable(request)
            key = (request.contract.asset, pd.Timestamp(request.view.t))
            batches.setdefault(key, []).append(i)
        for members in batches.values():
            answers = _price_batch(
                [requests[i] for i in members],
                self.name,
                self.fitted,
                self.unavailable,
            )
            for i, answer in zip(members, answers, strict=True):
                out[i] = answer
        return [answer for answer in out if answer is not None]
