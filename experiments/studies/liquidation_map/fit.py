"""Scoring the liquidation map against realised liquidations, and fitting its constants.

Validation (the definition ``features validate-map`` reports, INTERFACE.md §4)
    For each hour ``h`` in ``[start, end)`` with a realised liquidation row (``liquidations``
    interval 1h): the map as of ``h``'s open; its long (short) mass at levels crossed by ``h``'s
    low (high) against ``h``'s realised long (short) liquidations in USD. Scores: Spearman rank
    correlation, and the top-decile hit rate (share of the ``ceil(n/10)`` hours with the largest
    predicted mass that are among the ``ceil(n/10)`` largest realised hours; 0.1 by chance).
    Baseline: the OI (USD, the same series the map uses) known at ``h``'s open times
    ``|close / open - 1|`` of ``h``. Hours without a liquidation row are excluded.

Fit
    ``fit_params`` scores a small grid of peer settings (tier ladders with weights and half-lives,
    half-life multipliers, lookbacks) by the mean of the long and short Spearman over a window
    and returns the best. It reads only rows with ``available_at <= end`` of the fit window, so a
    fit used on a later window sees nothing of it. Run ``python -m
    levercast.experiments.studies.liquidation_map.fit`` to
    reproduce the constants of ``features.liqmap.params``.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.features._typing import FloatArray
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError
from levercast.features.liqmap import params as P
from levercast.features.liqmap.map import LiqMapParams, build_inputs, crossed_mass, tier_mmr_rates

__all__ = ["MapValidation", "fit_params", "map_sweep_task", "score_map", "top_decile_hit"]

# (leverages, weights, half-lives hours): mindoozer, pcdogyu, and a flat ladder.
LADDERS: Final = {
    "mindoozer": ((10.0, 25.0, 50.0, 100.0), (0.35, 0.30, 0.20, 0.15), (240.0, 72.0, 24.0, 12.0)),
    "pcdogyu": (
        (5.0, 10.0, 20.0, 50.0, 100.0),
        (0.08, 0.22, 0.32, 0.25, 0.13),
        (168.0, 120.0, 72.0, 36.0, 18.0),
    ),
    "flat": (
        (5.0, 10.0, 20.0, 25.0, 50.0, 100.0),
        (1 / 6,) * 6,
        (72.0, 72.0, 48.0, 48.0, 24.0, 24.0),
    ),
}
HALF_LIFE_SCALES: Final = (0.5, 1.0, 2.0)
LOOKBACKS_HOURS: Final = (48.0, 72.0, 168.0)


def top_decile_hit(predicted: FloatArray, realised: FloatArray) -> float | None:
    """Share of the top ``ceil(n/10)`` predicted hours that are in the top ``ceil(n/10)`` realised
    hours (ties broken by order); ``None`` when ``n < 10``."""
    n = len(predicted)
    if n < 10:
        return None
    k = math.ceil(n / 10)
    top_pred = np.argsort(-np.asarray(predicted), kind="stable")[:k]
    top_real = np.argsort(-np.asarray(realised), kind="stable")[:k]
    return float(len(np.intersect1d(top_pred, top_real)) / k)


def _spearman(x: FloatArray, y: FloatArray) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    value = float(spearmanr(x, y).statistic)
    return value if np.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class MapValidation:
    """Per-hour predictions and realised liquidations of a validation run, with its scores."""

    hours: pd.DatetimeIndex
    map_long: FloatArray
    map_short: FloatArray
    base_long: FloatArray
    base_short: FloatArray
    real_long: FloatArray
    real_short: FloatArray

    def scores(self) -> dict[str, float | int | None]:
        """The validate-map JSON of INTERFACE.md §4, plus the baseline's hit rates."""
        return {
            "hours": len(self.hours),
            "spearman_long": _spearman(self.map_long, self.real_long),
            "spearman_short": _spearman(self.map_short, self.real_short),
            "baseline_spearman_long": _spearman(self.base_long, self.real_long),
            "baseline_spearman_short": _spearman(self.base_short, self.real_short),
            "top_decile_hit_long": top_decile_hit(self.map_long, self.real_long),
            "top_decile_hit_short": top_decile_hit(self.map_short, self.real_short),
            "baseline_top_decile_hit_long": top_decile_hit(self.base_long, self.real_long),
            "baseline_top_decile_hit_short": top_decile_hit(self.base_short, self.real_short),
        }


def score_map(
    store: Store,
    asset: str,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
    params: LiqMapParams | None = None,
    long_share: float | pd.Series | None = None,
    interval: str = "1h",
    candle_venue: str = "binance-usdm",
    oi_venue: str = P.OI_VENUE,
) -> MapValidation:
    """Validate the map on the hours of ``[start, end)`` (see the module docstring).

    Every read is ``store.as_of(table, end, since=...)``; the map of hour ``h`` uses only bars and
    OI with ``available_at <= h``. ``long_share`` (default: the dominance estimate
    ``features.liqmap.clusters.long_share_known_at``, each value used from the close of its OI bar
    on)
    splits new notional into longs and shorts.

    Raises
    ------
    DataError
        If no hour of the window has both a liquidation row and a 1h candle.
    """
    if end <= start:
        raise ConfigError(f"end must be after start; found start={start}, end={end}")
    params = params or LiqMapParams.default()
    since = start - timedelta(hours=params.lookback_hours + 48)
    liq = store.as_of("liquidations", end, since=start, venue="aggregate", asset=asset)
    liq = liq[liq["interval"] == "1h"]
    hourly = store.as_of(
        "candles", end, since=start, venue=candle_venue, asset=asset, interval="1h"
    )
    rows = liq.merge(hourly[["ts", "open", "high", "low", "close"]], on="ts", how="inner")
    if rows.empty:
        raise DataError(f"liquidations: no 1h {asset} row with a candle in [{start}, {end})")
    bars = store.as_of(
        "candles", end, since=since, venue=candle_venue, asset=asset, interval=interval
    )
    oi = store.as_of("open_interest", end, since=since, venue=oi_venue, asset=asset)
    if long_share is None:
        from levercast.features.liqmap.clusters import long_share_known_at

        long_share = long_share_known_at(store.at(end), asset)
    inputs = build_inputs(bars, oi, long_share=long_share)
    t_ns = pd.DatetimeIndex(rows["ts"]).as_unit("ns").asi8
    low = rows["low"].to_numpy(np.float64)
    high = rows["high"].to_numpy(np.float64)
    map_long, map_short = crossed_mass(inputs, params, t_ns, low_usd=low, high_usd=high)
    oi_known = oi.dropna(subset=["oi_usd"])
    oi_ns = pd.DatetimeIndex(oi_known["available_at"]).as_unit("ns").asi8
    pos = np.searchsorted(oi_ns, t_ns, side="right") - 1
    oi_at = np.where(pos >= 0, oi_known["oi_usd"].to_numpy(np.float64)[np.maximum(pos, 0)], np.nan)
    move = np.abs(rows["close"].to_numpy(np.float64) / rows["open"].to_numpy(np.float64) - 1.0)
    base = np.nan_to_num(oi_at * move)
    return MapValidation(
        hours=pd.DatetimeIndex(rows["ts"]),
        map_long=map_long,
        map_short=map_short,
        base_long=base,
        base_short=base,
        real_long=rows["long_usd"].to_numpy(np.float64),
        real_short=rows["short_usd"].to_numpy(np.float64),
    )


def _candidates(volume_fraction: float) -> list[tuple[str, LiqMapParams]]:
    out = []
    for name, (levs, weights, half_lives) in LADDERS.items():
        for scale in HALF_LIFE_SCALES:
            for lookback in LOOKBACKS_HOURS:
                params = LiqMapParams(
                    leverages=levs,
                    weights=tuple(float(w) for w in np.asarray(weights) / np.sum(weights)),
                    half_lives_hours=tuple(h * scale for h in half_lives),
                    mmr_rates=tier_mmr_rates(levs),
                    lookback_hours=lookback,
                    volume_open_fraction=volume_fraction,
                )
                out.append((f"{name} x{scale:g} lookback {lookback:g}h", params))
    return out


def volume_open_fraction(
    store: Store, asset: str, *, end: pd.Timestamp, oi_venue: str = P.OI_VENUE, days: int = 90
) -> float:
    """Ratio of summed OI-based new notional to summed traded volume over the ``days`` before
    ``end`` (the fallback used where OI is missing)."""
    since = end - timedelta(days=days)
    bars = store.as_of(
        "candles", end, since=since, venue="binance-usdm", asset=asset, interval="1h"
    )
    oi = store.as_of("open_interest", end, since=since, venue=oi_venue, asset=asset)
    inputs = build_inputs(bars, oi)
    resolved = inputs.known_ns < np.iinfo(np.int64).max
    volume = float(inputs.volume_usd[resolved].sum())
    return float(inputs.new_usd[resolved].sum() / volume) if volume > 0 else P.VOLUME_OPEN_FRACTION


def fit_params(
    store: Store, asset: str, *, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[str, LiqMapParams, list[dict[str, object]]]:
    """The grid candidate with the best mean (long, short) map Spearman over ``[start, end)``.

    Returns
    -------
    name, params, table
        The winner's label, its parameters, and every candidate's scores (best first).
    """
    fraction = volume_open_fraction(store, asset, end=start)
    table: list[dict[str, object]] = []
    best: tuple[float, str, LiqMapParams] | None = None  # (score, label, params)
    for name, params in _candidates(fraction):
        s = score_map(store, asset, start=start, end=end, params=params).scores()
        pair = [s["spearman_long"], s["spearman_short"]]
        score = float(np.nanmean([np.nan if v is None else float(v) for v in pair]))
        table.append({"candidate": name, "score": score, **s})
        if best is None or score > best[0]:
            best = (score, name, params)
    if best is None:
        raise DataError("fit_params: no candidate could be scored")
    table.sort(key=lambda row: -float(row["score"]))  # type: ignore[arg-type]
    return best[1], best[2], table


def map_sweep_task(task: dict[str, Any]) -> dict[str, Any]:
    """One point of a liquidation-map parameter sweep, scored like ``features validate-map``.

    ``task``: ``{"data", "asset", "start", "end", "params": {field: value}}`` where ``params``
    are ``LiqMapParams`` fields to change from the committed constants (e.g. ``lookback_hours``,
    ``half_lives_hours``). Returns the params and the validate-map scores.
    """
    changes = dict(task.get("params", {}))
    params = LiqMapParams.default().replace(**changes)
    validation = score_map(
        Store(task["data"]),
        task["asset"],
        start=pd.Timestamp(task["start"]),
        end=pd.Timestamp(task["end"]),
        params=params,
    )
    return {"params": changes, **validation.scores()}


def main(argv: list[str] | None = None) -> int:
    """``python -m levercast.experiments.studies.liquidation_map.fit --data DIR --asset BTC --start
    S --end E``: print the fit."""
    from levercast.features.timeutil import parse_utc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", required=True)
    parser.add_argument("--asset", default="BTC")
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    args = parser.parse_args(argv)
    start = pd.Timestamp(parse_utc(args.start, name="--start"))
    end = pd.Timestamp(parse_utc(args.end, name="--end"))
    name, params, table = fit_params(Store(args.data), args.asset, start=start, end=end)
    print(json.dumps({"best": name, "params": str(params), "table": table}, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
