"""Fit budget of the default (issue 22): cheaper walk-forward fits against the shipped ones.

``python -m levercast.experiments.studies.fit_budget.study [--data DIR] [--assets BTC,ETH]
[--start 2024-01-01T00:00Z] [--end 2024-12-31T23:00Z] [--json]`` prints a Markdown table
(stdout; ``--json`` for machines), progress on stderr. The candidates, the score and the
decision rule were registered before the first run (README.md beside this file).

For every asset and candidate one ``gbm,default`` backtest of the period (the CLI's defaults
otherwise) with the candidate's training settings (``run_backtest(training=)``) and refit
period; each candidate's ``prob_default`` is scored against the shipped one's on the rows both
score: Brier skill ``1 - Brier(candidate) / Brier(shipped)`` with the 90 % block-bootstrap
interval of the backtest's overall skill (blocks of the longest horizon of decision time).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.backtest.run import BacktestConfig, run_backtest
from levercast.experiments.metrics import skill, skill_blocks
from levercast.experiments.studies.asset_study import study_main
from levercast.features.dataset.store import Store
from levercast.models.learned.design import TrainingConfig

__all__ = ["CANDIDATES", "Candidate", "main", "run_study"]

MARGIN: Final = -0.0020  # the registered non-inferiority margin on the skill's lower end


@dataclass(frozen=True, slots=True)
class Candidate:
    """Training settings of the default and its walk-forward refit period."""

    name: str
    training: TrainingConfig
    retrain_every: timedelta


_SHIPPED = TrainingConfig()
_TREES50 = replace(_SHIPPED, n_estimators=50, learning_rate=0.15)
CANDIDATES: Final = (
    Candidate("shipped", _SHIPPED, timedelta(days=30)),
    Candidate("trees50", _TREES50, timedelta(days=30)),
    Candidate("every90d", _SHIPPED, timedelta(days=90)),
    Candidate("trees50_every90d", _TREES50, timedelta(days=90)),
)


def run_study(
    store: Store, assets: list[str], start: str, end: str, *, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per asset and candidate: seconds, Brier, skill over ``shipped`` with its CI."""
    rows: list[dict[str, Any]] = []
    for asset in assets:
        frames: dict[str, pd.DataFrame] = {}
        seconds: dict[str, float] = {}
        for cand in CANDIDATES:
            config = BacktestConfig(
                asset=asset,
                start=pd.Timestamp(start).to_pydatetime(),
                end=pd.Timestamp(end).to_pydatetime(),
                models=("gbm", "default"),
                retrain_every=cand.retrain_every,
                seed=seed,
            )
            began = time.perf_counter()
            result = run_backtest(store, config, training=cand.training)
            seconds[cand.name] = time.perf_counter() - began
            frames[cand.name] = result.to_frame()
            print(
                f"fit_budget: {asset} {cand.name} {seconds[cand.name]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        base = frames["shipped"]
        for cand in CANDIDATES:
            frame = frames[cand.name]
            if len(frame) != len(base) or not frame["decision_time"].equals(base["decision_time"]):
                raise RuntimeError(f"{asset} {cand.name}: scored rows differ from shipped's")
            y = base["outcome"].to_numpy(float)
            p = frame["prob_default"].to_numpy(float)
            ref = base["prob_default"].to_numpy(float)
            blocks = skill_blocks(base["decision_time"], float(base["horizon_hours"].max()))
            est = skill(p, ref, y, blocks, seed=seed)
            rows.append(
                {
                    "asset": asset,
                    "candidate": cand.name,
                    "n_estimators": cand.training.n_estimators,
                    "learning_rate": cand.training.learning_rate,
                    "retrain_every_days": cand.retrain_every.days,
                    "seconds": round(seconds[cand.name], 1),
                    "n": len(frame),
                    "brier": float(np.mean((p - y) ** 2)),
                    "brier_gbm": float(np.mean((frame["prob_gbm"].to_numpy(float) - y) ** 2)),
                    "skill_vs_shipped": est["value"],
                    "ci90": est["ci90"],
                    "n_blocks": est["n_blocks"],
                }
            )
    return rows


def decide(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The registered rule: non-inferior on every asset (CI lower end >= MARGIN); the one
    with the fewest seconds over the assets; none: ``shipped``."""
    verdict: dict[str, Any] = {"margin": MARGIN, "non_inferior": [], "recommended": "shipped"}
    best = None
    for cand in CANDIDATES[1:]:
        mine = [r for r in rows if r["candidate"] == cand.name]
        if mine and all(r["ci90"][0] >= MARGIN for r in mine):
            verdict["non_inferior"].append(cand.name)
            secs = sum(r["seconds"] for r in mine)
            if best is None or secs < best[0]:
                best = (secs, cand.name)
    if best is not None:
        verdict["recommended"] = best[1]
    return verdict


def _markdown(rows: list[dict[str, Any]], verdict: dict[str, Any]) -> str:
    lines = [
        "| asset | candidate | trees x rate | refit | seconds | rows | Brier | skill vs shipped "
        "[90 % CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ci90"]
        lines.append(
            f"| {r['asset']} | {r['candidate']} | {r['n_estimators']} x {r['learning_rate']:g} "
            f"| {r['retrain_every_days']} d | {r['seconds']:.1f} | {r['n']:,} | "
            f"{r['brier']:.5f} | {100 * r['skill_vs_shipped']:+.3f} % "
            f"[{100 * lo:+.3f}, {100 * hi:+.3f}] |"
        )
    lines.append("")
    lines.append(
        f"Non-inferior (CI lower end >= {100 * verdict['margin']:+.2f} % on every asset): "
        f"{', '.join(verdict['non_inferior']) or 'none'}; recommended: "
        f"**{verdict['recommended']}**."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the study and print the table (or ``--json``)."""
    study_main(__doc__.splitlines()[0], run_study, decide, _markdown, argv)


if __name__ == "__main__":
    main()
