"""``levercast evaluate [--model M] [--forecasts] [--seed S]`` (INTERFACE.md §4).

Scores the model against the dataset's prediction markets (``experiments.evaluation.evaluate``;
``--model market_aware`` is the market-aware forecast), or with ``--forecasts`` the forward log
of ``$LEVERCAST_HOME`` (INTERFACE.md §6). Prints the JSON (the text form leads with the skill
with each market weighted equally and the trading result, beside the per-observation skill),
then logs the run to MLflow (reliability diagrams overall and per kind, per-observation CSV);
a logging failure is reported on stderr and never loses the result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit

__all__ = ["run_evaluate"]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None:
        return "[no interval: too few markets]"
    return f"[{ci[0]:+.4f}, {ci[1]:+.4f}]"


def _skill_lines(doc: dict[str, Any], where: str = "") -> list[str]:
    """Equal-markets skill first, the trading result and the per-observation skill beside it."""
    lines = []
    equal, per_obs = doc["skill_vs_market_equal_markets"], doc["skill_vs_market"]
    for s, v in equal.items():
        obs = per_obs.get(s, {})
        lines.append(
            f"{where}skill vs market ({s}), each market weighted equally: {_fmt(v['value'])} "
            f"90% CI {_ci(v['ci90'])}; per observation {_fmt(obs.get('value'))} "
            f"{_ci(obs.get('ci90'))}"
        )
    return lines


def _render(doc: dict[str, Any]) -> str:
    lines = [
        f"{doc['markets']} markets, {doc['observations']} observations; coverage "
        f"{doc['coverage']}; model {doc.get('model_used', doc.get('model'))}",
    ]
    if "brier" in doc:
        lines += _skill_lines(doc)
        t = doc.get("trading")
        if t is not None:
            lines.append(
                f"trading: {t['trades']} trades, PnL per $ {_fmt(t['pnl_per_dollar'])} "
                f"90% CI {_ci(t.get('pnl_per_dollar_ci90'))} (markets resampled), hit rate "
                f"{_fmt(t['hit_rate'])}, max drawdown ${t['max_drawdown_usd']:.2f}; spread "
                f"{t.get('spread_source')}"
            )
        held = doc.get("held_out") or {}
        if held.get("skill_vs_market_equal_markets"):
            lines.append(
                f"held out (markets known after {held['since']}: {held['markets']} markets, "
                f"{held['observations']} observations):"
            )
            lines += _skill_lines(held, where="  ")
        for s in doc["brier"]:
            ece = doc.get("ece", {}).get(s)
            lines.append(
                f"{s:>12}: brier {doc['brier'][s]:.4f}  log loss {doc['log_loss'][s]:.4f}  "
                f"ece {'n/a' if ece is None else f'{ece:.4f}'}"
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
        for kind, curves in doc.get("reliability_by_kind", {}).items():
            name = f"reliability_{kind}.png"
            plots[name] = plot_reliability(curves, folder / name, title=f"evaluate: {kind}")
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
    from levercast.experiments.api import Dataset, evaluate
    from levercast.features.errors import ForecastError

    data = Dataset(args.data)
    store = data.store
    model = args.model or "default"
    result = evaluate(model=model, data=data, seed=args.seed, forecasts=bool(args.forecasts))
    doc = result.to_json_dict()
    emit(args, doc, _render)
    sys.stdout.flush()
    try:
        _log(result, store, args)
    except (OSError, ValueError, ForecastError) as e:
        print(f"levercast: run not logged ({type(e).__name__}: {e})", file=sys.stderr)
    return 0
