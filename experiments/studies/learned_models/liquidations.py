"""Walk-forward study of the liquidation-volume model against the 90-day climatology.

``python -m levercast.experiments.studies.learned_models.liquidations [--data DIR]
[--asset BTC] [--start 2026-01-01] [--end 2026-02-28] [--every-hours 6] [--refit-days 7]``
prints Markdown tables (stdout), progress on stderr.

Protocol
    Decisions every ``--every-hours`` from ``--start``; windows ``[t, t + h)`` for every
    horizon of ``LIQ_HORIZONS_HOURS`` and side (long, short, total), kept when their sum is known
    (labels: ``experiments.labels.liquidations``). The model serving decisions in
    ``[F, F + refit)`` is fitted by ``experiments.learning.liquidations.fit_liquidation_model``
    with ``cut = F - 168 h`` (every training window ended before ``F``).
    The climatology at ``t``: the sums of the windows of the same side and length ending hourly in
    ``(t - 90 d, t]`` (all known at ``t``), i.e. the trailing empirical distribution.
Scores
    CRPS from the quantiles ``QUANTILES`` on the ``log1p(USD)`` scale
    (``models.learned.liquidation_volume.crps_from_quantiles``: trapezoid-weighted pinball
    losses; the climatology's quantiles are its empirical quantiles at the same levels), and the
    Brier score of P(sum > X) at thresholds X = the 50th, 75th and 90th percentiles of the window
    sums known at the fold's cut (per side and horizon). CIs: 90 % bootstrap over calendar days of
    the decision (``models.scoring``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Final

import numpy as np
import pandas as pd

from levercast.experiments.labels.liquidations import liquidation_buckets_of, liquidation_sums
from levercast.experiments.learning.liquidations import PURGE, fit_liquidation_model
from levercast.features.dataset.store import Store
from levercast.features.liquidation_inputs import liquidation_features
from levercast.features.liquidation_windows import SIDES
from levercast.models.learned.liquidation_volume import (
    LIQ_HORIZONS_HOURS,
    QUANTILES,
    crps_from_quantiles,
)
from levercast.models.scoring import block_bootstrap_mean, block_bootstrap_skill, brier_loss

__all__ = ["main", "run_study"]

THRESHOLD_LEVELS: Final = (0.5, 0.75, 0.9)
CLIMATOLOGY: Final = pd.Timedelta(days=90)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _hourly_sums(store: Store, asset: str, first: pd.Timestamp, last: pd.Timestamp) -> dict:
    """Window sums ending every hour in ``[first, last]`` per (side, h)."""
    ends = pd.date_range(first, last, freq="1h")
    out = {}
    for side in SIDES:
        for h in LIQ_HORIZONS_HOURS:
            starts = ends - pd.Timedelta(hours=h)
            sums = liquidation_sums(store, asset, starts, ends, np.full(len(ends), side))
            out[side, h] = pd.Series(sums, index=ends)
    return out


def run_study(
    store: Store,
    *,
    asset: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    every_hours: float,
    refit_days: float,
) -> pd.DataFrame:
    """One row per scored window: outcome, model and climatology log-quantiles, thresholds."""
    buckets = liquidation_buckets_of(store, asset)
    first_bucket = pd.Timestamp(buckets["ts"].min())
    sums = _hourly_sums(store, asset, first_bucket + pd.Timedelta(hours=1), end)
    pieces = []
    fold = pd.Timedelta(days=refit_days)
    begin = start
    while begin < end:
        stop = min(begin + fold, end)
        cut = begin - PURGE
        clock = time.perf_counter()
        model = fit_liquidation_model(store, assets=(asset,), cut=cut)
        fit_s = time.perf_counter() - clock
        times = pd.date_range(begin, stop, freq=pd.Timedelta(hours=every_hours), inclusive="left")
        if model is None:
            _log(f"fold {begin.date()}: no model (too little history before {cut})")
            begin = stop
            continue
        features = liquidation_features(store, asset, times).reset_index(drop=True)
        grid = pd.MultiIndex.from_product(
            [range(len(times)), LIQ_HORIZONS_HOURS, SIDES], names=["i", "h", "side"]
        ).to_frame(index=False)
        grid["t"] = times[grid["i"].to_numpy()]
        t_end = pd.DatetimeIndex(grid["t"]) + pd.to_timedelta(grid["h"], unit="h")
        grid["y_usd"] = [
            sums[side, h].get(e, np.nan)
            for side, h, e in zip(grid["side"], grid["h"], t_end, strict=True)
        ]
        grid = grid[np.isfinite(grid["y_usd"])].reset_index(drop=True)
        rows_features = features.iloc[grid["i"].to_numpy()].reset_index(drop=True)
        q_model = model.log_quantiles(
            rows_features, grid["h"].to_numpy(float), grid["side"].to_numpy(str)
        )
        q_clim = np.full_like(q_model, np.nan)
        thresholds = {}
        for (side, h), series in sums.items():
            known = series[series.index <= cut].dropna()
            if len(known):
                thresholds[side, h] = np.quantile(known.to_numpy(), THRESHOLD_LEVELS)
        for k, (side, h, t) in enumerate(zip(grid["side"], grid["h"], grid["t"], strict=True)):
            series = sums[side, h]
            window = series[(series.index > t - CLIMATOLOGY) & (series.index <= t)].dropna()
            if len(window):
                q_clim[k] = np.quantile(np.log1p(window.to_numpy()), QUANTILES)
        for j, level in enumerate(THRESHOLD_LEVELS):
            thr = np.array(
                [
                    thresholds.get((s, h), np.full(3, np.nan))[j]
                    for s, h in zip(grid["side"], grid["h"], strict=True)
                ]
            )
            grid[f"thr_{level:g}"] = thr
            grid[f"p_model_{level:g}"] = model.prob_above(
                rows_features, grid["h"].to_numpy(float), grid["side"].to_numpy(str), thr
            )
            grid[f"p_clim_{level:g}"] = [
                float(
                    (
                        sums[s, h][(sums[s, h].index > t - CLIMATOLOGY) & (sums[s, h].index <= t)]
                        .dropna()
                        .to_numpy()
                        > x
                    ).mean()
                )
                for s, h, t, x in zip(grid["side"], grid["h"], grid["t"], thr, strict=True)
            ]
        grid["crps_model"] = crps_from_quantiles(q_model, np.log1p(grid["y_usd"].to_numpy()))
        grid["crps_clim"] = crps_from_quantiles(q_clim, np.log1p(grid["y_usd"].to_numpy()))
        _log(
            f"fold {begin.date()}..{stop.date()}: fit {fit_s:.1f} s on {model.n_rows} windows, "
            f"{len(grid)} scored windows"
        )
        pieces.append(grid)
        begin = stop
    return pd.concat(pieces, ignore_index=True)


def _days(frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(frame["t"]).floor("D").asi8)


def render(frame: pd.DataFrame) -> str:
    """Markdown tables by side x horizon (and all)."""
    lines = [
        "| side | horizon h | windows | days | CRPS model | CRPS climatology | "
        "model - climatology [90 % CI] | Brier model | Brier climatology | "
        "Brier skill vs climatology [90 % CI] |",
        "|" + "---|" * 10,
    ]
    cells = [("all", "all", frame)]
    for (side, h), group in frame.groupby(["side", "h"]):
        cells.append((side, f"{h:g}", group))
    for side, h, group in cells:
        ok = np.isfinite(group["crps_clim"]).to_numpy()
        g = group[ok]
        diff = block_bootstrap_mean(
            g["crps_model"].to_numpy() - g["crps_clim"].to_numpy(), _days(g)
        )
        p_model, p_clim, y = [], [], []
        for level in THRESHOLD_LEVELS:
            sel = np.isfinite(g[f"thr_{level:g}"]).to_numpy()
            p_model.append(g.loc[sel, f"p_model_{level:g}"].to_numpy())
            p_clim.append(g.loc[sel, f"p_clim_{level:g}"].to_numpy())
            y.append((g.loc[sel, "y_usd"] > g.loc[sel, f"thr_{level:g}"]).to_numpy(float))
        pm, pc, yy = np.concatenate(p_model), np.concatenate(p_clim), np.concatenate(y)
        days = np.concatenate([_days(g[np.isfinite(g[f"thr_{lv:g}"])]) for lv in THRESHOLD_LEVELS])
        skill = block_bootstrap_skill(pm, pc, yy, days)
        lines.append(
            f"| {side} | {h} | {len(g)} | {g['t'].dt.floor('D').nunique()} | "
            f"{g['crps_model'].mean():.4f} | {g['crps_clim'].mean():.4f} | "
            f"{diff.value:+.4f} [{diff.ci_low:+.4f}, {diff.ci_high:+.4f}] | "
            f"{brier_loss(pm, yy):.4f} | {brier_loss(pc, yy):.4f} | "
            f"{skill.value:+.4f} [{skill.ci_low:+.4f}, {skill.ci_high:+.4f}] |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the study and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m levercast.experiments.studies.learned_models.liquidations"
    )
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--asset", default="BTC")
    parser.add_argument("--start", default="2026-01-01T00:00Z")
    parser.add_argument("--end", default="2026-02-28T00:00Z")
    parser.add_argument("--every-hours", type=float, default=6.0)
    parser.add_argument("--refit-days", type=float, default=7.0)
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    frame = run_study(
        Store(args.data),
        asset=args.asset,
        start=pd.Timestamp(args.start),
        end=pd.Timestamp(args.end),
        every_hours=args.every_hours,
        refit_days=args.refit_days,
    )
    print(render(frame))
    _log(f"study done in {time.perf_counter() - clock:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
