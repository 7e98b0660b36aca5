"""Month domain of the default: the learned answer for 720-750 h windows against ``gbm``.

``python -m levercast.experiments.studies.month_domain.study [--data DIR] [--assets BTC,ETH]
[--start 2024-01-01T00:00Z] [--end 2024-12-31T23:00Z] [--json]`` prints a Markdown table
(stdout; ``--json`` for machines), progress on stderr. The rows, the score and the decision rule
were registered before the first run (README.md beside this file).

For every asset one ``gbm,default`` backtest of the period at horizon 744 h with the default's
domain widened to ``MAX_DOMAIN_HOURS`` (``run_backtest(training=)``), scored as Brier skill of
``prob_default`` over ``prob_gbm`` with the 90 % block-bootstrap interval of the backtest's
overall skill; beside it (context, not the rule) the shipped default at 720 h.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.backtest.run import BacktestConfig, run_backtest
from levercast.experiments.metrics import skill, skill_blocks
from levercast.experiments.studies.asset_study import study_main
from levercast.features.dataset.store import Store
from levercast.models.learned.design import TrainingConfig

__all__ = ["MARGIN", "MAX_DOMAIN_HOURS", "decide", "main", "run_study"]

MAX_DOMAIN_HOURS: Final = 750.0  # any calendar month asked from 00:00 UTC of its first day
MARGIN: Final = -0.0020  # the fit-budget study's non-inferiority margin, reused
_ARMS: Final = (
    # (arm, horizon, default's training settings; None: shipped)
    ("month_744h", timedelta(hours=744), MAX_DOMAIN_HOURS),
    ("edge_720h", timedelta(hours=720), None),
)


def _logloss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _score(frame: pd.DataFrame, hours: float, seed: int) -> dict[str, Any]:
    y = frame["outcome"].to_numpy(float)
    p = frame["prob_default"].to_numpy(float)
    g = frame["prob_gbm"].to_numpy(float)
    blocks = skill_blocks(frame["decision_time"], hours)
    est = skill(p, g, y, blocks, seed=seed)
    by_kind = {}
    for kind, part in frame.groupby("kind", sort=True):
        py, pp, pg = (part[c].to_numpy(float) for c in ("outcome", "prob_default", "prob_gbm"))
        by_kind[str(kind)] = {
            "n": len(part),
            "skill": float(1 - np.mean((pp - py) ** 2) / np.mean((pg - py) ** 2)),
        }
    return {
        "n": len(frame),
        "brier_default": float(np.mean((p - y) ** 2)),
        "brier_gbm": float(np.mean((g - y) ** 2)),
        "logloss_default": _logloss(p, y),
        "logloss_gbm": _logloss(g, y),
        "skill_vs_gbm": est["value"],
        "ci90": est["ci90"],
        "n_blocks": est["n_blocks"],
        "by_kind": by_kind,
    }


def run_study(
    store: Store, assets: list[str], start: str, end: str, *, seed: int = 0
) -> list[dict[str, Any]]:
    """One row per asset and arm: rows, Brier and log loss of both, skill over gbm with its CI."""
    rows: list[dict[str, Any]] = []
    for asset in assets:
        for arm, horizon, domain in _ARMS:
            shipped = TrainingConfig()
            training = None if domain is None else replace(shipped, max_domain_hours=domain)
            config = BacktestConfig(
                asset=asset,
                start=pd.Timestamp(start).to_pydatetime(),
                end=pd.Timestamp(end).to_pydatetime(),
                horizons=(horizon,),
                models=("gbm", "default"),
                seed=seed,
            )
            began = time.perf_counter()
            result = run_backtest(store, config, training=training)
            seconds = time.perf_counter() - began
            frame = result.to_frame()
            print(f"month_domain: {asset} {arm} {seconds:.1f} s", file=sys.stderr, flush=True)
            hours = horizon.total_seconds() / 3600
            fallback = float(np.mean(frame["prob_default"].to_numpy() == frame["prob_gbm"]))
            rows.append(
                {
                    "asset": asset,
                    "arm": arm,
                    "horizon_hours": hours,
                    "max_domain_hours": domain,
                    "seconds": round(seconds, 1),
                    "share_equal_to_gbm": fallback,
                    **_score(frame, hours, seed),
                }
            )
    return rows


def decide(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The registered rule on the ``month_744h`` rows: on every asset a positive skill over
    ``gbm`` whose 90 % interval's lower end is at least ``MARGIN``: adopt; otherwise keep."""
    mine = [r for r in rows if r["arm"] == "month_744h"]
    ok = bool(mine) and all(r["skill_vs_gbm"] > 0 and r["ci90"][0] >= MARGIN for r in mine)
    return {"margin": MARGIN, "max_domain_hours": MAX_DOMAIN_HOURS, "adopt": ok}


def _markdown(rows: list[dict[str, Any]], verdict: dict[str, Any]) -> str:
    lines = [
        "| asset | arm | rows | same as gbm | Brier default / gbm | log loss default / gbm "
        "| skill vs gbm [90 % CI] | blocks | skill by kind |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lo, hi = r["ci90"]
        kinds = ", ".join(
            f"{k} {100 * v['skill']:+.2f} % ({v['n']:,})" for k, v in r["by_kind"].items()
        )
        lines.append(
            f"| {r['asset']} | {r['arm']} | {r['n']:,} | {100 * r['share_equal_to_gbm']:.1f} % "
            f"| {r['brier_default']:.5f} / {r['brier_gbm']:.5f} "
            f"| {r['logloss_default']:.5f} / {r['logloss_gbm']:.5f} "
            f"| {100 * r['skill_vs_gbm']:+.3f} % [{100 * lo:+.3f}, {100 * hi:+.3f}] "
            f"| {r['n_blocks']} | {kinds} |"
        )
    lines.append("")
    lines.append(
        f"Rule (month_744h, every asset: skill > 0 and CI lower end >= "
        f"{100 * verdict['margin']:+.2f} %): "
        + ("**adopt** max_domain_hours = 750" if verdict["adopt"] else "**keep** 720 h")
        + "."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the study and print the table (or ``--json``)."""
    study_main(__doc__.splitlines()[0], run_study, decide, _markdown, argv)


if __name__ == "__main__":
    main()
