"""Walk-forward QLIKE of volatility forecasts: EWMA vs HAR vs HAR with leverage regressors.

``python -m levercast.experiments.studies.volatility.study [--data DIR] [--assets BTC,ETH]
[--start 2023-01-01] [--end 2026-02-27] [--venue bitget-usdtm]`` prints Markdown tables
(stdout), progress on stderr.

Forecasts of the average daily realised variance over the next ``h`` days (h = 1, 7), made at
each day end ``t`` from data known at ``t`` only:

- ``ewma``: the ``gbm`` volatility (``features.prices``: EWMA of hourly squared log returns,
  7-day half-life) squared, per day; the same forecast for every horizon;
- ``har_level``: ``models.pricing.volatility.har_vol`` (the ``gbm-har`` pricer's estimate: OLS
  HAR on daily RV over the last 365 days);
- ``har``: the log-HAR of ``models.pricing.har_regression`` (daily, weekly, monthly log RV);
- ``harx``: the same plus leverage regressors known at ``t`` (the feature frame): one-day OI
  change, funding rate and its absolute value;
- ``harx_elr`` (BTC, while reserves exist): plus the 7-day ELR change; ``harx_liq`` would add
  the 24 h liquidation total / OI but the liquidation table spans about 100 days, fewer than a
  fit needs with an out-of-sample period after it: reported as not estimable.

Walk-forward: the log-HARs are refitted every ``--refit-days`` on every day whose target window
ended before the refit day (expanding window). Realised variance of day ``d``: sum of squared
log returns of consecutive hourly bars opening in ``d``, scaled by 24 / count (days with under
20 returns are skipped). Scores: mean QLIKE; the difference to ``ewma`` with a 90 % bootstrap
CI over non-overlapping blocks of ``max(14, 2h)`` days (``models.scoring.block_bootstrap_mean``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Final

import numpy as np
import pandas as pd

from levercast.features.dataset.store import Store
from levercast.features.frame.frame import compute_feature_frame
from levercast.features.prices import hourly_series
from levercast.models.pricing.har_regression import (
    fit_har,
    har_design,
    qlike,
    realised_target,
)
from levercast.models.pricing.volatility import har_vol
from levercast.models.scoring import block_bootstrap_mean

__all__ = ["daily_realised_variance", "forecasts", "main"]

HORIZONS_DAYS: Final = (1, 7)
REGRESSORS: Final = {
    "harx": ("oi_change_1d", "funding_rate_8h", "abs_funding"),
    "harx_elr": ("oi_change_1d", "funding_rate_8h", "abs_funding", "elr_change_7d"),
}
FRAME_NAMES: Final = ("oi_change_1d", "funding_rate_8h", "elr_change_7d")
_NS_HOUR: Final = 3_600_000_000_000


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def daily_realised_variance(
    open_ns: np.ndarray, close: np.ndarray, days: pd.DatetimeIndex
) -> np.ndarray:
    """Realised variance of each day (module docstring); NaN with under 20 returns."""
    ret = np.diff(np.log(close))
    consecutive = np.diff(open_ns) == _NS_HOUR
    start = open_ns[1:]
    day_ns = np.asarray(days.as_unit("ns").asi8)
    which = np.searchsorted(day_ns, start, side="right") - 1
    ok = consecutive & np.isfinite(ret) & (which >= 0) & (which < len(days))
    sq = np.bincount(which[ok], weights=ret[ok] ** 2, minlength=len(days))
    count = np.bincount(which[ok], minlength=len(days))
    return np.where(count >= 20, sq * 24.0 / np.maximum(count, 1), np.nan)


def forecasts(
    store: Store, asset: str, *, venue: str, start: pd.Timestamp, end: pd.Timestamp, refit_days: int
) -> pd.DataFrame:
    """One row per (day end t, horizon): realised target and every model's variance forecast."""
    series = hourly_series(store, venue, asset, until=end + pd.Timedelta(days=8))
    if series is None:
        raise SystemExit(f"no {venue} 1h candles of {asset}")
    first_day = pd.Timestamp(series.open_ns[0], tz="UTC").ceil("D")
    days = pd.date_range(first_day, end + pd.Timedelta(days=7), freq="1D")
    rv = daily_realised_variance(series.open_ns, series.close, days)
    ends = days + pd.Timedelta(days=1)  # the forecast is made at the end of day d
    frame = compute_feature_frame(store, asset, ends, names=list(FRAME_NAMES)).frame
    extra = {
        "oi_change_1d": frame["oi_change_1d"].to_numpy(float),
        "funding_rate_8h": frame["funding_rate_8h"].to_numpy(float),
        "abs_funding": np.abs(frame["funding_rate_8h"].to_numpy(float)),
        "elr_change_7d": frame["elr_change_7d"].to_numpy(float),
    }
    ewma = series.vol_at(np.asarray(ends.as_unit("ns").asi8)).vol_annual ** 2 / 365.0
    evaluate = (ends > start) & (ends <= end)
    pieces = []
    for h in HORIZONS_DAYS:
        target = realised_target(rv, h)
        out = pd.DataFrame({"t": ends, "horizon_days": h, "realised": target, "ewma": ewma})
        out["har_level"] = np.nan
        for i in np.flatnonzero(evaluate):
            returns = _returns_until(series.open_ns, series.close, ends[i])
            try:
                out.loc[i, "har_level"] = (har_vol(returns, horizon_hours=24.0 * h) ** 2) / 365
            except Exception:  # too little history: no forecast that day
                continue
        for model, names in (("har", ()), *REGRESSORS.items()):
            X, _ = har_design(rv, {n: extra[n] for n in names})
            out[model] = _walk_forward(X, target, ends, evaluate, h, refit_days)
        out["asset"] = asset
        pieces.append(out[evaluate & np.isfinite(target)])
    return pd.concat(pieces, ignore_index=True)


def _returns_until(open_ns: np.ndarray, close: np.ndarray, t: pd.Timestamp) -> np.ndarray:
    known = open_ns + _NS_HOUR <= t.value
    c, o = close[known], open_ns[known]
    ret = np.diff(np.log(c))[np.diff(o) == _NS_HOUR]
    return np.asarray(ret[np.isfinite(ret)][-(24 * 400) :])


def _walk_forward(
    X: np.ndarray,
    target: np.ndarray,
    ends: pd.DatetimeIndex,
    evaluate: np.ndarray,
    horizon_days: int,
    refit_days: int,
) -> np.ndarray:
    out = np.full(len(target), np.nan)
    idx = np.flatnonzero(evaluate)
    for block in range(0, len(idx), refit_days):
        rows = idx[block : block + refit_days]
        refit = ends[rows[0]]
        # a training row's target window ends at ends[j] + h days: before the refit day
        known = np.asarray(ends + pd.Timedelta(days=horizon_days) <= refit)
        try:
            fit = fit_har(X[known], target[known])
        except Exception:  # too few complete rows yet (e.g. a regressor starts later)
            continue
        complete = np.isfinite(X[rows]).all(axis=1)
        out[rows[complete]] = fit.predict_variance(X[rows[complete]])
    return out


def _table(frame: pd.DataFrame) -> str:
    models = ["ewma", "har_level", "har", "harx", "harx_elr"]
    lines = [
        "| asset | h (days) | model | days | mean QLIKE | minus ewma [90 % CI] | "
        "minus har [90 % CI] | minus har_level [90 % CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (asset, h), group in frame.groupby(["asset", "horizon_days"]):
        block_days = max(14, 2 * int(h))
        for model in models:
            rows = group[np.isfinite(group[model]) & np.isfinite(group["realised"])]
            if rows.empty:
                lines.append(f"| {asset} | {h} | {model} | 0 | not estimable | - | - | - |")
                continue
            loss = qlike(rows["realised"], rows[model])
            blocks = (rows["t"] - rows["t"].min()).dt.days.to_numpy() // block_days
            cells = []
            for ref in ("ewma", "har", "har_level"):
                ref_loss = qlike(rows["realised"], rows[ref])
                ok = np.isfinite(loss) & np.isfinite(ref_loss)
                if model == ref or not ok.any():
                    cells.append("-")
                    continue
                est = block_bootstrap_mean(loss[ok] - ref_loss[ok], blocks[ok])
                cells.append(f"{est.value:+.4f} [{est.ci_low:+.4f}, {est.ci_high:+.4f}]")
            lines.append(
                f"| {asset} | {h} | {model} | {len(rows)} | {np.nanmean(loss):.4f} | "
                f"{cells[0]} | {cells[1]} | {cells[2]} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the study and print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m levercast.experiments.studies.volatility.study"
    )
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--assets", default="BTC,ETH")
    parser.add_argument("--start", default="2023-01-01T00:00Z")
    parser.add_argument("--end", default="2026-02-20T00:00Z")
    parser.add_argument("--venue", default="bitget-usdtm")
    parser.add_argument("--refit-days", type=int, default=30)
    args = parser.parse_args(argv)
    clock = time.perf_counter()
    store = Store(args.data)
    pieces = []
    for asset in args.assets.split(","):
        pieces.append(
            forecasts(
                store,
                asset,
                venue=args.venue,
                start=pd.Timestamp(args.start),
                end=pd.Timestamp(args.end),
                refit_days=args.refit_days,
            )
        )
        _log(f"{asset}: forecasts done ({time.perf_counter() - clock:.0f} s)")
    frame = pd.concat(pieces, ignore_index=True)
    print(_table(frame))
    _log(f"study done in {time.perf_counter() - clock:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
