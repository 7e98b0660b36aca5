"""The ``gbm`` baseline: closed forms with log-drift 0 and an EWMA volatility.

``gbm_probabilities`` is the vectorised batch API (arrays of contracts whose window starts at
the spot time) used by the pricer, the learned models and the backtests; ``price_gbm`` is the
registered pricing function (``gbm``, ``gbm-har``, ``gbm-iv``); ``gbm_vol_at`` gives the
baseline volatility of an asset at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from levercast.features._typing import FloatArray, ProbArray
from levercast.features.dataset.store import StoreView
from levercast.features.errors import ConfigError, UnsupportedContract
from levercast.features.timeutil import HOURS_PER_YEAR, SECONDS_PER_YEAR, parse_duration
from levercast.models.contracts import Contract, Kind, Monitoring
from levercast.models.pricing import closed_form as cf
from levercast.models.pricing.price import Forecast, PricingRequest
from levercast.models.pricing.volatility import VolEstimate, VolMethod, estimate_vol

__all__ = ["contract_arrays", "contract_prob", "gbm_probabilities", "gbm_vol_at", "price_gbm"]

BAND_Z: Final = 1.645  # prob_lo/prob_hi: the 90 % band of the vol estimate
_VOL_METHOD: Final[dict[str, VolMethod]] = {"gbm": "ewma", "gbm-har": "har", "gbm-iv": "implied"}
_KNOWN: Final = frozenset(k.value for k in Kind) - {Kind.LIQUIDATIONS_ABOVE.value}
_QUAD_Z: Final = np.linspace(-8.0, 8.0, 1601)  # forward-start grid (trapezoid, kink error ~1e-5)


def _arr(value: npt.ArrayLike | None, n: int, fill: Any = np.nan, dtype: Any = float) -> Any:
    """A column of length ``n``, or a 0-d array for a scalar (broadcast later, never sliced)."""
    arr = np.asarray(fill if value is None else value, dtype=dtype)
    if arr.ndim == 0:
        return arr
    return np.broadcast_to(arr, (n,))


def _shift(level: FloatArray, up: Any, vol: FloatArray, dt: FloatArray, discrete: Any) -> Any:
    if not np.any(discrete):
        return level
    if np.any(discrete & ~(dt > 0)):
        raise ConfigError("discrete_dt_years must be positive where monitoring is discrete")
    shifted = cf.bgk_shift(level, vol, np.where(discrete, dt, 0.0), up=up)
    return np.where(discrete, shifted, level)


def gbm_probabilities(
    kinds: npt.ArrayLike,
    spot_usd: npt.ArrayLike,
    vol_annual: npt.ArrayLike,
    t_years: npt.ArrayLike,
    *,
    strike_usd: npt.ArrayLike | None = None,
    lower_usd: npt.ArrayLike | None = None,
    upper_usd: npt.ArrayLike | None = None,
    threshold: npt.ArrayLike | None = None,
    reference_usd: npt.ArrayLike | None = None,
    direction: npt.ArrayLike | None = None,
    monitoring: npt.ArrayLike | None = None,
    discrete_dt_years: npt.ArrayLike | None = None,
    log_drift: npt.ArrayLike = 0.0,
    neither_value: npt.ArrayLike = 0.5,
) -> ProbArray:
    """GBM probability of each contract's event, vectorised over arrays of contracts.

    Every argument broadcasts to the length of ``spot_usd`` (1-d). Windows start at the spot
    time and last ``t_years`` (``inf`` allowed for first_of).

    Parameters
    ----------
    kinds
        ``Kind`` values per contract (``touch``, ``close_above``, ``close_below``, ``range``,
        ``up_down``, ``first_of``, ``move``).
    spot_usd, vol_annual, t_years
        Current price, annualised vol, remaining window in years.
    strike_usd
        touch / close_above / close_below.
    lower_usd, upper_usd
        range (``lower <= S_T < upper``) and first_of barriers.
    threshold
        move size as a fraction.
    reference_usd
        Start price for up_down and move (default: spot, i.e. the window starts now).
    direction
        ``"up"``, ``"down"`` or ``""``: touch (``""`` = up when strike > reference) and move
        (``""`` = either way).
    monitoring
        ``"terminal"``, ``"continuous"``, ``"discrete"`` or ``""`` (kind default: continuous
        for touch/first_of, terminal for move).
    discrete_dt_years
        Observation interval where monitoring is discrete (BGK barrier shift).
    log_drift
        ``nu`` per year; the ``gbm`` baseline uses 0.
    neither_value
        first_of: what YES receives when no barrier is hit by the end.

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1]; NaN where a needed field is NaN.

    Raises
    ------
    ConfigError
        Unknown kind, or a non-positive observation interval under discrete monitoring.
    UnsupportedContract
        A ``liquidations_above`` row.
    """
    spot = np.atleast_1d(np.asarray(spot_usd, dtype=np.float64))
    n = spot.size
    kind_arr = np.asarray(kinds).astype(str)
    masks: dict[str, npt.NDArray[np.bool_] | None]
    if kind_arr.ndim == 0:  # one kind for every row: no grouping
        masks = {str(kind_arr): None} if str(kind_arr) in _KNOWN else {}
        known = bool(masks)
    else:
        kind = np.broadcast_to(kind_arr, (n,))
        masks = {name: kind == name for name in sorted(_KNOWN)}
        known = sum(int(m.sum()) for m in masks.values() if m is not None) == n
    if not known:
        unknown = sorted(set(np.unique(kind_arr)) - _KNOWN)
        if Kind.LIQUIDATIONS_ABOVE.value in unknown:
            raise UnsupportedContract("liquidations_above needs the liquidation-volume model")
        raise ConfigError(f"kinds must be among {sorted(_KNOWN)}; found {unknown}")
    cols = {
        "spot": spot,
        "vol": _arr(vol_annual, n),
        "t": _arr(t_years, n),
        "nu": _arr(log_drift, n),
        "nv": _arr(neither_value, n),
        "strike": _arr(strike_usd, n),
        "lo": _arr(lower_usd, n),
        "hi": _arr(upper_usd, n),
        "th": _arr(threshold, n),
        "ref": spot if reference_usd is None else _arr(reference_usd, n),
        "way": _arr(direction, n, "", dtype=str),
        "mon": _arr(monitoring, n, "", dtype=str),
        "dt": _arr(discrete_dt_years, n),
    }
    out = np.full(n, np.nan)
    for name, mask in masks.items():
        if mask is None:
            out[:] = np.broadcast_to(_kind_probabilities(name, cols), (n,))
        elif mask.any():
            idx = np.flatnonzero(mask)
            out[idx] = np.broadcast_to(_kind_probabilities(name, _Rows(cols, idx)), idx.shape)
    return np.clip(out, 0.0, 1.0, out=out)


class _Rows(dict[str, Any]):
    """The columns at ``idx``, each taken when a kind first reads it (a kind reads few)."""

    def __init__(self, cols: dict[str, Any], idx: npt.NDArray[np.intp]) -> None:
        super().__init__()
        self.cols, self.idx = cols, idx

    def __missing__(self, key: str) -> Any:
        value = self.cols[key]
        self[key] = value[self.idx] if value.ndim else value
        return self[key]


def _kind_probabilities(name: str, c: dict[str, Any]) -> FloatArray:
    """Probabilities of contracts of one kind (``c``: the columns of those rows)."""
    spot, vol, t, nu = c["spot"], c["vol"], c["t"], c["nu"]
    default = "continuous" if name in ("touch", "first_of") else "terminal"
    mon = np.where(c["mon"] == "", default, c["mon"])
    discrete = mon == "discrete"
    if name == "close_above":
        return cf.prob_close_above(spot, c["strike"], vol, t, log_drift=nu)
    if name == "close_below":
        return cf.prob_close_below(spot, c["strike"], vol, t, log_drift=nu)
    if name == "range":
        return cf.prob_range(spot, c["lo"], c["hi"], vol, t, log_drift=nu)
    if name == "up_down":
        return cf.prob_close_above(spot, c["ref"], vol, t, log_drift=nu)
    if name == "touch":
        way = c["way"]
        up = np.where(way == "", c["strike"] > c["ref"], way == "up")
        level = _shift(c["strike"], up, vol, c["dt"], discrete)
        return cf.prob_touch(spot, level, vol, t, up=up, log_drift=nu)
    if name == "first_of":
        low = _shift(c["lo"], False, vol, c["dt"], discrete)
        high = _shift(c["hi"], True, vol, c["dt"], discrete)
        p_up, p_down = cf.prob_double_barrier(spot, low, high, vol, t, log_drift=nu)
        return np.asarray(p_up + c["nv"] * np.clip(1.0 - p_up - p_down, 0.0, 1.0))
    return _move(c, mon, discrete)


def _move(c: dict[str, Any], mon: Any, discrete: Any) -> FloatArray:
    spot, ref, th, way, vol, t, nu = (c[k] for k in ("spot", "ref", "th", "way", "vol", "t", "nu"))
    ratio = spot / ref
    path = mon != "terminal"
    if not np.any(path):
        return cf.prob_move_terminal(th, vol, t, ratio=ratio, direction=way, log_drift=nu)
    up_level = _shift(ref * (1 + th), True, vol, c["dt"], discrete)
    has_low = th < 1
    low_level = _shift(np.where(has_low, ref * (1 - th), ref * 1e-9), False, vol, c["dt"], discrete)
    shape = np.broadcast_shapes(*(np.shape(v) for v in (ratio, th, vol, t, path, way, up_level)))
    if np.ndim(nu) or not shape:
        terminal = cf.prob_move_terminal(th, vol, t, ratio=ratio, direction=way, log_drift=nu)
        up_touch = cf.prob_touch(spot, up_level, vol, t, up=True, log_drift=nu)
        down_touch = np.where(
            has_low, cf.prob_touch(spot, low_level, vol, t, up=False, log_drift=nu), 0.0
        )
        p_up, p_down = cf.prob_double_barrier(spot, low_level, up_level, vol, t, log_drift=nu)
        either = p_up + p_down
        excursion = np.where(way == "up", up_touch, np.where(way == "down", down_touch, either))
        return np.asarray(np.where(path, excursion, terminal))
    # One drift for all rows: every closed form is then elementwise, so each row is computed
    # with the one formula it needs (terminal, up touch, down touch or corridor exit) on its
    # rows only, with the numbers of the full arrays. The rules of the terminal formula are
    # checked on every row as before.
    for name, values in (("threshold", th), ("ratio", ratio)):
        bad = np.asarray(values) <= 0
        if np.any(bad):
            raise ConfigError(f"{name} must be positive; found {float(values[bad].flat[0])}")
    cols = [
        np.broadcast_to(v, shape)
        for v in (spot, up_level, low_level, vol, t, has_low, th, ratio, way)
    ]
    path, way_all = np.broadcast_to(path, shape), cols[-1]
    out = np.empty(shape)
    groups = {
        "terminal": ~path,
        "up": path & (way_all == "up"),
        "down": path & (way_all == "down"),
        "either": path & (way_all != "up") & (way_all != "down"),
    }
    for rows, sel in groups.items():
        if not sel.any():
            continue
        idx = np.flatnonzero(sel)
        s_, hi_, lo_, vol_, t_, low_ok, th_, r_, way_ = (col[idx] for col in cols)
        if rows == "terminal":
            value = cf.prob_move_terminal(th_, vol_, t_, ratio=r_, direction=way_, log_drift=nu)
        elif rows == "up":
            value = cf.prob_touch(s_, hi_, vol_, t_, up=True, log_drift=nu)
        elif rows == "down":
            down = cf.prob_touch(s_, lo_, vol_, t_, up=False, log_drift=nu)
            value = np.where(low_ok, down, 0.0)
        else:
            p_up, p_down = cf.prob_double_barrier(s_, lo_, hi_, vol_, t_, log_drift=nu)
            value = p_up + p_down
        out[idx] = value
    return out


def gbm_vol_at(view: StoreView, asset: str) -> tuple[float, str]:
    """The baseline volatility of ``asset`` at ``view.t``: (annualised EWMA vol, source venue)."""
    estimate = estimate_vol(view, asset, method="ewma")
    return estimate.vol_annual, estimate.source


# -- the registered pricer ------------------------------------------------------------------
def _years(seconds: float) -> float:
    return max(seconds, 0.0) / SECONDS_PER_YEAR


def contract_arrays(contract: Contract, spot_usd: float, reference_usd: float) -> dict[str, Any]:
    """Keyword arguments of :func:`gbm_probabilities` for one contract (window starting now)."""
    dt = np.nan
    if contract.monitoring_rule is Monitoring.DISCRETE:
        every = contract.resolution.discrete_every or "1d"
        dt = _years(parse_duration(every, name="resolution.discrete_every").total_seconds())
    return {
        "kinds": contract.kind.value,
        "strike_usd": contract.strike_usd,
        "lower_usd": contract.lower_usd,
        "upper_usd": contract.upper_usd,
        "threshold": contract.threshold,
        "reference_usd": reference_usd,
        "direction": contract.direction or "",
        "monitoring": contract.monitoring_rule.value,
        "discrete_dt_years": dt,
        "neither_value": contract.neither_value,
        "spot_usd": np.array([spot_usd]),
    }


def _horizons(contract: Contract, at: datetime) -> tuple[float, float]:
    """(years until the window starts, years of window left after that; inf when open)."""
    pre = _years((contract.start - at).total_seconds())
    if contract.end is None:
        return pre, float("inf")
    return pre, _years((contract.end - max(contract.start, at)).total_seconds())


def contract_prob(contract: Contract, request: PricingRequest, vol: float, **over: Any) -> float:
    """GBM probability of ``contract`` at ``request.at`` with volatility ``vol``.

    Handles a window that began earlier (start price from ``request.state``), one that starts
    later (touch and first_of: averaged over the lognormal price at the start on a fixed grid),
    and a trailing-average fixing (variance ``sigma^2 (T - 2 tau / 3)``). ``over`` replaces
    entries of the :func:`gbm_probabilities` arguments (used for components).
    """
    state, at = request.state, request.at
    pre, window = _horizons(contract, at)
    kwargs = contract_arrays(contract, state.spot_usd, state.start_price_usd or state.spot_usd)
    kwargs.update(over)
    kind = kwargs["kinds"]
    if kind in ("close_above", "close_below", "range"):
        t = pre + window
        avg = contract.resolution.average_secs
        if contract.resolution.price == "average" and avg:
            t = max(t - _years(2.0 * avg / 3.0), 0.0)  # variance of a trailing average
        return float(gbm_probabilities(vol_annual=vol, t_years=t, **kwargs)[0])
    if pre <= 0 or kind in ("up_down", "move"):
        return float(gbm_probabilities(vol_annual=vol, t_years=window, **kwargs)[0])
    # Forward start: average over the price at the window start (lognormal, zero log-drift).
    grid = state.spot_usd * np.exp(vol * np.sqrt(pre) * _QUAD_Z)
    kwargs.update(spot_usd=grid, reference_usd=grid)
    values = gbm_probabilities(vol_annual=vol, t_years=window, **kwargs)
    density = np.exp(-0.5 * _QUAD_Z**2) / np.sqrt(2 * np.pi)
    return float(np.clip(np.trapezoid(values * density, _QUAD_Z), 0.0, 1.0))


def contract_probs(
    contract: Contract, request: PricingRequest, vols: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """:func:`contract_prob` at several volatilities in one vectorised call (forward-start
    touch/first_of windows fall back to one call per volatility)."""
    state, at = request.state, request.at
    pre, window = _horizons(contract, at)
    kwargs = contract_arrays(contract, state.spot_usd, state.start_price_usd or state.spot_usd)
    kind = kwargs["kinds"]
    n = len(vols)
    for name in ("spot_usd", "reference_usd"):
        if kwargs.get(name) is not None:
            kwargs[name] = np.full(n, float(np.ravel(kwargs[name])[0]))
    if kind in ("close_above", "close_below", "range"):
        t = pre + window
        avg = contract.resolution.average_secs
        if contract.resolution.price == "average" and avg:
            t = max(t - _years(2.0 * avg / 3.0), 0.0)
        return gbm_probabilities(vol_annual=vols, t_years=t, **kwargs)
    if pre <= 0 or kind in ("up_down", "move"):
        return gbm_probabilities(vol_annual=vols, t_years=window, **kwargs)
    return np.array([contract_prob(contract, request, float(v)) for v in vols])


def _components(contract: Contract, request: PricingRequest, vol: float) -> dict[str, float]:
    kind = contract.kind
    if kind is Kind.FIRST_OF:
        upper = contract_prob(contract, request, vol, neither_value=0.0)
        not_lower = contract_prob(contract, request, vol, neither_value=1.0)
        return {"upper_first": upper, "lower_first": 1 - not_lower, "neither": not_lower - upper}
    if kind is Kind.TOUCH and contract.monitoring_rule is not Monitoring.TERMINAL:
        beyond = "close_above" if contract.direction == "up" else "close_below"
        return {"close_beyond": contract_prob(contract, request, vol, kinds=beyond)}
    if kind is Kind.MOVE and not contract.direction:
        return {way: contract_prob(contract, request, vol, direction=way) for way in ("up", "down")}
    return {}


def price_gbm(request: PricingRequest) -> Forecast:
    """Registered pricer of ``gbm`` / ``gbm-har`` / ``gbm-iv``: closed forms at log-drift 0.

    ``prob_lo``/``prob_hi`` are the lowest and highest probabilities over the vol estimate's
    90 % band ``vol (1 -/+ 1.645 rel_stderr)``.
    """
    contract, state = request.contract, request.state
    if contract.kind is Kind.LIQUIDATIONS_ABOVE:
        raise UnsupportedContract("liquidations_above needs the liquidation-volume model")
    horizon_hours = contract.horizon_hours or 24 * 30.0
    method = _VOL_METHOD.get(request.model, "ewma")
    estimate = estimate_vol(
        request.view,
        contract.asset,
        method=method,
        horizon_hours=horizon_hours,
        preferred=contract.resolution.source,
    )
    vol = estimate.vol_annual
    rel = BAND_Z * estimate.rel_stderr
    probs = contract_probs(contract, request, np.array([vol, vol * (1 - rel), vol * (1 + rel)]))
    prob = float(probs[0])
    band = [float(probs[1]), float(probs[2])]
    components = {"gbm": prob, **_components(contract, request, vol)}
    warnings = list(dict.fromkeys((*state.warnings, *estimate.warnings)))
    if contract.monitoring_rule is Monitoring.DISCRETE and not contract.resolution.discrete_every:
        warnings.append("discrete monitoring without resolution.discrete_every: assumed 1d")
    return Forecast(
        contract=contract,
        at=request.at,
        prob=prob,
        prob_lo=min(prob, *band),
        prob_hi=max(prob, *band),
        model=request.model,
        components=components,
        inputs={**state.inputs(), **_vol_inputs(estimate, contract, request.at)},
        warnings=tuple(warnings),
    )


def _vol_inputs(estimate: VolEstimate, contract: Contract, at: datetime) -> dict[str, Any]:
    pre, window = _horizons(contract, at)
    return {
        "vol_annual": estimate.vol_annual,
        "vol_method": estimate.method,
        "vol_source": estimate.source,
        "vol_rel_stderr": estimate.rel_stderr,
        "log_drift": 0.0,
        "hours_to_start": pre * HOURS_PER_YEAR,
        "hours_to_end": (pre + window) * HOURS_PER_YEAR if np.isfinite(window) else None,
        "monitoring": contract.monitoring_rule.value,
    }
