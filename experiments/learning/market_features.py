"""Features of the market-aware forecast for rows of real markets: what the market and our model
say about one contract, and what the market's own ladder says around it.

A row is a contract at a decision time ``t`` with the market's YES probability known at ``t``
(``prob_market``, quoted at ``quote_ts``) and our model's (``prob_model``). ``market_features``
adds, per row (``models.learned.market_aware.market_aware_design`` reads them):

``horizon_hours``
    Hours from ``t`` to the contract's end (a year when it has none).
``quote_age_hours``
    ``t - quote_ts``.
``abs_moneyness``
    Distance of spot from the nearest barrier (strike, range bound, up/down reference) in
    standard deviations over the horizon: ``|log(K / S)| / (sigma sqrt(h))``; 0 when unknown.
``ladder_gap``
    The event's ladder (same asset, end, kind and direction; strikes ordered) interpolated at
    this strike from the nearest quoted strike on each side (linear in logit vs log strike), minus
    this row's market logit; 0 without a strike on both sides.
``ladder_disagreement``
    This row's model-minus-market logit less the mean of the same over the event's other
    contracts (same asset and end), both logits clipped at the market's 0.001 floor: the part of
    the model's disagreement that is this strike's own, not the whole ladder's (a whole ladder
    off the market says more about the model's volatility than about the market); 0 when alone.
``touch_close_gap``
    For a touch with a close-beyond sibling (same asset, end and strike; up: close above, down:
    close below): ``logit(min(2 p_close, 0.999)) - logit(p_touch)`` (the reflection principle:
    a touch is worth about twice its close-beyond); the mirror ``logit(p_touch / 2) - logit(p)``
    for the close. 0 without a sibling.

A neighbour's quote counts at ``t`` when it is its last one known at ``t`` and at most
``NEIGHBOUR_MAX_AGE`` old. Only rows of the frame are neighbours: the caller decides which
markets were listed at ``t`` (every row is one the market had quoted by then).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features.timeutil import SECONDS_PER_YEAR
from levercast.models.contracts import Contract, Kind
from levercast.models.learned.market_aware import MARKET_EPS
from levercast.models.probability import logit

__all__ = ["NEIGHBOUR_MAX_AGE", "contract_columns", "market_features"]

NEIGHBOUR_MAX_AGE: Final = pd.Timedelta(hours=26)  # a daily quote counts until the next one
_NO_END_HOURS: Final = 24.0 * 365


def contract_columns(contracts: list[Contract]) -> pd.DataFrame:
    """``kind, asset, direction, strike_usd, lower_usd, upper_usd, start, end`` per contract."""

    def num(value: float | None) -> float:
        return float("nan") if value is None else float(value)

    return pd.DataFrame(
        {
            "kind": [c.kind.value for c in contracts],
            "asset": [c.asset for c in contracts],
            "direction": [c.direction or "" for c in contracts],
            "strike_usd": [num(c.strike_usd) for c in contracts],
            "lower_usd": [num(c.lower_usd) for c in contracts],
            "upper_usd": [num(c.upper_usd) for c in contracts],
            "start": pd.to_datetime([c.start for c in contracts], utc=True),
            "end": pd.to_datetime([c.end if c.end else pd.NaT for c in contracts], utc=True),
        }
    )


def _moneyness(rows: pd.DataFrame) -> np.ndarray:
    spot = rows["spot_usd"].to_numpy(float)
    vol = rows["vol_annual"].to_numpy(float)
    years = np.maximum(rows["horizon_hours"].to_numpy(float), 1.0 / 60) * 3600 / SECONDS_PER_YEAR
    ref = rows["reference_usd"].to_numpy(float) if "reference_usd" in rows else spot
    kind = rows["kind"].to_numpy()
    barrier = rows["strike_usd"].to_numpy(float)
    lower, upper = rows["lower_usd"].to_numpy(float), rows["upper_usd"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        two = np.fmin(np.abs(np.log(lower / spot)), np.abs(np.log(upper / spot)))
        dist = np.where(np.isfinite(barrier), np.abs(np.log(barrier / spot)), two)
        dist = np.where(kind == Kind.UP_DOWN.value, np.abs(np.log(spot / ref)), dist)
        out = dist / (vol * np.sqrt(years))
    return np.where(np.isfinite(out), out, 0.0)


def _last_known(
    times: np.ndarray, values: np.ndarray, at: np.ndarray, max_age_ns: int
) -> np.ndarray:
    """The last value with time <= each ``at`` (NaN when none or older than ``max_age_ns``)."""
    i = np.searchsorted(times, at, side="right") - 1
    safe = np.clip(i, 0, None)
    ok = (i >= 0) & (at - times[safe] <= max_age_ns)
    return np.where(ok, values[safe], np.nan)


def _event_matrices(
    part: pd.DataFrame, z_market: np.ndarray, z_model: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Unique times of an event, its markets, and the last-known market/model logits and row
    positions (times x markets)."""
    times = np.unique(part["t_ns"].to_numpy())
    markets = list(dict.fromkeys(part["market_id"]))
    zm = np.full((len(times), len(markets)), np.nan)
    zf = np.full_like(zm, np.nan)
    age = int(NEIGHBOUR_MAX_AGE.value)
    for j, market in enumerate(markets):
        rows = np.flatnonzero(part["market_id"].to_numpy() == market)
        own_t = part["t_ns"].to_numpy()[rows]
        order = np.argsort(own_t, kind="stable")
        rows, own_t = rows[order], own_t[order]
        zm[:, j] = _last_known(own_t, z_market[rows], times, age)
        zf[:, j] = _last_known(own_t, z_model[rows], times, age)
    time_index = np.searchsorted(times, part["t_ns"].to_numpy())
    market_index = np.array([markets.index(m) for m in part["market_id"]])
    return times, markets, zm, zf, np.column_stack([time_index, market_index])


def _ladder_gap(
    info: pd.DataFrame, zm: np.ndarray, where: np.ndarray, own: np.ndarray
) -> np.ndarray:
    """Interpolated neighbour logit minus own logit, per row of the event."""
    out = np.zeros(len(where))
    keys = list(zip(info["kind"], info["direction"], strict=True))
    log_k = np.log(info["strike_usd"].to_numpy(float))
    for key in set(keys):
        rungs = [j for j, k in enumerate(keys) if k == key and np.isfinite(log_k[j])]
        if len(rungs) < 3:
            continue
        rungs.sort(key=lambda j: log_k[j])
        for pos, j in enumerate(rungs):
            rows = np.flatnonzero(where[:, 1] == j)
            if rows.size == 0:
                continue
            ti = where[rows, 0]
            lo_z, lo_k = _nearest(zm, log_k, rungs[:pos][::-1], ti)
            hi_z, hi_k = _nearest(zm, log_k, rungs[pos + 1 :], ti)
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = (log_k[j] - lo_k) / (hi_k - lo_k)
                interp = lo_z + frac * (hi_z - lo_z)
            gap = interp - own[rows]
            out[rows] = np.where(np.isfinite(gap), gap, 0.0)
    return out


def _nearest(
    zm: np.ndarray, log_k: np.ndarray, candidates: list[int], ti: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per time, the logit and log strike of the first candidate rung quoted then."""
    z = np.full(len(ti), np.nan)
    k = np.full(len(ti), np.nan)
    for j in candidates:
        take = np.isnan(z) & np.isfinite(zm[ti, j])
        z[take], k[take] = zm[ti[take], j], log_k[j]
        if not np.isnan(z).any():
            break
    return z, k


def _touch_close_gap(
    info: pd.DataFrame, zm: np.ndarray, where: np.ndarray, own: np.ndarray
) -> np.ndarray:
    out = np.zeros(len(where))
    kinds, dirs = info["kind"].to_numpy(), info["direction"].to_numpy()
    strikes = info["strike_usd"].to_numpy(float)
    pairs = {("up", Kind.CLOSE_ABOVE.value), ("down", Kind.CLOSE_BELOW.value)}
    for a in range(len(info)):
        if kinds[a] != Kind.TOUCH.value:
            continue
        for b in range(len(info)):
            if (dirs[a], kinds[b]) not in pairs or strikes[b] != strikes[a]:
                continue
            p_touch, p_close = _expit(zm[:, a]), _expit(zm[:, b])
            implied_touch = logit(np.minimum(2 * p_close, 0.999), eps=MARKET_EPS)
            implied_close = logit(p_touch / 2, eps=MARKET_EPS)
            for j, implied in ((a, implied_touch), (b, implied_close)):
                rows = np.flatnonzero(where[:, 1] == j)
                gap = implied[where[rows, 0]] - own[rows]
                out[rows] = np.where(np.isfinite(gap), gap, 0.0)
    return out


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _ladder(rows: pd.DataFrame, z_market: np.ndarray, z_model: np.ndarray) -> pd.DataFrame:
    n = len(rows)
    gap, disagreement, coherence = np.zeros(n), np.zeros(n), np.zeros(n)
    keys = (rows["asset"].astype(str) + "|" + rows["end"].astype(str)).to_numpy()
    for _, idx in rows.groupby(keys, sort=False).indices.items():
        part = rows.iloc[idx]
        if part["market_id"].nunique() < 2:
            continue
        _, markets, zm, zf, where = _event_matrices(part, z_market[idx], z_model[idx])
        info = part.drop_duplicates("market_id").set_index("market_id").loc[markets].reset_index()
        own = z_market[idx]
        diff = zf - zm
        total = np.nansum(diff, axis=1)
        count = np.sum(np.isfinite(diff), axis=1)
        ti, mi = where[:, 0], where[:, 1]
        own_diff = diff[ti, mi]
        others = count[ti] - np.isfinite(own_diff)
        mean = (total[ti] - np.nan_to_num(own_diff)) / np.maximum(others, 1)
        relative = np.nan_to_num(own_diff) - mean
        disagreement[idx] = np.where(others > 0, relative, 0.0)
        gap[idx] = _ladder_gap(info, zm, where, own)
        coherence[idx] = _touch_close_gap(info, zm, where, own)
    return pd.DataFrame(
        {"ladder_gap": gap, "ladder_disagreement": disagreement, "touch_close_gap": coherence},
        index=rows.index,
    )


def market_features(
    rows: pd.DataFrame, contracts: Mapping[str, Contract], prob_model: Any
) -> pd.DataFrame:
    """The features of the module docstring, one row per row of ``rows``.

    Parameters
    ----------
    rows
        ``market_id, t, quote_ts, prob_market`` and, when known, ``spot_usd, vol_annual,
        reference_usd``.
    contracts
        The parsed contract of each market id.
    prob_model
        Our model's probability per row.

    Returns
    -------
    pandas.DataFrame
        ``prob_market, prob_model, kind, horizon_hours, quote_age_hours, abs_moneyness,
        ladder_gap, ladder_disagreement, touch_close_gap`` (same index as ``rows``).
    """
    n = len(rows)
    p_model = np.clip(np.asarray(prob_model, dtype=float), 0.0, 1.0)
    if p_model.shape != (n,) or not np.isfinite(p_model).all():
        raise ValueError(f"prob_model must be {n} finite probabilities; found otherwise")
    frame = contract_columns([contracts[str(m)] for m in rows["market_id"]])
    frame.index = rows.index
    t = pd.DatetimeIndex(rows["t"])
    end_hours = (frame["end"] - t).dt.total_seconds().to_numpy() / 3600.0
    frame["horizon_hours"] = np.where(np.isfinite(end_hours), end_hours, _NO_END_HOURS)
    quote_ts = pd.DatetimeIndex(rows["quote_ts"]) if "quote_ts" in rows else t
    frame["quote_age_hours"] = np.maximum((t - quote_ts).total_seconds().to_numpy() / 3600, 0.0)
    for name in ("spot_usd", "vol_annual", "reference_usd"):
        frame[name] = rows[name].to_numpy(float) if name in rows else np.nan
    frame["abs_moneyness"] = _moneyness(frame)
    frame["market_id"] = rows["market_id"].astype(str).to_numpy()
    frame["t_ns"] = t.as_unit("ns").asi8
    z_market = logit(rows["prob_market"].to_numpy(float), eps=MARKET_EPS)
    ladder = _ladder(frame, z_market, logit(p_model, eps=MARKET_EPS))
    return pd.DataFrame(
        {
            "prob_market": rows["prob_market"].to_numpy(float),
            "prob_model": p_model,
            "kind": frame["kind"].to_numpy(),
            "horizon_hours": frame["horizon_hours"].to_numpy(),
            "quote_age_hours": frame["quote_age_hours"].to_numpy(),
            "abs_moneyness": frame["abs_moneyness"].to_numpy(),
            "ladder_gap": ladder["ladder_gap"].to_numpy(),
            "ladder_disagreement": ladder["ladder_disagreement"].to_numpy(),
            "touch_close_gap": ladder["touch_close_gap"].to_numpy(),
        },
        index=rows.index,
    )
