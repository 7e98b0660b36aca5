"""Training and backtest contracts generated from decision times (the learned-models grid).

Two steps, so that the backtests reuse them:

1. ``market_inputs(source, asset, times)`` (``models.pricing.market_state``) reads, point in
   time, the spot and the ``gbm`` volatility at each decision time ``t`` from the one price
   series of ``levercast.features.prices``: the resolution source (``binance-spot``) when usable
   at ``t``, else the freshest proxy; the vol is the EWMA of hourly squared log returns exactly
   as ``estimate_vol`` computes it for one ``T``.
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

from levercast.features.errors import ConfigError
from levercast.features.timeutil import HOURS_PER_YEAR
from levercast.models.contracts import DEFAULT_SOURCE, Contract, Kind, Monitoring, Resolution

__all__ = [
    "DEFAULT_HORIZONS_HOURS",
    "GRID_COLUMNS",
    "GRID_KINDS",
    "Z_GRID",
    "contract_grid",
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
