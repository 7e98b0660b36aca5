"""Walk-forward study of the learned and default forecasters against ``gbm``.

``python -m levercast.experiments.studies.learned_models.study [--data DIR] [--start 2025-03-01]
[--end 2026-01-31]``
prints Markdown tables: out-of-sample Brier and log loss by kind and horizon for ``gbm``,
``learned``, ``default`` and ``default`` with the leverage features added, skill vs ``gbm`` with
day-clustered 90 % bootstrap CIs, and the leverage ablation on the same rows.

Protocol: folds of ``--fold-days`` from ``--start``; the fold starting at ``F`` is predicted by
fits with ``cut = F - purge`` (so every training label resolved before ``F``), trained on
``--assets`` pooled; test contracts are the grid at decisions every ``--every-hours`` in the
fold, labelled by the outcome reader (rows with unknown outcomes dropped).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import pandas as pd

from levercast.experiments.learning.fitting import fit_default
from levercast.experiments.learning.training_set import TrainingConfig, features_for, label_grid
from levercast.features.dataset.store import Store
from levercast.models.learned.contract_grid import contract_grid
from levercast.models.pricing.market_state import market_inputs
from levercast.models.scoring import (
    block_bootstrap_skill,
    brier_loss,
    expected_calibration_error,
    log_loss,
)

__all__ = ["main", "run_study"]

MODELS = ("prob_gbm", "prob_learned", "prob_default", "prob_default_leverage")


def run_study(
    store: Store,
    *,
    assets: tuple[str, ...],
    start: pd.Timestamp,
    end: pd.Timestamp,
    fold_days: float,
    every_hours: float,
    config: TrainingConfig,
) -> pd.DataFrame:
    """Out-of-sample predictions of every model on labelled grid rows (one frame)."""
    pieces = []
    fold = pd.Timedelta(days=fold_days)
    begin = start
    while begin < end:
        stop = min(begin + fold, end)
        times = pd.date_range(begin, stop, freq=pd.Timedelta(hours=every_hours), inclusive="left")
        grid = contract_grid(
            pd.concat([market_inputs(store, a, times) for a in assets], ignore_index=True),
            horizons_hours=config.horizons_hours,
        )
        grid["y"] = label_grid(store, grid)["y"]
        grid = grid[grid["y"].notna()].reset_index(drop=True)
        cut = begin - config.purge
        clock = time.perf_counter()
        default = fit_default(store, assets=assets, cut=cut, config=config, liquidations=False)
        leverage = fit_default(
            store,
            assets=assets,
            cut=cut,
            config=replace(config, use_leverage=True),
            logistic=False,
            liquidations=False,
        )
        features = features_for(store, grid[["asset", "t"]])
        pred = default.predict(grid, features)
        grid = pd.concat([grid, pred], axis=1)
        grid["prob_default_leverage"] = leverage.predict(grid, features)["prob_default"]
        print(
            f"fold {begin.date()}..{stop.date()}: {len(grid)} rows, fits "
            f"{time.perf_counter() - clock:.0f} s, features {len(default.features)} vs "
            f"{len(leverage.features)} with leverage: {', '.join(leverage.features)}",
            file=sys.stderr,
        )
        pieces.append(grid)
        begin = stop
    return pd.concat(pieces, ignore_index=True)


def _scores(frame: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {
        "n": float(len(frame)),
        "days": float(frame["t"].dt.floor("D").nunique()),
    }
    y = frame["y"].to_numpy(float)
    for model in MODELS:
        out[f"brier:{model}"] = brier_loss(frame[model].to_numpy(float), y)
        out[f"log:{model}"] = log_loss(frame[model].to_numpy(float), y)
    return out


def _skill(frame: pd.DataFrame, model: str, reference: str) -> str:
    days = frame["t"].dt.floor("D").astype("int64").to_numpy()
    est = block_bootstrap_skill(
        frame[model].to_numpy(float),
        frame[reference].to_numpy(float),
        frame["y"].to_numpy(float),
        days,
    )
    return f"{est.value:+.4f} [{est.ci_low:+.4f}, {est.ci_high:+.4f}]"


def render(frame: pd.DataFrame) -> str:
    """Markdown tables of the study frame."""
    lines = [
        "| kind | horizon h | n | days | Brier gbm | Brier learned | Brier default | "
        "Brier default + leverage | log gbm | log default |",
        "|" + "---|" * 10,
    ]
    for (kind, hours), group in frame.groupby(["kind", "horizon_hours"]):
        s = _scores(group)
        lines.append(
            f"| {kind} | {hours:g} | {int(s['n'])} | {int(s['days'])} | "
            f"{s['brier:prob_gbm']:.4f} | "
            f"{s['brier:prob_learned']:.4f} | {s['brier:prob_default']:.4f} | "
            f"{s['brier:prob_default_leverage']:.4f} | {s['log:prob_gbm']:.4f} | "
            f"{s['log:prob_default']:.4f} |"
        )
    lines += [
        "",
        "| rows | model | Brier | log loss | ECE | skill vs gbm [90 % CI, day blocks] |",
        "|---|---|---|---|---|---|",
    ]
    for label, group in [("all", frame), *list(frame.groupby("kind"))]:
        for model in MODELS:
            p = group[model].to_numpy(float)
            y = group["y"].to_numpy(float)
            lines.append(
                f"| {label} | {model.removeprefix('prob_')} | {brier_loss(p, y):.4f} | "
                f"{log_loss(p, y):.4f} | {expected_calibration_error(p, y):.4f} | "
                f"{_skill(group, model, 'prob_gbm') if model != 'prob_gbm' else '-'} |"
            )
    lines += [
        "",
        "Leverage ablation (skill of default + leverage features over default, same rows):",
        "",
        "| rows | skill [90 % CI, day blocks] |",
        "|---|---|",
    ]
    for label, group in [("all", frame), *list(frame.groupby("kind"))]:
        lines.append(f"| {label} | {_skill(group, 'prob_default_leverage', 'prob_default')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the study and print the tables."""
    parser = argparse.ArgumentParser(
        prog="python -m levercast.experiments.studies.learned_models.study"
    )
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--assets", default="BTC,ETH")
    parser.add_argument("--start", default="2025-03-01T00:00Z")
    parser.add_argument("--end", default="2026-01-31T00:00Z")
    parser.add_argument("--fold-days", type=float, default=120.0)
    parser.add_argument("--every-hours", type=float, default=12.0)
    parser.add_argument("--train-every-hours", type=float, default=24.0)
    parser.add_argument("--history-days", type=float, default=540.0)
    args = parser.parse_args(argv)
    config = TrainingConfig(
        decision_every_hours=args.train_every_hours, history_days=args.history_days
    )
    frame = run_study(
        Store(args.data),
        assets=tuple(args.assets.split(",")),
        start=pd.Timestamp(args.start),
        end=pd.Timestamp(args.end),
        fold_days=args.fold_days,
        every_hours=args.every_hours,
        config=config,
    )
    print(render(frame))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
