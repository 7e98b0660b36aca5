"""``levercast evaluate [--model M] [--forecasts] [--seed S]`` (INTERFACE.md §4).

Scores the model against the dataset's prediction markets (``experiments.evaluation.evaluate``), or
with
``--forecasts`` the forward log of ``$LEVERCAST_HOME`` (INTERFACE.md §6). Prints the JSON, then
logs the run to MLflow (reliability plot and per-observation CSV as artifacts); a logging failure
is reported on stderr and never loses the result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import levercast_home, resolve_data_dir

__all__ = ["run_evaluate"]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"{doc['markets']} markets, {doc['observations']} observations; coverage "
        f"{doc['coverage']}; model {doc.get('model_used', doc.get('model'))}",
    ]
    if "brier" in doc:
        for s in ("model", "market", "blend"):
            lines.append(
                f"{s:>7}: brier {_fmt(doc['brier'][s])}  log loss {_fmt(doc['log_loss'][s])}"
            )
        for s, v in doc["skill_vs_market"].items():
            lines.append(f"skill vs market ({s}): {_fmt(v['value'])} ci90 {v['ci90']}")
        t = doc["trading"]
        lines.append(
            f"trading: {t['trades']} trades, hit rate {_fmt(t['hit_rate'])}, "
            f"PnL per $ {_fmt(t['pnl_per_dollar'])}, max drawdown ${t['max_drawdown_usd']:.2f}"
        )
    lines += [f"excluded {k}: {v}" for k, v in doc["excluded"].items() if v]
    lines += [f"note: {n}" for n in doc.get("notes", [])]
    return "\n".join(lines)


def _log(result: Any, store: Any, args: argparse.Namespace) -> None:
    from levercast.experiments.reporting.plots import plot_reliability
    from levercast.experiments.tracking import log_evaluation

    doc = result.to_json_dict()
    params = {"model": args.model, "forecasts": bool(args.forecasts), "seed": args.seed}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plots = {}
        if doc.get("reliability"):
            plots["reliability.png"] = plot_reliability(
                doc["reliability"], folder / "reliability.png", title="evaluate"
            )
        log_evaluation(
            result,
            params=params,
            fingerprint=store.fingerprint(),
            seed=args.seed,
            folder=folder,
            plots=plots,
        )


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate against market odds (or the forward log), print the JSON, then log it."""
    from levercast.experiments.evaluation.evaluate import run_evaluate as run
    from levercast.experiments.evaluation.evaluate import score_forward_log
    from levercast.features.dataset.store import Store
    from levercast.features.errors import ForecastError

    store = Store(resolve_data_dir(args.data))
    model = args.model or "default"
    if args.forecasts:
        result = score_forward_log(store, levercast_home(), seed=args.seed)
    else:
        result = run(store, model=model, seed=args.seed)
    doc = result.to_json_dict()
    emit(args, doc, _render)
    sys.stdout.flush()
    try:
        _log(result, store, args)
    except (OSError, ValueError, ForecastError) as e:
        print(f"levercast: run not logged ({type(e).__name__}: {e})", file=sys.stderr)
    return 0
