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

``prob_lo``/``prob_hi``: the ``gbm`` vol band shifted by the learned correction in logit space
(``logit(prob) - logit(prob_gbm)``), widened to include the logistic variant.

Fallbacks (``model`` is then ``gbm``; the reason is in ``warnings``): no fit (the reason given by
the fitting code, e.g. ``learned-model-timeout``), or a contract outside the learned domain
(``outside-learned-domain``).

``liquidations_above``: the liquidation-volume model on the remaining window (what was already
liquidated since ``start`` and known at ``T`` is subtracted from the threshold); the band spans
the model and the 90-day climatology of window sums of the same length and side, computed from
the liquidation rows known at ``T`` (``features.liquidation_windows``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError, UnsupportedContract
from levercast.features.frame.frame import compute_feature_frame
from levercast.features.liqmap.contract_maps import SnapshotMaps, snapshot_maps
from levercast.features.liquidation_windows import liquidation_buckets, window_sums
from levercast.models.contracts import Contract, Kind
from levercast.models.learned.forecaster import FittedForecaster
from levercast.models.learned.liquidation_volume import LIQ_FEATURES, LIQ_HORIZONS_HOURS
from levercast.models.pricing.gbm import price_gbm
from levercast.models.pricing.price import Forecast, PricingRequest
from levercast.models.probability import logit, shift_logit

__all__ = ["LEARNED_NAMES", "LearnedPricer"]

LEARNED_NAMES: Final = ("learned", "default", "default_vol")
_EPS: Final = 1e-6


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


def _features(
    request: PricingRequest, asset: str, names: tuple[str, ...] | list[str]
) -> pd.DataFrame:
    """Feature-frame rows of ``asset`` at the decision time, read through the view only."""
    frame = compute_feature_frame(request.view, asset, [request.view.t], names=list(names)).frame
    frame["asset"] = frame["asset"].astype(str)
    return frame


def _leverage_inputs(
    request: PricingRequest, fitted: FittedForecaster, asset: str
) -> tuple[pd.DataFrame, SnapshotMaps | None]:
    """Frame rows and (for a fit with leverage features) the map at the decision time."""
    features = _features(request, asset, fitted.frame_features)
    if not fitted.leverage:
        return features, None
    t = pd.DatetimeIndex([request.view.t]).tz_convert("UTC")
    return features, snapshot_maps(request.view, asset, t)


def _leverage_json(values: pd.DataFrame) -> dict[str, float | None]:
    if values.empty or not len(values.columns):
        return {}
    row = values.iloc[0]
    return {str(name): (float(row[name]) if np.isfinite(row[name]) else None) for name in values}


def _price(
    request: PricingRequest, name: str, fitted: FittedForecaster | None, reason: str | None
) -> Forecast:
    contract = request.contract
    at = pd.Timestamp(request.at)
    if contract.kind is Kind.LIQUIDATIONS_ABOVE:
        if fitted is None or fitted.liquidations is None:
            raise UnsupportedContract(
                f"liquidations_above needs the liquidation-volume model, unavailable at "
                f"{at.isoformat()}: {reason or 'not enough liquidation history before the cut'}"
            )
        return _price_liquidations(request, fitted, name)
    gbm = price_gbm(replace(request, model="gbm"))
    if fitted is None:
        return _fallback(gbm, f"{name} fell back to gbm: {reason}")
    vol = float(gbm.inputs["vol_annual"])
    row = _contract_row(contract, request, vol)
    features, maps = _leverage_inputs(request, fitted, contract.asset)
    pred = fitted.predict(row, features, maps).iloc[0]
    if not bool(pred["in_domain"]):
        return _fallback(
            gbm,
            f"outside-learned-domain: {name} fell back to gbm (the learned model covers windows "
            f"starting by T, horizons up to {max(fitted.config.horizons_hours):.0f} h, "
            "continuous touches, terminal or one-way moves)",
        )
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
    return Forecast(
        contract=contract,
        at=request.at,
        prob=prob,
        prob_lo=min(prob, logistic, *band),
        prob_hi=max(prob, logistic, *band),
        model=name,
        components=components,
        inputs={
            **gbm.inputs,
            **_fit_inputs(fitted),
            "leverage": _leverage_json(fitted.leverage_of(row, features, maps)),
        },
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
    features = _features(request, contract.asset, LIQ_FEATURES)
    quantiles = model.quantiles_usd(features, np.array([hours]), np.array([side]))[0]
    if remaining <= 0:
        prob = clim = 1.0
    else:
        prob = float(
            model.prob_above(features, np.array([hours]), np.array([side]), np.array([remaining]))[
                0
            ]
        )
        clim = _climatology(view, contract.asset, hours, side, remaining)
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


def _climatology(view: StoreView, asset: str, hours: float, side: str, thr: float) -> float:
    """Share of windows of the same length ending in the 90 days before ``view.t`` whose
    liquidations exceed ``thr``, from the rows known at ``view.t`` only (a window that is not
    fully known at ``view.t`` is not counted)."""
    at = view.t
    ends = pd.date_range(at - pd.Timedelta(days=90), at, freq="1h")
    starts = ends - pd.Timedelta(hours=hours)
    rows = view.table("liquidations") if view.has("liquidations") else pd.DataFrame()
    buckets = liquidation_buckets(rows, asset)
    sums = window_sums(buckets, starts, ends, np.full(len(ends), side))
    sums = sums[np.isfinite(sums)]
    if sums.size == 0:
        return 0.5
    return float((sums > thr).mean())


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
    """

    name: str
    fitted: FittedForecaster | None
    unavailable: str | None = None

    def __post_init__(self) -> None:
        if self.name not in LEARNED_NAMES:
            raise ConfigError(f"name must be one of {LEARNED_NAMES}; found {self.name!r}")
        if self.fitted is None and not self.unavailable:
            raise ConfigError("unavailable must say why when fitted is None; found no reason")

    def refusal(self, kind: Kind) -> str | None:
        """Every kind is accepted (gbm answers outside the learned domain)."""
        return None

    def price(self, request: PricingRequest) -> Forecast:
        """Price ``request.contract`` at ``request.view.t`` (reads the view only)."""
        if self.fitted is not None and not self.fitted.usable_at(pd.Timestamp(request.at)):
            raise ConfigError(
                f"the fit (cut {self.fitted.cut.isoformat()}, purge {self.fitted.purge}) is not "
                f"usable at {pd.Timestamp(request.at).isoformat()}: its labels resolve later"
            )
        return _price(request, self.name, self.fitted, self.unavailable)
