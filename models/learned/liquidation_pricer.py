"""Pricing ``liquidations_above``: the liquidation-volume model, or the climatology fallback.

``price_liquidations(request, model, name=..., reason=...)`` answers "will ``side``
liquidations of ``asset`` (``ALL``: every asset with liquidation rows) exceed ``threshold`` USD
between ``start`` and ``end``?" at the view's ``T``:

- what was already liquidated since ``start`` and known at ``T`` is subtracted from the threshold
  (a threshold already passed gives 1);
- the model (``models.learned.liquidation_volume``) prices the remaining window from the leverage
  features at ``T`` (``features.liquidation_inputs.liquidation_features``);
- the band spans the model and the 90-day climatology: the share of windows of the same length
  and side, ending in the 90 days before ``T`` and fully known at ``T``, above the remaining
  threshold (``features.liquidation_windows``);
- windows longer than ``MODEL_MAX_HOURS`` (12 h) are answered by the climatology (the model's
  quantiles are still reported): in the walk-forward study the model beat the climatology on
  1-4 h windows and lost on 24-168 h ones;
- without a model (too little history before the cut, or none fitted) the climatology answers
  (``model = "climatology"``, named in ``warnings``); with no liquidation window known at ``T``
  at all the answer is 0.5 with the band [0, 1] and a warning. Never an exception for missing
  data: a question in the vocabulary always gets an answer with its provenance.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import StoreView
from levercast.features.liquidation_inputs import liquidation_features
from levercast.features.liquidation_windows import liquidation_buckets, window_sums
from levercast.models.learned.liquidation_volume import (
    LIQ_HORIZONS_HOURS,
    QUANTILES,
    LiquidationVolumeModel,
)
from levercast.models.pricing.price import Forecast, PricingRequest

__all__ = ["CLIMATOLOGY", "climatology", "price_liquidations"]

CLIMATOLOGY: Final = "climatology"
CLIMATOLOGY_DAYS: Final = 90
# Longer windows are answered by the climatology: the model lost to it there (24-168 h) in the
# walk-forward study of experiments/studies/learned_models/README.md (selection caveat there).
MODEL_MAX_HOURS: Final = 12.0


def climatology(
    view: StoreView, asset: str, hours: float, side: str, threshold_usd: float
) -> tuple[float | None, int]:
    """(share of known windows above the threshold, number of windows); (None, 0) without any.

    Windows of ``hours`` ending hourly in the ``CLIMATOLOGY_DAYS`` before ``view.t``, from the
    rows known at ``view.t`` only (a window not fully known at ``view.t`` is not counted).
    """
    at = view.t
    ends = pd.date_range(at - pd.Timedelta(days=CLIMATOLOGY_DAYS), at, freq="1h")
    starts = ends - pd.Timedelta(hours=hours)
    rows = view.table("liquidations") if view.has("liquidations") else pd.DataFrame()
    buckets = liquidation_buckets(rows, asset)
    sums = window_sums(buckets, starts, ends, np.full(len(ends), side))
    sums = sums[np.isfinite(sums)]
    if sums.size == 0:
        return None, 0
    return float((sums > threshold_usd).mean()), int(sums.size)


def _so_far(view: StoreView, asset: str, side: str, start: pd.Timestamp) -> float:
    if start >= view.t or not view.has("liquidations"):
        return 0.0
    buckets = liquidation_buckets(view.table("liquidations"), asset)
    inside = buckets[pd.DatetimeIndex(buckets["ts"]) >= start] if len(buckets) else buckets
    columns = ["long_usd", "short_usd"] if side == "total" else [f"{side}_usd"]
    return float(inside[columns].to_numpy(float).sum()) if len(inside) else 0.0


def price_liquidations(
    request: PricingRequest,
    model: LiquidationVolumeModel | None,
    *,
    name: str,
    reason: str | None = None,
) -> Forecast:
    """The ``liquidations_above`` forecast (module docstring); ``reason`` says why ``model`` is
    None when it is."""
    contract, view = request.contract, request.view
    assert contract.end is not None and contract.threshold is not None
    at = pd.Timestamp(request.at)
    start, end = pd.Timestamp(contract.start), pd.Timestamp(contract.end)
    side = contract.side or "total"
    so_far = _so_far(view, contract.asset, side, start)
    hours = (end - max(start, at)) / pd.Timedelta(hours=1)
    remaining = contract.threshold - so_far
    warnings = [w for w in request.state.warnings if "resolution source" not in w]
    inputs: dict[str, object] = {"liquidated_so_far_usd": so_far, "hours_left": hours}
    clim, n_windows = (
        (1.0, 0) if remaining <= 0 else climatology(view, contract.asset, hours, side, remaining)
    )
    inputs["climatology_windows"] = n_windows
    if model is None:
        why = reason or "no liquidation model"
        if clim is None:
            warnings.append(
                f"{name}: {why}; no {side} liquidation window of {hours:.0f} h of "
                f"{contract.asset} is known at T either: no information (0.5, band [0, 1])"
            )
            return _forecast(request, 0.5, 0.0, 1.0, CLIMATOLOGY, {}, inputs, warnings)
        warnings.append(
            f"{name} fell back to the {CLIMATOLOGY_DAYS}-day climatology ({n_windows} windows): "
            f"{why}"
        )
        comps = {"climatology_90d": clim}
        return _forecast(request, clim, clim, clim, CLIMATOLOGY, comps, inputs, warnings)
    features = liquidation_features(view, contract.asset, pd.DatetimeIndex([at]))
    quantiles = model.quantiles_usd(features, np.array([hours]), np.array([side]))[0]
    if remaining <= 0:
        prob = 1.0
    else:
        prob = float(
            model.prob_above(features, np.array([hours]), np.array([side]), np.array([remaining]))[
                0
            ]
        )
    if clim is None:
        warnings.append(f"no {side} liquidation window of {hours:.0f} h known at T: no band")
        clim = prob
    if hours > max(LIQ_HORIZONS_HOURS):
        warnings.append(
            f"window of {hours:.0f} h is longer than the longest trained "
            f"({max(LIQ_HORIZONS_HOURS):.0f} h)"
        )
    inputs.update(
        {
            "median_usd": float(quantiles[QUANTILES.index(0.5)]),
            "q05_usd": float(quantiles[QUANTILES.index(0.05)]),
            "q95_usd": float(quantiles[QUANTILES.index(0.95)]),
            "liquidation_model_cut": model.cut.isoformat(),
            "liquidation_model_rows": model.n_rows,
            "liquidation_model_assets": list(model.assets),
        }
    )
    comps = {"liquidation_quantiles": prob, "climatology_90d": clim}
    lo, hi = min(prob, clim), max(prob, clim)
    if hours > MODEL_MAX_HOURS and n_windows:
        warnings.append(
            f"a {hours:.0f} h window is answered by the {CLIMATOLOGY_DAYS}-day climatology: the "
            f"liquidation model beat it only on windows up to {MODEL_MAX_HOURS:.0f} h in the "
            "walk-forward study"
        )
        return _forecast(request, clim, lo, hi, CLIMATOLOGY, comps, inputs, warnings)
    return _forecast(request, prob, lo, hi, name, comps, inputs, warnings)


def _forecast(
    request: PricingRequest,
    prob: float,
    lo: float,
    hi: float,
    model: str,
    components: dict[str, float],
    inputs: dict[str, object],
    warnings: list[str],
) -> Forecast:
    return Forecast(
        contract=request.contract,
        at=request.at,
        prob=prob,
        prob_lo=lo,
        prob_hi=hi,
        model=model,
        components=components,
        inputs=inputs,
        warnings=tuple(warnings),
    )
