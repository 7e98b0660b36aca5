"""``levercast backtest --asset A --start S --end E [...]`` (INTERFACE.md §4).

Runs ``experiments.api.backtest`` (``experiments.backtest.run.run_backtest``), prints the §4
JSON, then logs the run to MLflow (config as params; tags ``data_fingerprint``, ``git_commit``,
``seed``; metrics; artifacts: a reliability plot and the per-forecast CSV). Logging happens after
the result is computed and printed; a logging failure is reported on stderr and never loses the
result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit

__all__ = ["run_backtest"]


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"{doc['n_forecasts']} forecasts over {doc['n_days']} days, {doc['n_dropped']} dropped; "
        f"venues {doc.get('venues')}",
    ]
    for name, m in doc["models"].items():
        skill = doc["skill_vs_gbm"].get(name)
        extra = f"  skill vs gbm {skill['value']:.4f} {skill['ci90']}" if skill else ""
        lines.append(
            f"{name:>8}: brier {m['brier']:.4f}  log loss {m['log_loss']:.4f}  "
            f"ece {m['ece']:.4f}{extra}"
        )
    for row in doc["by_kind_horizon"]:
        scores = "  ".join(f"{k} {v['brier']:.4f}" for k, v in row["models"].items())
        lines.append(f"  {row['kind']:>12} {row['horizon']:>4} n={row['n']:<7} brier {scores}")
    lines += [f"note: {n}" for n in doc.get("notes", [])]
    return "\n".join(lines)


def _log(result: Any, store: Any, seed: int) -> None:
    from levercast.experiments.reporting.plots import plot_reliability
    from levercast.experiments.tracking import log_backtest

    doc = result.to_json_dict()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plots = {}
        if doc.get("reliability"):
            title = f"backtest {result.config.asset}"
            plots["reliability.png"] = plot_reliability(
                doc["reliability"], folder / "reliability.png", title=title
            )
        log_backtest(result, fingerprint=store.fingerprint(), seed=seed, folder=folder, plots=plots)


def run_backtest(args: argparse.Namespace) -> int:
    """Run the backtest (``experiments.api.backtest``), print the §4 JSON, then log it to
    MLflow."""
    from levercast.experiments.api import Dataset, backtest
    from levercast.features.errors import ForecastError

    data = Dataset(args.data)
    result = backtest(
        asset=args.asset,
        start=args.start,
        end=args.end,
        data=data,
        kinds=_split(args.kinds) or ("touch", "close_above", "move", "up_down"),
        horizons=_split(args.horizons) or ("1h", "24h", "7d"),
        models=_split(args.models) or ("gbm", "default"),
        venue=args.venue or None,
        retrain_every=args.retrain_every,
        step=args.step,
        engine=args.engine,
        seed=args.seed,
    )
    emit(args, result.to_json_dict(), _render)
    sys.stdout.flush()
    try:
        _log(result, data.store, args.seed)
    except (OSError, ValueError, ForecastError) as e:
        print(f"levercast: run not logged ({type(e).__name__}: {e})", file=sys.stderr)
    return 0
