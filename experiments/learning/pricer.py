"""The registered pricers ``learned`` and ``default`` (``levercast price --model default``).

Both price one contract at ``T`` through ``experiments.learning.fitting``: a fit usable at ``T``
(cached, or fitted now on data before ``T`` within the cold budget), the contract as a one-row
contract frame, and ``FittedForecaster.predict_frame``. ``default`` reports ``prob_default``
(coherent by construction: see ``experiments.learning.fitting``), ``learned`` the raw learned model
of
the contract's kind. Components: ``gbm``, ``learned``, ``learned_logistic``, ``default``.

``prob_lo``/``prob_hi``: the ``gbm`` vol band shifted by the learned correction in logit space
(``logit(prob) - logit(prob_gbm)``), widened to include the logistic variant.

Fallbacks (``model`` is then ``gbm``; the reason is in ``warnings``): a cold fit over budget
(``learned-model-timeout``), a failed fit (``learned-model-unavailable``), or a contract outside
the learned domain (``outside-learned-domain``).

``liquidations_above``: the liquidation-volume model on the remaining window (what was already
liquidated since ``start`` and known at ``T`` is subtracted from the threshold); the band spans
the model and the 90-day climatology of window sums of the same length and side.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.learning.fitting import FittedForecaster, fit_with_budget
from levercast.experiments.learning.liquidation_volume import (
    LIQ_FEATURES,
    LIQ_HORIZONS_HOURS,
    liquidation_sums,
)
from levercast.experiments.learning.training_set import features_for
from levercast.features.dataset.store import Store, StoreView
from levercast.features.errors import UnsupportedContract
from levercast.models.contracts import Contract, Kind
from levercast.models.pricing.gbm import price_gbm
from levercast.models.pricing.price import Forecast, PricingModel, PricingRequest, register_model

__all__ = ["price_default", "price_learned", "register_forecast_models"]

_EPS: Final = 1e-6


def register_forecast_models() -> None:
    """Register ``learned`` and ``default`` in ``models.pricing.price.MODELS`` (every kind)."""
    for name, target in (
        ("learned", "levercast.experiments.learning.pricer:price_learned"),
        ("default", "levercast.experiments.learning.pricer:price_default"),
    ):
        register_model(PricingModel(name, target, kinds=frozenset(Kind)))


def _store(view: StoreView) -> Store:
    return view.store  # the view's dataset: labels and the fit need the Store itself


def _logit(p: float) -> float:
    q = min(max(p, _EPS), 1 - _EPS)
    return math.log(q / (1 - q))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


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
        "learned_features_excluded": dict(fitted.excluded),
        "data_fingerprint": fitted.fingerprint,
    }


def _fallback(gbm: Forecast, reason: str) -> Forecast:
    return replace(gbm, model="gbm", warnings=(*gbm.warnings, reason))


def _price(request: PricingRequest, name: str) -> Forecast:
    contract = request.contract
    store = _store(request.view)
    at = pd.Timestamp(request.at)
    if contract.kind is Kind.LIQUIDATIONS_ABOVE:
        fitted, reason = fit_with_budget(store, assets=(contract.asset,), at=at)
        if fitted is None or fitted.liquidations is None:
            raise UnsupportedContract(
                f"liquidations_above needs the liquidation-volume model, unavailable at "
                f"{at.isoformat()}: {reason or 'not enough liquidation history before the cut'}"
            )
        return _price_liquidations(request, fitted, name)
    gbm = price_gbm(replace(request, model="gbm"))
    fitted, reason = fit_with_budget(store, assets=(contract.asset,), at=at)
    if fitted is None:
        return _fallback(gbm, f"{name} fell back to gbm: {reason}")
    vol = float(gbm.inputs["vol_annual"])
    row = _contract_row(contract, request, vol)
    pred = fitted.predict_frame(store, row).iloc[0]
    if not bool(pred["in_domain"]):
        return _fallback(
            gbm,
            f"outside-learned-domain: {name} fell back to gbm (the learned model covers windows "
            f"starting by T, horizons up to {max(fitted.config.horizons_hours):.0f} h, "
            "continuous touches, terminal or one-way moves)",
        )
    prob = float(pred["prob_default"] if name == "default" else pred["prob_learned"])
    shift = _logit(prob) - _logit(float(pred["prob_gbm"]))
    band = [_sigmoid(_logit(p) + shift) for p in (gbm.prob_lo, gbm.prob_hi)]
    logistic = float(pred["prob_learned_logistic"])
    components = {
        "gbm": gbm.prob,
        "learned": float(pred["prob_learned"]),
        "learned_logistic": logistic,
        "default": float(pred["prob_default"]),
    }
    return Forecast(
        contract=contract,
        at=request.at,
        prob=prob,
        prob_lo=min(prob, logistic, *band),
        prob_hi=max(prob, logistic, *band),
        model=name,
        components=components,
        inputs={**gbm.inputs, **_fit_inputs(fitted)},
        warnings=gbm.warnings,
    )


def _price_liquidations(request: PricingRequest, fitted: FittedForecaster, name: str) -> Forecast:
    contract, view = request.contract, request.view
    model = fitted.liquidations
    assert model is not None and contract.end is not None and contract.threshold is not None
    at = pd.Timestamp(request.at)
    start, end = pd.Timestamp(contract.start), pd.Timestamp(contract.end)
    side = contract.side or "total"
    so_far = 0.0
    if start < at and view.has("liquidations"):
        rows = view.table("liquidations", asset=contract.asset, interval="1h")
        inside = rows[rows["ts"] >= start]
        columns = ["long_usd", "short_usd"] if side == "total" else [f"{side}_usd"]
        so_far = float(inside[columns].to_numpy(float).sum())
    hours = (end - max(start, at)) / pd.Timedelta(hours=1)
    remaining = contract.threshold - so_far
    keys = pd.DataFrame({"asset": [contract.asset], "t": [at]})
    features = features_for(_store(view), keys, LIQ_FEATURES)
    quantiles = model.quantiles_usd(features, np.array([hours]), np.array([side]))[0]
    if remaining <= 0:
        prob = clim = 1.0
    else:
        prob = float(
            model.prob_above(features, np.array([hours]), np.array([side]), np.array([remaining]))[
                0
            ]
        )
        clim = _climatology(_store(view), contract.asset, at, hours, side, remaining)
    lo, hi = min(prob, clim), max(prob, clim)
    warnings = [w for w in request.state.warnings if "resolution source" not in w]
    if hours > max(LIQ_HORIZONS_HOURS):
        warnings.append(
            f"window of {hours:.0f} h is longer than the longest trained "
            f"({max(LIQ_HORIZONS_HOURS):.0f} h)"
        )
    return Forecast(
        contract=contract,
        at=request.at,
        prob=prob,
        prob_lo=lo,
        prob_hi=hi,
        model=name,
        components={"liquidation_quantiles": prob, "climatology_90d": clim},
        inputs={
            "liquidated_so_far_usd": so_far,
            "hours_left": hours,
            "median_usd": float(quantiles[len(quantiles) // 2]),
            "q05_usd": float(quantiles[1]),
            "q95_usd": float(quantiles[-2]),
            "liquidation_model_cut": model.cut.isoformat(),
            "liquidation_model_rows": model.n_rows,
        },
        warnings=tuple(warnings),
    )


def _climatology(
    store: Store, asset: str, at: pd.Timestamp, hours: float, side: str, thr: float
) -> float:
    """Share of windows of the same length ending by ``at`` in the last 90 days above ``thr``."""
    ends = pd.date_range(at - pd.Timedelta(days=90), at, freq="1h")
    starts = ends - pd.Timedelta(hours=hours)
    sums = liquidation_sums(store, asset, starts, ends, np.full(len(ends), side))
    sums = sums[np.isfinite(sums)]
    if sums.size == 0:
        return 0.5
    return float((sums > thr).mean())


def price_default(request: PricingRequest) -> Forecast:
    """Registered pricer ``default`` (module docstring)."""
    return _price(request, "default")


def price_learned(request: PricingRequest) -> Forecast:
    """Registered pricer ``learned`` (module docstring)."""
    return _price(request, "learned")
