"""Training and backtest contracts generated from decision times (the learned-models grid).

Two steps, so that the backtests reuse them:

1. ``market_inputs(store, asset, times)`` reads, point in time, the spot and the ``gbm`` volatility
   at each decision time ``t``: the close of the last 1h bar with ``available_at <= t`` (at most
   2 h old) of the first venue among the resolution source (``binance-spot``) and the proxies of
   ``models.pricing.market_state`` that is fresh at ``t``; the vol is the EWMA of hourly squared
   log returns of
   consecutive bars closed by ``t`` (half-life ``HALF_LIFE_HOURS``, at least ``MIN_RETURNS``
   returns), annualised with ``HOURS_PER_YEAR``. The recursion runs once over the history
   (``lfilter``) and is read with ``searchsorted`` on ``available_at``; ``estimate_vol`` truncates
   the same recursion at 10 half-lives (weights beyond < 0.1 %).
2. ``contract_grid(inputs)`` (pure) expands every usable decision into contracts: per horizon ``h``
   and kind, levels at ``spot * exp(z sigma sqrt(h))`` for ``z`` in ``Z_GRID``:

   - ``close_above``, ``close_below``: strike at z (every z);
   - ``touch``: strike at z != 0 (up for z > 0, down for z < 0), continuous monitoring;
   - ``range``: ``[exp(z - 0.375), exp(z + 0.375))`` in those units (adjacent ranges tile
     ``[-1.875, 1.875]``);
   - ``first_of``: lower at ``z/2 - 1.125``, upper at ``z/2 + 1.125`` (spot always between);
   - ``move`` (terminal): z > 0 up by ``expm1(z s)``, z < 0 down by ``-expm1(z s)``, z = 0 either
     way by ``expm1(s)`` with ``s = sigma sqrt(h)``;
   - ``up_down``: once (z = 0).

   The 30-minute horizon is generated only where the spot venue has 30m bars fresh at ``t``.
   Windows are ``[t, t + h)``; contracts resolve on the spot venue (``spot_venue``) so that the
   label and the spot come from the same series.

Frame contract (contracts): ``asset, t, kind, horizon_hours, end, strike_usd, lower_usd,
upper_usd, threshold, direction, monitoring, spot_usd, vol_annual, z, spot_venue`` (NaN / ``""``
where a field does not apply). ``to_contracts(frame)`` builds the ``Contract`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.contracts import DEFAULT_SOURCE, Contract, Kind, Monitoring, Resolution
from levercast.models.pricing.market_state import PROXY_VENUES
from levercast.models.pricing.volatility import HALF_LIFE_HOURS, MIN_RETURNS

__all__ = [
    "DEFAULT_HORIZONS_HOURS",
    "GRID_COLUMNS",
    "GRID_KINDS",
    "Z_GRID",
    "contract_grid",
    "market_inputs",
    "to_contracts",
]

Z_GRID: Final = (-1.5, -0.75, 0.0, 0.75, 1.5)
GRID_KINDS: Final = ("touch", "close_above", "close_below", "range", "up_down", "first_of", "move")
DEFAULT_HORIZONS_HOURS: Final = (0.5, 1.0, 4.0, 24.0, 72.0, 168.0, 336.0, 720.0)
RANGE_HALF_WIDTH_Z: Final = 0.375
FIRST_OF_HALF_WIDTH_Z: Final = 1.125
GRID_COLUMNS: Final = (
    "asset",
    "t",
    "kind",
    "horizon_hours",
    "end",
    "strike_usd",
    "lower_usd",
    "upper_usd",
    "threshold",
    "direction",
    "monitoring",
    "spot_usd",
    "vol_annual",
    "z",
    "spot_venue",
)
_HOUR_NS: Final = 3_600 * 10**9
_MAX_AGE_NS: Final = 2 * _HOUR_NS


def _venue_order(venue: str | None) -> list[str]:
    if venue:
        return [venue]
    return [DEFAULT_SOURCE, *[v for v in PROXY_VENUES if v != DEFAULT_SOURCE]]


def _bars(store: Store, venue: str, asset: str, interval: str, until: pd.Timestamp) -> pd.DataFrame:
    if not store.has("candles"):
        return pd.DataFrame()
    return store.as_of("candles", until, venue=venue, asset=asset, interval=interval)


def _spot_and_vol(bars: pd.DataFrame, t_ns: np.ndarray) -> tuple[np.ndarray, ...]:
    """(spot, vol_annual, usable) at ``t_ns`` from hourly bars sorted by ``available_at``."""
    n = len(t_ns)
    if len(bars) < MIN_RETURNS + 2:
        return np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool)
    ts = bars["ts"].to_numpy("datetime64[ns]").view("int64")
    avail = bars["available_at"].to_numpy("datetime64[ns]").view("int64")
    close = bars["close"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.diff(np.log(close))
    valid = (np.diff(ts) == _HOUR_NS) & np.isfinite(ret)
    r2 = ret[valid] ** 2
    lam = 0.5 ** (1.0 / HALF_LIFE_HOURS)
    seed = float(np.mean(r2[: int(HALF_LIFE_HOURS)])) if r2.size else 0.0
    post, _ = lfilter([1.0 - lam], [1.0, -lam], r2, zi=[lam * seed])
    count = np.concatenate([[0], np.cumsum(valid)])  # returns known once bar k closed
    var = np.full(len(close), np.nan)
    enough = count >= MIN_RETURNS
    var[enough] = post[count[enough] - 1]
    i = np.searchsorted(avail, t_ns, side="right") - 1
    safe = np.clip(i, 0, len(close) - 1)
    usable = (i >= 0) & (t_ns - avail[safe] <= _MAX_AGE_NS) & np.isfinite(var[safe])
    usable &= var[safe] > 0
    vol = np.sqrt(np.where(usable, var[safe], np.nan) * HOURS_PER_YEAR)
    return np.where(usable, close[safe], np.nan), vol, usable


def _fresh_30m(bars: pd.DataFrame, t_ns: np.ndarray) -> np.ndarray:
    if bars.empty:
        return np.zeros(len(t_ns), bool)
    avail = bars["available_at"].to_numpy("datetime64[ns]").view("int64")
    i = np.searchsorted(avail, t_ns, side="right") - 1
    safe = np.clip(i, 0, len(avail) - 1)
    return np.asarray((i >= 0) & (t_ns - avail[safe] <= _HOUR_NS))


def market_inputs(
    store: Store,
    asset: str,
    times: Iterable[pd.Timestamp] | pd.DatetimeIndex,
    *,
    venue: str | None = None,
) -> pd.DataFrame:
    """Spot, ``gbm`` vol and venue of ``asset`` at each decision time (point in time).

    Parameters
    ----------
    store
        The dataset.
    asset
        Ticker, e.g. ``BTC``.
    times
        Tz-aware decision times.
    venue
        Force one candle venue; default: the resolution source, then the proxies.

    Returns
    -------
    pandas.DataFrame
        ``asset, t, spot_usd, vol_annual, spot_venue, has_30m`` in the order of ``times``;
        ``spot_venue`` is ``""`` (and spot/vol NaN) where no venue is fresh.

    Raises
    ------
    ConfigError
        Naive times.
    """
    index = pd.DatetimeIndex(list(times) if not isinstance(times, pd.DatetimeIndex) else times)
    if len(index) and index.tz is None:
        raise ConfigError(f"times must be tz-aware UTC; found naive times (first {index[0]})")
    index = index.tz_convert("UTC") if len(index) else pd.DatetimeIndex([], tz="UTC")
    t_ns = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    n = len(t_ns)
    spot, vol = np.full(n, np.nan), np.full(n, np.nan)
    chosen = np.full(n, "", dtype=object)
    has_30m = np.zeros(n, bool)
    until = index.max() if n else pd.Timestamp(0, tz="UTC")
    for name in _venue_order(venue):
        if not (chosen == "").any():
            break
        s, v, ok = _spot_and_vol(_bars(store, name, asset, "1h", until), t_ns)
        take = ok & (chosen == "")
        if take.any():
            spot[take], vol[take], chosen[take] = s[take], v[take], name
            has_30m[take] = _fresh_30m(_bars(store, name, asset, "30m", until), t_ns)[take]
    return pd.DataFrame(
        {
            "asset": asset.upper(),
            "t": index,
            "spot_usd": spot,
            "vol_annual": vol,
            "spot_venue": chosen.astype(str),
            "has_30m": has_30m,
        }
    )


def _kind_specs(kinds: tuple[str, ...], z_grid: tuple[float, ...]) -> pd.DataFrame:
    rows: list[tuple[str, float, str, str]] = []
    for kind in kinds:
        if kind == "up_down":
            rows.append((kind, 0.0, "", "terminal"))
        elif kind == "touch":
            rows += [(kind, z, "up" if z > 0 else "down", "continuous") for z in z_grid if z != 0]
        elif kind == "move":
            rows += [
                (kind, z, "up" if z > 0 else "down" if z < 0 else "", "terminal") for z in z_grid
            ]
        elif kind in GRID_KINDS:
            rows += [(kind, z, "", "terminal") for z in z_grid]
        else:
            raise ConfigError(f"kinds must be among {GRID_KINDS}; found {kind!r}")
    return pd.DataFrame(rows, columns=["kind", "z", "direction", "monitoring"])


def contract_grid(
    inputs: pd.DataFrame,
    *,
    horizons_hours: Iterable[float] = DEFAULT_HORIZONS_HOURS,
    kinds: Iterable[str] = GRID_KINDS,
    z_grid: Iterable[float] = Z_GRID,
) -> pd.DataFrame:
    """Expand decision rows into the contract frame (see the module docstring).

    Parameters
    ----------
    inputs
        ``market_inputs`` rows (``asset, t, spot_usd, vol_annual, spot_venue``; optional
        ``has_30m``, default False). Rows without a usable spot/vol are skipped.
    horizons_hours
        Window lengths; horizons under 1 h need ``has_30m``.
    kinds
        Among ``GRID_KINDS`` (``liquidations_above`` is not a price contract).
    z_grid
        Levels in units of ``sigma sqrt(h)``.

    Returns
    -------
    pandas.DataFrame
        ``GRID_COLUMNS``, sorted by ``t``, then asset, horizon, kind, z.

    Raises
    ------
    ConfigError
        Unknown kind, a non-positive horizon, or missing input columns.
    """
    missing = {"asset", "t", "spot_usd", "vol_annual", "spot_venue"} - set(inputs.columns)
    if missing:
        raise ConfigError(
            f"inputs must have columns {sorted(missing)}; found {list(inputs.columns)}"
        )
    hours = np.asarray(sorted(set(float(h) for h in horizons_hours)), dtype=float)
    if hours.size == 0 or (hours <= 0).any():
        raise ConfigError(f"horizons_hours must be positive; found {hours.tolist()}")
    specs = _kind_specs(tuple(kinds), tuple(float(z) for z in z_grid))
    ok = np.isfinite(inputs["spot_usd"].to_numpy(float)) & np.isfinite(
        inputs["vol_annual"].to_numpy(float)
    )
    base = inputs.loc[ok].reset_index(drop=True)
    n_t, n_h, n_s = len(base), hours.size, len(specs)
    row_t = np.repeat(np.arange(n_t), n_h * n_s)
    row_h = np.tile(np.repeat(np.arange(n_h), n_s), n_t)
    row_s = np.tile(np.arange(n_s), n_t * n_h)
    has_30m = base["has_30m"].to_numpy(bool) if "has_30m" in base.columns else np.zeros(n_t, bool)
    keep = (hours[row_h] >= 1.0) | has_30m[row_t]
    row_t, row_h, row_s = row_t[keep], row_h[keep], row_s[keep]
    h = hours[row_h]
    spot = base["spot_usd"].to_numpy(float)[row_t]
    vol = base["vol_annual"].to_numpy(float)[row_t]
    kind = specs["kind"].to_numpy(object)[row_s]
    z = specs["z"].to_numpy(float)[row_s]
    scale = vol * np.sqrt(h / HOURS_PER_YEAR)
    nan = np.full(len(h), np.nan)
    strike_kind = np.isin(kind, ("touch", "close_above", "close_below"))
    strike = np.where(strike_kind, spot * np.exp(z * scale), nan)
    lower = np.where(
        kind == "range",
        spot * np.exp((z - RANGE_HALF_WIDTH_Z) * scale),
        np.where(kind == "first_of", spot * np.exp((z / 2 - FIRST_OF_HALF_WIDTH_Z) * scale), nan),
    )
    upper = np.where(
        kind == "range",
        spot * np.exp((z + RANGE_HALF_WIDTH_Z) * scale),
        np.where(kind == "first_of", spot * np.exp((z / 2 + FIRST_OF_HALF_WIDTH_Z) * scale), nan),
    )
    move_size = np.where(z > 0, np.expm1(z * scale), np.where(z < 0, -np.expm1(z * scale), 0.0))
    threshold = np.where(kind == "move", np.where(z == 0, np.expm1(scale), move_size), nan)
    t = pd.DatetimeIndex(base["t"]).tz_convert("UTC").take(row_t)
    frame = pd.DataFrame(
        {
            "asset": base["asset"].to_numpy(object)[row_t],
            "t": t,
            "kind": kind,
            "horizon_hours": h,
            "strike_usd": strike,
            "lower_usd": lower,
            "upper_usd": upper,
            "threshold": threshold,
            "direction": specs["direction"].to_numpy(object)[row_s],
            "monitoring": specs["monitoring"].to_numpy(object)[row_s],
            "spot_usd": spot,
            "vol_annual": vol,
            "z": z,
            "spot_venue": base["spot_venue"].to_numpy(object)[row_t],
        }
    )
    frame["end"] = frame["t"] + pd.to_timedelta(frame["horizon_hours"], unit="h")
    return frame[list(GRID_COLUMNS)]


def to_contracts(frame: pd.DataFrame) -> list[Contract]:
    """``Contract`` objects of a ``contract_grid`` frame (for the outcome reader).

    Each contract starts at ``t``, ends at ``end`` and resolves on ``spot_venue`` (hourly bars;
    the outcome reader uses 30m bars where they exist). Touch prices are ``high``/``low``.
    """
    resolutions: dict[tuple[str, str], Resolution] = {}

    def resolution(venue: str, price: str) -> Resolution:
        key = (venue, price)
        if key not in resolutions:
            resolutions[key] = Resolution(
                source=venue or DEFAULT_SOURCE, price=price, interval="1h"
            )
        return resolutions[key]

    starts = pd.DatetimeIndex(frame["t"]).to_pydatetime()
    ends = pd.DatetimeIndex(frame["end"]).to_pydatetime()
    columns = zip(
        frame["kind"].to_numpy(object),
        frame["asset"].to_numpy(object),
        frame["direction"].to_numpy(object),
        frame["strike_usd"].to_numpy(float),
        frame["lower_usd"].to_numpy(float),
        frame["upper_usd"].to_numpy(float),
        frame["threshold"].to_numpy(float),
        frame["monitoring"].to_numpy(object),
        frame["spot_venue"].to_numpy(object),
        starts,
        ends,
        strict=True,
    )
    out: list[Contract] = []
    for kind, asset, way, strike, lower, upper, threshold, mon, venue, start, end in columns:
        k = Kind(kind)
        price = "close"
        direction = way or None
        fields: dict[str, float] = {}
        if k is Kind.TOUCH:
            price = "high" if way == "up" else "low"
            fields["strike_usd"] = float(strike)
        elif k in (Kind.CLOSE_ABOVE, Kind.CLOSE_BELOW):
            fields["strike_usd"] = float(strike)
        elif k in (Kind.RANGE, Kind.FIRST_OF):
            fields = {"lower_usd": float(lower), "upper_usd": float(upper)}
        elif k is Kind.MOVE:
            fields["threshold"] = float(threshold)
        out.append(
            Contract(
                kind=k,
                asset=str(asset),
                start=start,
                end=end,
                resolution=resolution(str(venue), price),
                direction=direction if k in (Kind.TOUCH, Kind.MOVE) else None,
                monitoring=Monitoring(mon) if k in (Kind.TOUCH, Kind.MOVE) else None,
                **fields,  # type: ignore[arg-type]
            )
        )
    return out
