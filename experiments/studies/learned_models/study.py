"""Walk-forward study: does leverage help the learned forecaster? ``default`` vs ``default_vol``.

``python -m levercast.experiments.studies.learned_models.study [--data DIR] [--start 2025-03-01]
[--holdout-start 2026-01-31] [--end 2026-02-28] [--fold-days 120] [--save FILE.parquet]`` prints
Markdown tables (stdout) and progress (stderr).

Models, refitted per fold on ``--assets`` pooled
    ``gbm`` (closed form, EWMA vol); ``default_vol`` (the learned/default forecaster on the
    volatility features only: ``TrainingConfig().vol_only()``); ``default_lev`` (the same with the
    contract-relative leverage features of ``models.learned.leverage`` in every event family);
    on the held-out period also ``shipped`` (the leverage model answers the families chosen
    below, a volatility-only companion fitted on the same rows the others).

Protocol
    Folds of ``--fold-days`` from ``--start``; the fold starting at ``F`` is predicted by fits
    with ``cut = F - purge`` (purge = the longest horizon, 30 d), so every training label
    resolved before ``F``; test contracts are the grid at decisions every ``--every-hours``,
    labelled by the outcome reader (rows with unknown outcomes dropped). CIs: 90 % bootstrap
    over calendar days of the decision time (``models.scoring.block_bootstrap_skill``).

Selection, then a held-out period (never looked at while choosing)
    Folds from ``--start`` to ``--holdout-start`` form the selection period; on it the rule, fixed
    before any run, is: an event family is answered by the leverage model when the 90 % CI of the
    Brier skill of ``default_lev`` over ``default_vol`` on the kinds it prices in ``default`` is
    above zero (``touch`` family: touch rows; ``terminal_beyond``: close_above, close_below, move,
    up_down rows; range and first_of are ``gbm`` in ``default``). The held-out period
    (``--holdout-start`` to ``--end``) is then scored once for every model, ``shipped`` included.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from levercast.experiments.learning.fitting import fit_default
from levercast.experiments.learning.training_set import (
    TrainingConfig,
    label_grid,
    leverage_inputs,
)
from levercast.features.dataset.store import Store
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.learned.design import BASE_FEATURES, CONTRACT_COLUMNS
from levercast.models.learned.forecaster import FittedForecaster
from levercast.models.pricing.market_state import market_inputs
from levercast.models.scoring import (
    block_bootstrap_skill,
    brier_loss,
    expected_calibration_error,
    log_loss,
)

__all__ = ["choose_families", "main", "render", "run_study"]

KIND_ORDER: Final = ("touch", "move", "close_above", "close_below", "up_down", "range", "first_of")
FAMILY_KINDS: Final = {
    "touch": ("touch",),
    "terminal_beyond": ("close_above", "close_below", "move", "up_down"),
}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _importance(fitted: FittedForecaster) -> str:
    """The ten design columns with the largest LightGBM split gain (share of the total)."""
    booster = fitted.lightgbm.base_estimator_.booster_
    gain = np.asarray(booster.feature_importance(importance_type="gain"), dtype=float)
    columns = [*CONTRACT_COLUMNS, *fitted.features, *fitted.leverage]
    share = gain / gain.sum() if gain.sum() > 0 else gain
    order = np.argsort(-share)
    return ", ".join(f"{columns[i]} {share[i]:.3f}" for i in order[:10])


def _fold(
    store: Store,
    *,
    assets: tuple[str, ...],
    begin: pd.Timestamp,
    stop: pd.Timestamp,
    every_hours: float,
    configs: dict[str, TrainingConfig],
) -> pd.DataFrame:
    times = pd.date_range(begin, stop, freq=pd.Timedelta(hours=every_hours), inclusive="left")
    base = next(iter(configs.values()))
    grid = contract_grid(
        pd.concat([market_inputs(store, a, times) for a in assets], ignore_index=True),
        horizons_hours=base.horizons_hours,
    )
    grid["y"] = label_grid(store, grid)["y"]
    grid = grid[grid["y"].notna()].reset_index(drop=True)
    cut = begin - base.purge
    features, maps = leverage_inputs(store, grid[["asset", "t"]], BASE_FEATURES)
    for name, config in configs.items():
        clock = time.perf_counter()
        fitted = fit_default(
            store, assets=assets, cut=cut, config=config, logistic=False, liquidations=False
        )
        pred = fitted.predict(grid, features, maps)
        if "prob_gbm" not in grid:
            grid["prob_gbm"] = pred["prob_gbm"].to_numpy()
        grid[f"prob_{name}"] = pred["prob_default"].to_numpy()
        _log(
            f"fold {begin.date()}..{stop.date()} {name}: {len(grid)} rows, fit+predict "
            f"{time.perf_counter() - clock:.0f} s, {fitted.n_rows} training rows, features "
            f"{len(fitted.features)} + {len(fitted.leverage)} leverage; gain: {_importance(fitted)}"
        )
        dropped = {k: v for k, v in fitted.excluded.items() if k.startswith("lev_")}
        if config.use_leverage and dropped:
            _log(f"  leverage features left out: {dropped}")
    grid["fold_start"] = begin
    return grid


def run_study(
    store: Store,
    *,
    assets: tuple[str, ...],
    start: pd.Timestamp,
    holdout_start: pd.Timestamp,
    end: pd.Timestamp,
    fold_days: float,
    every_hours: float,
    config: TrainingConfig,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Out-of-sample predictions (one frame, ``holdout`` marks the held-out rows) and the
    families chosen for leverage on the selection folds."""
    fold = pd.Timedelta(days=fold_days)
    vol = config.vol_only()
    lev = replace(config, use_leverage=True, leverage_families=None)
    pieces = []
    begin = start
    while begin < holdout_start:
        stop = min(begin + fold, holdout_start)
        configs = {"default_vol": vol, "default_lev": lev}
        piece = _fold(
            store, assets=assets, begin=begin, stop=stop, every_hours=every_hours, configs=configs
        )
        pieces.append(piece.assign(holdout=False))
        begin = stop
    selection = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()
    families = choose_families(selection) if len(selection) else ()
    _log(f"selection period: leverage chosen for families {list(families) or 'none'}")
    if holdout_start < end:
        configs = {"default_vol": vol, "default_lev": lev}
        if families and set(families) != set(FAMILY_KINDS):
            configs["shipped"] = replace(lev, leverage_families=tuple(families))
        piece = _fold(
            store,
            assets=assets,
            begin=holdout_start,
            stop=end,
            every_hours=every_hours,
            configs=configs,
        )
        if "prob_shipped" not in piece:
            piece["prob_shipped"] = piece["prob_default_lev" if families else "prob_default_vol"]
        pieces.append(piece.assign(holdout=True))
    return pd.concat(pieces, ignore_index=True), families


def _days(frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(frame["t"].dt.floor("D").astype("int64").to_numpy())


def _skill(frame: pd.DataFrame, model: str, reference: str) -> tuple[float, float, float]:
    est = block_bootstrap_skill(
        frame[model].to_numpy(float),
        frame[reference].to_numpy(float),
        frame["y"].to_numpy(float),
        _days(frame),
    )
    return est.value, est.ci_low, est.ci_high


def choose_families(selection: pd.DataFrame) -> tuple[str, ...]:
    """Families whose leverage skill over ``default_vol`` has a 90 % CI above zero."""
    chosen = []
    for family, kinds in FAMILY_KINDS.items():
        rows = selection[selection["kind"].isin(kinds)]
        if len(rows) and _skill(rows, "prob_default_lev", "prob_default_vol")[1] > 0:
            chosen.append(family)
    return tuple(chosen)


def _fmt(value: tuple[float, float, float]) -> str:
    v, lo, hi = value
    return f"{v:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def _kind_key(kind: str) -> int:
    return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)


def _cells(frame: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    cells = [("all", "all", frame)]
    for kind in sorted(frame["kind"].unique(), key=_kind_key):
        sub = frame[frame["kind"] == kind]
        cells.append((kind, "all", sub))
        for hours, group in sub.groupby("horizon_hours"):
            cells.append((kind, f"{hours:g}", group))
    return cells


def render(frame: pd.DataFrame, model: str, *, title: str) -> str:
    """Markdown table: ``model`` vs ``default_vol`` and both vs ``gbm`` by kind x horizon."""
    lines = [
        f"### {title}",
        "",
        f"| kind | horizon h | n | days | Brier gbm | Brier default_vol | Brier {model} | "
        f"{model} vs default_vol [90 % CI] | {model} vs gbm | default_vol vs gbm | "
        f"ECE gbm | ECE default_vol | ECE {model} |",
        "|" + "---|" * 13,
    ]
    prob = f"prob_{model}"
    for kind, hours, group in _cells(frame):
        y = group["y"].to_numpy(float)
        brier = {
            m: brier_loss(group[m].to_numpy(float), y)
            for m in ("prob_gbm", "prob_default_vol", prob)
        }
        ece = {
            m: expected_calibration_error(group[m].to_numpy(float), y)
            for m in ("prob_gbm", "prob_default_vol", prob)
        }
        lines.append(
            f"| {kind} | {hours} | {len(group)} | {group['t'].dt.floor('D').nunique()} | "
            f"{brier['prob_gbm']:.4f} | {brier['prob_default_vol']:.4f} | {brier[prob]:.4f} | "
            f"{_fmt(_skill(group, prob, 'prob_default_vol'))} | "
            f"{_fmt(_skill(group, prob, 'prob_gbm'))} | "
            f"{_fmt(_skill(group, 'prob_default_vol', 'prob_gbm'))} | "
            f"{ece['prob_gbm']:.4f} | {ece['prob_default_vol']:.4f} | {ece[prob]:.4f} |"
        )
    lines += ["", _log_loss_line(frame, prob)]
    return "\n".join(lines)


def _log_loss_line(frame: pd.DataFrame, prob: str) -> str:
    y = frame["y"].to_numpy(float)
    parts = [
        f"{m.removeprefix('prob_')} {log_loss(frame[m].to_numpy(float), y):.4f}"
        for m in ("prob_gbm", "prob_default_vol", prob)
    ]
    return "Log loss (all rows): " + ", ".join(parts) + "."


def main(argv: list[str] | None = None) -> int:
    """Run the study and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m levercast.experiments.studies.learned_models.study"
    )
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--assets", default="BTC,ETH")
    parser.add_argument("--start", default="2025-03-01T00:00Z")
    parser.add_argument("--holdout-start", default="2026-01-31T00:00Z")
    parser.add_argument("--end", default="2026-02-28T00:00Z")
    parser.add_argument("--fold-days", type=float, default=120.0)
    parser.add_argument("--every-hours", type=float, default=12.0)
    parser.add_argument("--train-every-hours", type=float, default=24.0)
    parser.add_argument("--history-days", type=float, default=540.0)
    parser.add_argument("--save", default=None, help="write the predictions (Parquet)")
    args = parser.parse_args(argv)
    config = TrainingConfig(
        decision_every_hours=args.train_every_hours, history_days=args.history_days
    )
    clock = time.perf_counter()
    frame, families = run_study(
        Store(args.data),
        assets=tuple(args.assets.split(",")),
        start=pd.Timestamp(args.start),
        holdout_start=pd.Timestamp(args.holdout_start),
        end=pd.Timestamp(args.end),
        fold_days=args.fold_days,
        every_hours=args.every_hours,
        config=config,
    )
    if args.save:
        frame.to_parquet(Path(args.save), index=False)
    selection, holdout = frame[~frame["holdout"]], frame[frame["holdout"]]
    out = []
    if len(selection):
        out.append(
            render(
                selection,
                "default_lev",
                title=f"Selection period ({selection['t'].min().date()} .. "
                f"{selection['t'].max().date()})",
            )
        )
        out.append(f"\nLeverage chosen for families: {list(families) or 'none'}\n")
    if len(holdout):
        span = f"{holdout['t'].min().date()} .. {holdout['t'].max().date()}"
        out.append(render(holdout, "default_lev", title=f"Held-out ({span}): leverage in all"))
        out.append(render(holdout, "shipped", title=f"Held-out ({span}): shipped default"))
    print("\n\n".join(out))
    _log(f"study done in {time.perf_counter() - clock:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
