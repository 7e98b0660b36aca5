"""Liquidation map: where leveraged positions opened over a lookback window would be liquidated.

Model (``../shared/reference/METHODS.md`` §1.1, §2.2; mindoozer and pcdogyu designs)
    * Each bar opens new notional: the positive change of open interest (USD) since the previous
      OI observation, spread over the bars since then in proportion to their volume; where OI is
      missing (or not yet known at the decision time) ``volume_usd * volume_open_fraction``.
    * It opens at the bar's typical price ``(H + L + C) / 3`` and is split long/short by the long
      share (dominance input, default 0.5), then across leverage tiers with ``weights``.
    * Long liquidation price ``E * (1 - 1/L + mmr)``, short ``E * (1 + 1/L - mmr)``.
    * Mass decays per tier as ``0.5 ** (age_hours / half_life_hours)``; an OI decrease from
      ``OI_prev`` to ``OI`` scales every older entry by ``OI / OI_prev``; an entry is removed once a
      *later* bar's low (long) or high (short) crosses its level.
    * Output: long and short mass (USD) per price bin of ``bin_bps`` on a fixed logarithmic grid
      (bin ``i`` spans ``[g**i, g**(i+1))`` with ``g = 1 + bin_bps / 1e4``), so snapshots at
      different times share bins.

Point in time: a snapshot at ``t`` uses bars with close ``<= t`` within ``(t - lookback, t]`` and
OI known at ``t``; ``build_inputs`` keeps, per bar, the time its OI-based notional became known.
The kernel evaluates many snapshots at once on a (snapshot x window-bar x tier) array.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray, IntArray
from levercast.features.errors import ConfigError, DataError
from levercast.features.liqmap import params as P

__all__ = [
    "MAX_MATRIX_CELLS",
    "LiqMap",
    "LiqMapParams",
    "MapEntries",
    "MapInputs",
    "bin_index",
    "build_inputs",
    "crossed_mass",
    "effective_mmr_rate",
    "heatmap_matrix",
    "liquidation_price",
    "map_entries",
    "map_snapshot",
    "tier_mmr_rates",
    "window_bounds",
]

_NS_PER_HOUR: Final = 3_600_000_000_000
_NEVER: Final = np.iinfo(np.int64).max
_CHUNK: Final = 2048
MAX_MATRIX_CELLS: Final = 20_000_000  # heatmap snapshots x bins (400 days x 2000 bins fits)


def liquidation_price(
    entry_usd: FloatArray | float,
    *,
    leverage: float,
    mmr: float,
    side: Literal["long", "short"],
) -> FloatArray | float:
    """Isolated linear-perp liquidation price: long ``E(1 - 1/L + m)``, short ``E(1 + 1/L - m)``."""
    if leverage < 1:
        raise ConfigError(f"leverage must be >= 1; found {leverage}")
    if not 0 <= mmr < 1:
        raise ConfigError(f"mmr must be within [0, 1); found {mmr}")
    if side == "long":
        return entry_usd * (1.0 - 1.0 / leverage + mmr)
    if side == "short":
        return entry_usd * (1.0 + 1.0 / leverage - mmr)
    raise ConfigError(f"side must be 'long' or 'short'; found {side!r}")


def effective_mmr_rate(
    notional_usd: float, brackets: tuple[tuple[float, float], ...] = P.MMR_BRACKETS
) -> float:
    """Effective maintenance rate ``MMR - MA / notional`` of a position in tiered brackets.

    ``brackets`` is ``((cap_usd, rate), ...)`` with rising caps and rates; the maintenance amount
    ``MA`` makes the margin continuous across brackets. A notional above the last cap uses it.
    """
    if notional_usd <= 0:
        raise ConfigError(f"notional_usd must be > 0; found {notional_usd}")
    amount, prev_cap, prev_rate = 0.0, 0.0, brackets[0][1]
    for cap, rate in brackets:
        amount += prev_cap * (rate - prev_rate)
        if notional_usd <= cap:
            return rate - amount / notional_usd
        prev_cap, prev_rate = cap, rate
    return prev_rate - amount / notional_usd


def tier_mmr_rates(
    leverages: tuple[float, ...],
    *,
    position_notional_usd: float = P.POSITION_NOTIONAL_USD,
    brackets: tuple[tuple[float, float], ...] = P.MMR_BRACKETS,
) -> tuple[float, ...]:
    """Per-tier maintenance rate: the position notional clipped to the cap allowing leverage L.

    A bracket allows leverage up to ``1 / (2 * rate)``; leverage above every bracket's maximum
    uses the first bracket.
    """
    out = []
    for lev in leverages:
        caps = [cap for cap, rate in brackets if 1.0 / (2.0 * rate) >= lev]
        cap = caps[-1] if caps else brackets[0][0]
        out.append(effective_mmr_rate(min(position_notional_usd, cap), brackets))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LiqMapParams:
    """Leverage tiers and window of the map; ``default()`` gives the committed, fitted values."""

    leverages: tuple[float, ...]
    weights: tuple[float, ...]
    half_lives_hours: tuple[float, ...]
    mmr_rates: tuple[float, ...]
    lookback_hours: float = P.LOOKBACK_HOURS
    bin_bps: float = P.BIN_BPS
    volume_open_fraction: float = P.VOLUME_OPEN_FRACTION

    def __post_init__(self) -> None:
        n = len(self.leverages)
        for name in ("weights", "half_lives_hours", "mmr_rates"):
            if len(getattr(self, name)) != n:
                raise ConfigError(
                    f"{name} must have one value per leverage tier ({n}); "
                    f"found {len(getattr(self, name))}"
                )
        if n == 0 or min(self.leverages) <= 1:
            raise ConfigError(f"leverages must be non-empty and > 1; found {self.leverages}")
        if min(self.weights) < 0 or not np.isclose(sum(self.weights), 1.0):
            raise ConfigError(f"weights must be >= 0 and sum to 1; found {self.weights}")
        if min(self.half_lives_hours) <= 0:
            raise ConfigError(f"half_lives_hours must be > 0; found {self.half_lives_hours}")
        if not 24 <= self.lookback_hours <= 24 * 30:
            raise ConfigError(
                f"lookback_hours must be within [24, 720]; found {self.lookback_hours}"
            )
        if not 0 < self.bin_bps <= 1000:
            raise ConfigError(f"bin_bps must be within (0, 1000]; found {self.bin_bps}")
        if self.volume_open_fraction < 0:
            raise ConfigError(
                f"volume_open_fraction must be >= 0; found {self.volume_open_fraction}"
            )

    @classmethod
    def default(cls, **overrides: float) -> LiqMapParams:
        """The committed constants of ``features.liqmap.params``, with optional overrides."""
        base = cls(
            leverages=P.LEVERAGES,
            weights=P.TIER_WEIGHTS,
            half_lives_hours=P.HALF_LIVES_HOURS,
            mmr_rates=tier_mmr_rates(P.LEVERAGES),
        )
        return base.replace(**overrides) if overrides else base

    def replace(self, **changes: object) -> LiqMapParams:
        """A copy with some fields changed (validated again)."""
        fields = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        fields.update(changes)
        return LiqMapParams(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class MapInputs:
    """Per-bar arrays the kernel reads, sorted by bar close (``close_ns``, UTC nanoseconds).

    ``new_usd`` is the OI-based new notional, known from ``known_ns`` on (``_NEVER`` when OI never
    resolves it); ``volume_usd`` is the fallback; ``log_survival`` is ``log(min(1, OI/OI_prev))``
    at the bar closing on that OI observation; ``long_share`` is in [0, 1].
    """

    close_ns: IntArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    typical: FloatArray
    volume_usd: FloatArray
    new_usd: FloatArray
    known_ns: IntArray
    log_survival: FloatArray
    long_share: FloatArray

    def __len__(self) -> int:
        return len(self.close_ns)


def _as_ns(times: pd.Series | pd.DatetimeIndex) -> IntArray:
    index = pd.DatetimeIndex(times)
    if index.tz is None:
        raise DataError("bar and OI times must be tz-aware UTC; found naive times")
    return np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64)


def build_inputs(
    candles: pd.DataFrame,
    oi: pd.DataFrame | None,
    *,
    long_share: float | pd.Series = 0.5,
) -> MapInputs:
    """Kernel inputs from dataset-format candles and open-interest rows.

    Parameters
    ----------
    candles
        One venue/asset/interval of ``candles`` (``available_at`` = bar close, ``high``, ``low``,
        ``close``, ``volume_base``).
    oi
        ``open_interest`` rows of one venue/asset (``available_at``, ``oi_usd``), or ``None``.
        An OI row is matched to the bar whose close equals its ``available_at``.
    long_share
        Long share of newly opened notional: a scalar, or a Series indexed by tz-aware time
        (forward-filled onto bar closes; times before its first value use 0.5).
    """
    need = {"available_at", "high", "low", "close", "volume_base"}
    if not need <= set(candles.columns):
        raise DataError(f"candles must have columns {sorted(need)}; found {list(candles.columns)}")
    bars = candles.sort_values("available_at", kind="stable")
    close_ns = _as_ns(bars["available_at"])
    high, low, close = (bars[c].to_numpy(np.float64) for c in ("high", "low", "close"))
    typical = (high + low + close) / 3.0
    volume_usd = bars["volume_base"].to_numpy(np.float64) * typical
    n = len(close_ns)
    new_usd = np.zeros(n)
    known_ns = np.full(n, _NEVER, dtype=np.int64)
    log_survival = np.zeros(n)
    if oi is not None and len(oi):
        rows = oi.dropna(subset=["oi_usd"])
        obs = pd.Series(rows["oi_usd"].to_numpy(np.float64), index=_as_ns(rows["available_at"]))
        obs = obs[~obs.index.duplicated(keep="last")]
        at_bar = obs.reindex(close_ns).to_numpy()
        idx = np.flatnonzero(np.isfinite(at_bar) & (at_bar > 0))
        if len(idx) >= 2:
            group = np.searchsorted(idx, np.arange(n), side="left")  # first observation >= bar
            inside = (group >= 1) & (group < len(idx))
            g = np.where(inside, group, 0)
            delta = at_bar[idx[g]] - at_bar[idx[np.maximum(g - 1, 0)]]
            vol_sum = np.bincount(g[inside], weights=volume_usd[inside], minlength=len(idx))
            count = np.bincount(g[inside], minlength=len(idx)).astype(np.float64)
            share = np.where(
                vol_sum[g] > 0, volume_usd / np.where(vol_sum[g] > 0, vol_sum[g], 1.0), 1.0
            )
            share = np.where(vol_sum[g] > 0, share, 1.0 / np.maximum(count[g], 1.0))
            new_usd = np.where(inside, np.maximum(delta, 0.0) * share, 0.0)
            known_ns = np.where(inside, close_ns[idx[g]], _NEVER).astype(np.int64)
            ratio = at_bar[idx[1:]] / at_bar[idx[:-1]]
            log_survival[idx[1:]] = np.log(np.minimum(ratio, 1.0))
    if isinstance(long_share, pd.Series):
        series = long_share.copy()
        series.index = _as_ns(pd.DatetimeIndex(series.index))
        series = series.sort_index()
        shares = series.reindex(close_ns, method="ffill").fillna(0.5).to_numpy(np.float64)
    else:
        shares = np.full(n, float(long_share))
    if len(shares) and (np.nanmin(shares) < 0 or np.nanmax(shares) > 1 or np.isnan(shares).any()):
        raise ConfigError(f"long_share must lie within [0, 1]; found min={np.nanmin(shares)}")
    return MapInputs(
        close_ns, high, low, close, typical, volume_usd, new_usd, known_ns, log_survival, shares
    )


@dataclass(frozen=True, slots=True)
class MapEntries:
    """Liquidation levels and masses of a batch of snapshots, shape (snapshots, bars, tiers).

    Bars run oldest to newest along axis 1; slots before a snapshot's window hold zero mass.
    """

    long_price: FloatArray
    long_mass: FloatArray
    short_price: FloatArray
    short_mass: FloatArray


def window_bounds(
    inputs: MapInputs, params: LiqMapParams, t_ns: IntArray
) -> tuple[IntArray, IntArray]:
    """Index of the first and the last bar of each snapshot's window (``last < first``: none)."""
    last = np.searchsorted(inputs.close_ns, t_ns, side="right") - 1
    lookback = int(params.lookback_hours * _NS_PER_HOUR)
    first = np.searchsorted(inputs.close_ns, t_ns - lookback, side="right")
    return first, last


def map_entries(inputs: MapInputs, params: LiqMapParams, t_ns: IntArray) -> MapEntries:
    """Every (bar, tier) level and its live mass for snapshots at ``t_ns`` (see module docstring).

    Each element depends only on its snapshot's own window, so a snapshot's entries are the same
    whichever other snapshots share the batch.
    """
    first, last = window_bounds(inputs, params, t_ns)
    width = int(max(1, np.max(last - first + 1, initial=1)))
    idx = last[:, None] - (width - 1) + np.arange(width)[None, :]
    valid = (idx >= first[:, None]) & (idx >= 0)
    idx = np.clip(idx, 0, max(len(inputs) - 1, 0))
    t = t_ns[:, None]
    known = inputs.known_ns[idx] <= t
    new = np.where(known, inputs.new_usd[idx], inputs.volume_usd[idx] * params.volume_open_fraction)
    cum = np.concatenate([[0.0], np.cumsum(inputs.log_survival)])
    survival = np.exp(cum[last + 1][:, None] - cum[idx + 1])
    base = np.where(valid, new * survival, 0.0)
    low = np.where(valid, inputs.low[idx], np.inf)
    high = np.where(valid, inputs.high[idx], -np.inf)
    # extreme of the LATER bars of the window (exclusive suffix min/max)
    low_after = np.minimum.accumulate(low[:, ::-1], axis=1)[:, ::-1]
    low_after = np.concatenate([low_after[:, 1:], np.full((len(t_ns), 1), np.inf)], axis=1)
    high_after = np.maximum.accumulate(high[:, ::-1], axis=1)[:, ::-1]
    high_after = np.concatenate([high_after[:, 1:], np.full((len(t_ns), 1), -np.inf)], axis=1)
    age_h = (t - inputs.close_ns[idx]).astype(np.float64) / _NS_PER_HOUR
    lev = np.asarray(params.leverages)
    mmr = np.asarray(params.mmr_rates)
    weight = np.asarray(params.weights)
    decay = np.exp2(-age_h[:, :, None] / np.asarray(params.half_lives_hours))
    typical = inputs.typical[idx][:, :, None]
    long_price = typical * (1.0 - 1.0 / lev + mmr)
    short_price = typical * (1.0 + 1.0 / lev - mmr)
    share = inputs.long_share[idx][:, :, None]
    tier_mass = (base[:, :, None] * weight) * decay
    long_mass = np.where(low_after[:, :, None] > long_price, tier_mass * share, 0.0)
    short_mass = np.where(high_after[:, :, None] < short_price, tier_mass * (1.0 - share), 0.0)
    return MapEntries(long_price, long_mass, short_price, short_mass)


def _chunks(t_ns: IntArray) -> Iterator[slice]:
    for start in range(0, len(t_ns), _CHUNK):
        yield slice(start, min(start + _CHUNK, len(t_ns)))


def _times(t: pd.Timestamp | IntArray) -> IntArray:
    if isinstance(t, np.ndarray):
        return t.astype(np.int64)
    return _as_ns(pd.DatetimeIndex([t]))


@dataclass(frozen=True, slots=True)
class LiqMap:
    """A map as of ``at``: mass (USD) per bin ``first_bin .. first_bin + len - 1`` of the grid."""

    at: pd.Timestamp
    spot_usd: float
    bin_bps: float
    first_bin: int
    long_mass_usd: FloatArray
    short_mass_usd: FloatArray

    @property
    def edges_usd(self) -> FloatArray:
        """Bin edges (USD), one more than bins."""
        step = np.log1p(self.bin_bps / 1e4)
        i = self.first_bin + np.arange(len(self.long_mass_usd) + 1)
        return np.asarray(np.exp(i * step), dtype=np.float64)

    @property
    def centers_usd(self) -> FloatArray:
        """Geometric bin centres (USD): ``exp((i + 0.5) * ln(1 + bin_bps / 1e4))``."""
        step = np.log1p(self.bin_bps / 1e4)
        i = self.first_bin + np.arange(len(self.long_mass_usd))
        return np.asarray(np.exp((i + 0.5) * step), dtype=np.float64)


def bin_index(price: FloatArray, bin_bps: float) -> IntArray:
    """Bin of each price on the logarithmic grid: ``floor(ln(price) / ln(1 + bin_bps / 1e4))``."""
    step = np.log1p(bin_bps / 1e4)
    return np.floor(np.log(np.maximum(price, 1e-12)) / step).astype(np.int64)


def map_snapshot(inputs: MapInputs, params: LiqMapParams, t: pd.Timestamp) -> LiqMap:
    """The binned map as of ``t`` (bars with close ``<= t``).

    Raises
    ------
    DataError
        If no bar closes within the lookback window before ``t``.
    """
    t_ns = _times(t)
    first, last = window_bounds(inputs, params, t_ns)
    if last[0] < first[0]:
        raise DataError(f"no bar closes within {params.lookback_hours} h before {t}; cannot map")
    e = map_entries(inputs, params, t_ns)
    prices = np.concatenate([e.long_price.ravel(), e.short_price.ravel()])
    masses = np.concatenate([e.long_mass.ravel(), e.short_mass.ravel()])
    is_long = np.arange(len(prices)) < e.long_price.size
    bins = bin_index(prices, params.bin_bps)
    spot = float(inputs.close[last[0]])
    spot_bin = int(bin_index(np.array([spot]), params.bin_bps)[0])
    live = masses > 0
    lo = int(min(bins[live].min(initial=spot_bin), spot_bin))
    hi = int(max(bins[live].max(initial=spot_bin), spot_bin))
    n = hi - lo + 1
    sel_long, sel_short = live & is_long, live & ~is_long
    long_m = np.bincount(bins[sel_long] - lo, masses[sel_long], minlength=n).astype(np.float64)
    short_m = np.bincount(bins[sel_short] - lo, masses[sel_short], minlength=n).astype(np.float64)
    at = pd.Timestamp(int(t_ns[0]), tz="UTC")
    return LiqMap(at, spot, params.bin_bps, lo, long_m, short_m)


def crossed_mass(
    inputs: MapInputs,
    params: LiqMapParams,
    t_ns: IntArray,
    *,
    low_usd: FloatArray,
    high_usd: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Long mass at levels ``>= low_usd`` and short mass at levels ``<= high_usd`` of maps at
    ``t_ns`` (one low/high per snapshot, e.g. the extremes of the next hour)."""
    long_out = np.zeros(len(t_ns))
    short_out = np.zeros(len(t_ns))
    for part in _chunks(t_ns):
        e = map_entries(inputs, params, t_ns[part])
        lo = np.asarray(low_usd[part])[:, None, None]
        hi = np.asarray(high_usd[part])[:, None, None]
        long_out[part] = np.where(e.long_price >= lo, e.long_mass, 0.0).sum(axis=(1, 2))
        short_out[part] = np.where(e.short_price <= hi, e.short_mass, 0.0).sum(axis=(1, 2))
    return long_out, short_out


def heatmap_matrix(
    inputs: MapInputs, params: LiqMapParams, t_ns: IntArray, *, first_bin: int, n_bins: int
) -> tuple[FloatArray, FloatArray]:
    """Long and short mass per (snapshot, bin) for bins ``first_bin .. first_bin + n_bins - 1``;
    mass outside that range is dropped.

    Raises
    ------
    ConfigError
        ``n_bins`` below 1, or snapshots x bins above ``MAX_MATRIX_CELLS`` (two float matrices
        of that size: 320 MB at the cap), refused rather than allocated (issue 19).
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer; found {n_bins!r}")
    if len(t_ns) * n_bins > MAX_MATRIX_CELLS:
        raise ConfigError(
            f"snapshots x bins must be at most {MAX_MATRIX_CELLS:,} (the heatmap memory cap); "
            f"found {len(t_ns):,} x {n_bins:,}"
        )
    long_out = np.zeros((len(t_ns), n_bins))
    short_out = np.zeros((len(t_ns), n_bins))
    for part in _chunks(t_ns):
        e = map_entries(inputs, params, t_ns[part])
        rows = np.arange(part.stop - part.start)[:, None, None]
        for price, mass, out in (
            (e.long_price, e.long_mass, long_out),
            (e.short_price, e.short_mass, short_out),
        ):
            b = bin_index(price, params.bin_bps) - first_bin
            keep = (b >= 0) & (b < n_bins) & (mass > 0)
            flat = (np.broadcast_to(rows, b.shape) * n_bins + b)[keep]
            size = (part.stop - part.start) * n_bins
            counts = np.bincount(flat, weights=mass[keep], minlength=size)
            out[part] = counts.reshape(-1, n_bins)
    return long_out, short_out
