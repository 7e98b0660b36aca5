"""Contract-relative leverage features: the liquidation map and the crowding seen from a contract.

Store-free and vectorised over contract rows (``models.learned.contract_grid`` columns: ``asset,
t, kind, direction, strike_usd, lower_usd, upper_usd, threshold, horizon_hours, spot_usd,
vol_annual``, optional ``reference_usd``). Inputs: the point-in-time maps of every (asset, t)
(``features.liqmap.contract_maps.SnapshotMaps``) and the feature-frame rows of the same (asset,
t) with the scalars of ``SCALAR_INPUTS``. ``experiments.learning.training_set`` and the pricer
assemble both; nothing here reads a store.

Orientation
    Each row has a barrier ``K`` and a barrier side ``s``: ``+1`` (up) or ``-1`` (down).
    close_above / close_below: ``K`` = the strike, ``s = sign(ln(K/S))``, and at ``K = S`` the
    side the event needs (up for close_above, down for close_below); touch: the strike and its
    direction; one-way move: ``ref (1 + x)`` up or ``ref (1 - x)`` down; up_down: the window's
    start price, up; first_of: the upper barrier, up (YES = upper first). Two-sided rows (range,
    move either way) have ``s`` NaN: their oriented features are NaN, the two-sided ones valid.
    ``u = vol_annual sqrt(horizon_hours / 8760)`` is the row's one-sigma log move; ``d =
    max(s ln(K/S), 0)`` the log distance from spot to the barrier on its side.

Mass
    Each bin's mass (long + short) is spread evenly over its log-price width, so the cumulative
    mass ``C(x)`` is continuous and piecewise linear in the log price ``x``: a feature moves
    continuously with the strike. "Between a and b" is ``C(b) - C(a)``.

Features (``LEVERAGE_FEATURES``; ``o`` = oriented, NaN for two-sided rows)

    ==============================  ====  =================================================
    name                            unit  definition
    ==============================  ====  =================================================
    lev_mass_to_strike_usd        o usd   mass between spot and the barrier, on side s
    lev_mass_to_strike_oi         o frac  the same / anchor OI (the OI the map is built on)
    lev_mass_beyond_strike_usd    o usd   mass from the barrier to one u beyond it
    lev_mass_beyond_strike_oi     o frac  the same / anchor OI
    lev_near_cluster_dist_vol     o u     distance spot -> nearest cluster on side s, / u
    lev_big_cluster_dist_vol      o u     distance spot -> largest cluster on side s, / u
    lev_opp_near_cluster_dist_vol o u     the same on the opposite side
    lev_opp_big_cluster_dist_vol  o u     the same on the opposite side
    lev_mass_ratio_log            o log   ln(1 + mass within u on side s) - ln(1 + opposite)
    lev_mass_ratio_abs_log          log   its absolute value (two-sided)
    lev_mass_1sd_oi                 frac  mass within u on both sides / anchor OI
    lev_dominance                 o score -s oi_dominance_score (+: the side a move towards
                                          the barrier liquidates is crowded: shorts for up)
    lev_funding                   o frac  -s funding_rate_8h (same sign convention)
    lev_liq_skew_24h, _7d         o score -s liq_skew (+: recent liquidations were of the
                                          side a move towards the barrier liquidates)
    lev_liq_24h_oi, lev_liq_7d_oi   frac  liquidation totals 24 h / 7 d / anchor OI
    lev_elr                         ratio elr (OI / exchange reserve value)
    lev_elr_change_7d, _30d         frac  elr changes
    lev_oi_build_30d                frac  oi_change_30d - abs(price_change_30d): OI build-up
                                          beyond the price move (direction-free)
    lev_reset_30d                   flag  leverage_reset_30d
    ==============================  ====  =================================================

Clusters are the ``top_n`` density clusters per map side (long, short) of the snapshot, placed on
a price side by their centre against the row's spot; a distance is NaN when no cluster lies on
that side.

Mirror symmetry (by construction; ``tests/models/learned/test_leverage.py``): mirroring a map
around spot in log price (bin masses reflected, long <-> short) and negating dominance, funding
and the liquidation skews maps every feature of an up contract at ``K`` to the same feature of
the down contract at ``S^2 / K``. The direction-neutral learned model pools the two events, so
with these features it can price asymmetry (more mass above than below) without learning drift.

NaN policy: NaN where an input is missing (no map at t, no anchor OI, a scalar missing) or the
feature does not apply (oriented features of two-sided rows); never an exception for missing data.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from levercast.features._typing import FloatArray, IntArray
from levercast.features.errors import ConfigError
from levercast.features.liqmap.contract_maps import SnapshotMaps
from levercast.features.timeutil import HOURS_PER_YEAR

__all__ = [
    "LEVERAGE_FEATURES",
    "ORIENTED_FEATURES",
    "SCALAR_INPUTS",
    "barrier_geometry",
    "key_index",
    "leverage_features",
]

SCALAR_INPUTS: Final = (
    "oi_dominance_score",
    "funding_rate_8h",
    "liq_skew_24h",
    "liq_skew_7d",
    "liq_total_usd_24h",
    "liq_total_usd_7d",
    "elr",
    "elr_change_7d",
    "elr_change_30d",
    "oi_change_30d",
    "price_change_30d",
    "leverage_reset_30d",
)
ORIENTED_FEATURES: Final = (
    "lev_mass_to_strike_usd",
    "lev_mass_to_strike_oi",
    "lev_mass_beyond_strike_usd",
    "lev_mass_beyond_strike_oi",
    "lev_near_cluster_dist_vol",
    "lev_big_cluster_dist_vol",
    "lev_opp_near_cluster_dist_vol",
    "lev_opp_big_cluster_dist_vol",
    "lev_mass_ratio_log",
    "lev_dominance",
    "lev_funding",
    "lev_liq_skew_24h",
    "lev_liq_skew_7d",
)
LEVERAGE_FEATURES: Final = (
    *ORIENTED_FEATURES,
    "lev_mass_ratio_abs_log",
    "lev_mass_1sd_oi",
    "lev_liq_24h_oi",
    "lev_liq_7d_oi",
    "lev_elr",
    "lev_elr_change_7d",
    "lev_elr_change_30d",
    "lev_oi_build_30d",
    "lev_reset_30d",
)
_ROW_CHUNK: Final = 500_000
_NEEDED: Final = ("asset", "t", "kind", "horizon_hours", "spot_usd", "vol_annual")


def _column(rows: pd.DataFrame, name: str, fill: float = np.nan) -> FloatArray:
    if name in rows:
        return np.asarray(rows[name].to_numpy(float), dtype=np.float64)
    return np.full(len(rows), fill)


def _labels(rows: pd.DataFrame, name: str) -> npt.NDArray[np.str_]:
    """A text column as a numpy unicode array (factorised first: fast on long frames)."""
    if name not in rows:
        return np.full(len(rows), "")
    codes, uniques = pd.factorize(rows[name], use_na_sentinel=True)
    labels = np.array([*(str(u) for u in uniques), ""])
    return labels[np.where(codes >= 0, codes, len(uniques))]


def barrier_geometry(rows: pd.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(s, k, u)`` per contract row: barrier side (+1 up, -1 down, NaN two-sided), log
    distance ``ln(K/S)`` to the barrier and the one-sigma log move (module docstring)."""
    kind = _labels(rows, "kind")
    way = _labels(rows, "direction")
    spot = rows["spot_usd"].to_numpy(float)
    ref = _column(rows, "reference_usd")
    ref = np.where(np.isfinite(ref), ref, spot)
    strike = _column(rows, "strike_usd")
    upper = _column(rows, "upper_usd")
    th = _column(rows, "threshold")
    strike_kind = np.isin(kind, ("close_above", "close_below", "touch"))
    up, down = way == "up", way == "down"
    move = kind == "move"
    level = np.select(
        [
            strike_kind,
            kind == "first_of",
            kind == "up_down",
            move & up,
            move & down,
        ],
        [strike, upper, ref, ref * (1.0 + th), ref * (1.0 - th)],
        np.nan,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.log(level / spot)
    sign = np.sign(k)
    touch = kind == "touch"
    close = np.isin(kind, ("close_above", "close_below"))
    s = np.select(
        [
            touch & up,
            touch & down,
            (kind == "close_above") & (sign == 0),
            (kind == "close_below") & (sign == 0),
            close,
            np.isin(kind, ("first_of", "up_down")) | (move & up),
            move & down,
        ],
        [1.0, -1.0, 1.0, -1.0, sign, 1.0, -1.0],
        np.nan,
    )
    s = np.where(np.isfinite(k), s, np.nan)
    hours = rows["horizon_hours"].to_numpy(float)
    u = rows["vol_annual"].to_numpy(float) * np.sqrt(np.maximum(hours, 0.0) / HOURS_PER_YEAR)
    return s, k, u


def key_index(
    asset: npt.ArrayLike, t_ns: IntArray, key_asset: npt.ArrayLike, key_t_ns: IntArray
) -> IntArray:
    """Position of each (asset, t) among the keys ``(key_asset, key_t_ns)`` (-1 if absent).

    Per asset a ``searchsorted`` on the key times: linear in the rows, no MultiIndex.
    """
    rows_asset = np.asarray(asset, dtype=object)
    keys_asset = np.asarray(key_asset, dtype=object)
    codes, uniques = pd.factorize(np.concatenate([keys_asset, rows_asset]))
    key_codes, row_codes = codes[: len(keys_asset)], codes[len(keys_asset) :]
    out = np.full(len(rows_asset), -1, dtype=np.int64)
    for code in range(len(uniques)):
        keys = np.flatnonzero(key_codes == code)
        rows = np.flatnonzero(row_codes == code)
        if not len(keys) or not len(rows):
            continue
        order = np.argsort(key_t_ns[keys], kind="stable")
        times = key_t_ns[keys][order]
        at = np.clip(np.searchsorted(times, t_ns[rows]), 0, len(times) - 1)
        hit = times[at] == t_ns[rows]
        out[rows[hit]] = keys[order][at[hit]]
    return out


def _cdf(
    maps: SnapshotMaps, cum: FloatArray, total: FloatArray, snap: IntArray, x: FloatArray
) -> FloatArray:
    """Mass (long + short) of snapshot ``snap`` below log price ``x`` (piecewise linear)."""
    step = np.log1p(maps.bin_bps / 1e4)
    start = maps.offsets[snap]
    width = maps.offsets[snap + 1] - start
    finite = np.isfinite(x)
    p = np.where(finite, x / step - maps.first_bin[snap], 0.0)
    j = np.floor(p)
    frac = p - j
    inside = (j >= 0) & (j < width)
    jc = np.clip(j, 0, width).astype(np.int64)
    below = cum[start + jc] - cum[start]
    last = np.maximum(width - 1, 0)
    partial = total[np.minimum(start + np.clip(jc, 0, last), max(len(total) - 1, 0))]
    out = below + np.where(inside, frac * partial, 0.0)
    return np.asarray(np.where(finite, out, np.nan), dtype=np.float64)


def _padded_clusters(maps: SnapshotMaps) -> tuple[FloatArray, FloatArray]:
    """Cluster log-centres and masses per snapshot, padded with NaN: shape (snapshots, width)."""
    n = len(maps)
    counts = np.bincount(maps.cluster_row, minlength=n) if len(maps.cluster_row) else np.zeros(n)
    width = max(int(np.max(counts, initial=0)), 1)
    pos = np.full((n, width), np.nan)
    mass = np.full((n, width), np.nan)
    if len(maps.cluster_row):
        first = np.searchsorted(maps.cluster_row, maps.cluster_row, side="left")
        rank = np.arange(len(maps.cluster_row)) - first
        pos[maps.cluster_row, rank] = maps.cluster_log_usd
        mass[maps.cluster_row, rank] = maps.cluster_mass_usd
    return pos, mass


def _cluster_features(
    pos: FloatArray, mass: FloatArray, log_spot: FloatArray, s: FloatArray, u: FloatArray
) -> dict[str, FloatArray]:
    x = s[:, None] * (pos - log_spot[:, None])  # > 0: on the barrier side
    out: dict[str, FloatArray] = {}
    rows = np.arange(len(s))
    for prefix, sign in (("lev_", 1.0), ("lev_opp_", -1.0)):
        dist = sign * x
        on = dist > 0
        near = np.min(np.where(on, dist, np.inf), axis=1)
        big = np.argmax(np.where(on, mass, -1.0), axis=1)
        has = on.any(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{prefix}near_cluster_dist_vol"] = np.where(has, near / u, np.nan)
            out[f"{prefix}big_cluster_dist_vol"] = np.where(has, dist[rows, big] / u, np.nan)
    return out


def _scalars(rows: pd.DataFrame, t_ns: IntArray, frame: pd.DataFrame) -> dict[str, FloatArray]:
    n = len(rows)
    if not len(frame):
        return {name: np.full(n, np.nan) for name in SCALAR_INPUTS}
    frame_ns = np.asarray(pd.DatetimeIndex(frame["ts"]).tz_convert("UTC").as_unit("ns").asi8)
    where = key_index(rows["asset"].to_numpy(), t_ns, frame["asset"].to_numpy(), frame_ns)
    out: dict[str, FloatArray] = {}
    for name in SCALAR_INPUTS:
        if name in frame.columns:
            values = frame[name].to_numpy(float)
            out[name] = np.where(where >= 0, values[np.maximum(where, 0)], np.nan)
        else:
            out[name] = np.full(n, np.nan)
    return out


def leverage_features(rows: pd.DataFrame, maps: SnapshotMaps, frame: pd.DataFrame) -> pd.DataFrame:
    """Every ``LEVERAGE_FEATURES`` column for contract rows (module docstring).

    Parameters
    ----------
    rows
        Contract rows (any index); ``t`` tz-aware.
    maps
        Snapshots covering the rows' (asset, t) (a row without one gets NaN map features).
    frame
        Feature-frame rows ``asset, ts`` + any of ``SCALAR_INPUTS`` (absent columns are NaN).

    Returns
    -------
    pandas.DataFrame
        ``LEVERAGE_FEATURES`` columns (float64), index of ``rows``.

    Raises
    ------
    ConfigError
        ``rows`` missing a required column.
    """
    missing = [c for c in _NEEDED if c not in rows]
    if missing:
        raise ConfigError(f"rows must have columns {list(_NEEDED)}; missing {missing}")
    n = len(rows)
    s, k, u = barrier_geometry(rows)
    t_ns = np.asarray(pd.DatetimeIndex(rows["t"]).tz_convert("UTC").as_unit("ns").asi8)
    snap = key_index(rows["asset"].to_numpy(), t_ns, maps.asset, maps.t_ns)
    ok = snap >= 0
    ok[ok] = maps.has_map[snap[ok]]
    # One Fortran-ordered block: each feature is a contiguous column, the frame takes it uncopied.
    matrix = np.full((n, len(LEVERAGE_FEATURES)), np.nan, order="F")
    values = {name: matrix[:, j] for j, name in enumerate(LEVERAGE_FEATURES)}
    if ok.any():
        total = maps.long_mass_usd + maps.short_mass_usd
        cum = np.concatenate([[0.0], np.cumsum(total)])
        pos, mass = _padded_clusters(maps)
        for start in range(0, n, _ROW_CHUNK):
            part = np.arange(start, min(start + _ROW_CHUNK, n))
            part = part[ok[part]]
            if len(part):
                _map_part(values, part, maps, cum, total, pos, mass, rows, s, k, u, snap)
    scalars = _scalars(rows, t_ns, frame)
    oriented = {
        "lev_dominance": "oi_dominance_score",
        "lev_funding": "funding_rate_8h",
        "lev_liq_skew_24h": "liq_skew_24h",
        "lev_liq_skew_7d": "liq_skew_7d",
    }
    for name, source in oriented.items():
        values[name][:] = -s * scalars[source]
    oi = np.full(n, np.nan)
    oi[snap >= 0] = maps.anchor_oi_usd[snap[snap >= 0]]
    oi = np.where(oi > 0, oi, np.nan)
    values["lev_liq_24h_oi"][:] = scalars["liq_total_usd_24h"] / oi
    values["lev_liq_7d_oi"][:] = scalars["liq_total_usd_7d"] / oi
    values["lev_elr"][:] = scalars["elr"]
    values["lev_elr_change_7d"][:] = scalars["elr_change_7d"]
    values["lev_elr_change_30d"][:] = scalars["elr_change_30d"]
    values["lev_oi_build_30d"][:] = scalars["oi_change_30d"] - np.abs(scalars["price_change_30d"])
    values["lev_reset_30d"][:] = scalars["leverage_reset_30d"]
    return pd.DataFrame(matrix, index=rows.index, columns=list(LEVERAGE_FEATURES), copy=False)


def _map_part(
    values: dict[str, FloatArray],
    part: IntArray,
    maps: SnapshotMaps,
    cum: FloatArray,
    total: FloatArray,
    pos: FloatArray,
    mass: FloatArray,
    rows: pd.DataFrame,
    s_all: FloatArray,
    k_all: FloatArray,
    u_all: FloatArray,
    snap_all: IntArray,
) -> None:
    snap = snap_all[part]
    s, k, u = s_all[part], k_all[part], u_all[part]
    log_spot = np.log(rows["spot_usd"].to_numpy(float)[part])
    oi = maps.anchor_oi_usd[snap]
    oi = np.where(oi > 0, oi, np.nan)

    def c(x: FloatArray) -> FloatArray:
        return _cdf(maps, cum, total, snap, x)

    at_spot = c(log_spot)
    up = c(log_spot + u) - at_spot
    down = at_spot - c(log_spot - u)
    values["lev_mass_ratio_abs_log"][part] = np.abs(np.log1p(up) - np.log1p(down))
    values["lev_mass_1sd_oi"][part] = (up + down) / oi
    sided = np.isfinite(s)
    side = np.where(sided, s, 1.0)
    d = np.where(sided & np.isfinite(k), np.maximum(side * k, 0.0), np.nan)
    barrier = log_spot + side * d
    beyond = barrier + side * u
    to_strike = side * (c(barrier) - at_spot)
    past = side * (c(beyond) - c(barrier))
    near, far = np.where(side > 0, up, down), np.where(side > 0, down, up)
    oriented = {
        "lev_mass_to_strike_usd": to_strike,
        "lev_mass_to_strike_oi": to_strike / oi,
        "lev_mass_beyond_strike_usd": past,
        "lev_mass_beyond_strike_oi": past / oi,
        "lev_mass_ratio_log": np.log1p(near) - np.log1p(far),
        **_cluster_features(pos[snap], mass[snap], log_spot, side, u),
    }
    for name, value in oriented.items():
        values[name][part] = np.where(sided, value, np.nan)
