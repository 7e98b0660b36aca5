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


def _pnl(t: dict[str, Any] | None) -> str:
    if t is None:
        return "n/a"
    if not t["trades"]:
        return "no trade"
    return (
        f"{_fmt(t['pnl_per_dollar'])} per $ 90% CI {_ci(t.get('pnl_per_dollar_ci90'))} "
        f"over {t['trades']} trades"
    )


def _headline(doc: dict[str, Any]) -> list[str]:
    """The answer's model against the market, never the flattering number alone: skill with each
    market weighted equally, the trading result beside it, then the per-observation skill; the
    same for the held-out markets (known after the priors' tuning) when there are any."""
    from levercast.experiments.cli.format import fmt_time

    name = doc.get("model_used", doc.get("model"))
    equal = doc["skill_vs_market_equal_markets"].get("model", {})
    per_obs = doc["skill_vs_market"].get("model", {})
    trading = _pnl(doc.get("trading"))
    point = doc.get("trading_point_forecast")
    if point is not None and point["trades"]:
        trading += f" (at the point forecast: {_pnl(point)})"
    lines = [
        f"{name} vs market, each market weighted equally: {_fmt(equal.get('value'))} 90% CI "
        f"{_ci(equal.get('ci90'))}; trading {trading}; per observation "
        f"{_fmt(per_obs.get('value'))} {_ci(per_obs.get('ci90'))}"
    ]
    held = doc.get("held_out") or {}
    h_equal = (held.get("skill_vs_market_equal_markets") or {}).get("model")
    if h_equal:
        h_obs = held["skill_vs_market"].get("model", {})
        lines.append(
            f"held out ({held['markets']:,} markets known after {fmt_time(held['since'])}): "
            f"each market weighted equally {_fmt(h_equal['value'])} 90% CI "
            f"{_ci(h_equal['ci90'])}; per "
            f"observation {_fmt(h_obs.get('value'))} {_ci(h_obs.get('ci90'))}"
        )
    return lines


def _excluded_lines(doc: dict[str, Any]) -> list[str]:
    total = doc["observations"] + sum(doc["excluded"].values())
    lines = [
        f"excluded {k}: {v} ({v / total:.1%})" for k, v in doc["excluded"].items() if v and total
    ]
    if doc.get("ambiguous_paths_priced"):
        lines.append(
            f"priced, not excluded: {doc['ambiguous_paths_priced']} observations with an "
            "ambiguous path to date"
        )
    return lines


def _coverage(doc: dict[str, Any]) -> str:
    """``coverage`` as words: ``330 resolved with prices, 302 evaluated``."""
    cov = doc.get("coverage")
    if not isinstance(cov, dict):
        return str(cov)
    return ", ".join(f"{n:,} {key.replace('_', ' ')}" for key, n in cov.items())


def _skill_table(doc: dict[str, Any], title: str) -> Any:
    """Skill vs the market of every series: each market weighted equally first, then per
    observation, each with its 90 % interval."""
    from levercast.experiments.cli.format import table

    equal, per_obs = doc["skill_vs_market_equal_markets"], doc["skill_vs_market"]
    rows = []
    for s, v in equal.items():
        obs = per_obs.get(s, {})
        rows.append(
            [s, _fmt(v["value"]), _ci(v["ci90"]), _fmt(obs.get("value")), _ci(obs.get("ci90"))]
        )
    headers = ["skill vs market", "each market equally", "90% CI", "per observation", "90% CI"]
    return table(headers, rows, title=title, right=[1, 2, 3, 4])


def _scores_table(doc: dict[str, Any]) -> Any:
    from levercast.experiments.cli.format import table

    rows = []
    for s in doc["brier"]:
        ece = doc.get("ece", {}).get(s)
        rows.append(
            [
                s,
                f"{doc['brier'][s]:.4f}",
                f"{doc['log_loss'][s]:.4f}",
                "n/a" if ece is None else f"{ece:.4f}",
            ]
        )
    return table(["series", "Brier", "log loss", "ECE"], rows, right=[1, 2, 3])


def _spread(source: Any) -> str:
    if not isinstance(source, dict):
        return str(source)
    return ", ".join(f"{how} ({n:,} trades)" for how, n in source.items())


def _fallbacks(doc: dict[str, Any]) -> str:
    """How many observations ``gbm`` answered for the model, when any: the model's scores are
    partly ``gbm``'s then (a learned model's windows past its domain or not yet begun)."""
    n, total = doc.get("fallbacks_to_gbm") or 0, doc.get("observations") or 0
    if not n or not total:
        return ""
    return f" ({n:,} of the observations, {n / total:.0%}, answered by gbm, where it gives none)"


def _render(doc: dict[str, Any]) -> list[Any]:
    """The headline lines, then tables of the skill (all markets, held out) and the scores,
    then trading, exclusions and notes."""
    from levercast.experiments.cli.format import fmt_time

    head = _headline(doc) if "brier" in doc else []
    head.append(
        f"{doc['markets']:,} markets, {doc['observations']:,} observations ("
        f"{_coverage(doc)}); model {doc.get('model_used', doc.get('model'))}" + _fallbacks(doc)
    )
    parts: list[Any] = ["\n".join(head)]
    tail: list[str] = []
    if "brier" in doc:
        parts.append(_skill_table(doc, "skill vs market, all markets"))
        held = doc.get("held_out") or {}
        if held.get("skill_vs_market_equal_markets"):
            title = (
                f"held out: markets known after {fmt_time(held['since'])} ({held['markets']:,} "
                f"markets, {held['observations']:,} observations)"
            )
            parts.append(_skill_table(held, title))
        parts.append(_scores_table(doc))
        t = doc.get("trading")
        if t is not None and t["trades"]:
            hit = "n/a" if t["hit_rate"] is None else f"{t['hit_rate']:.1%}"
            tail.append(
                f"trading: {t['trades']:,} trades, PnL per $ {_fmt(t['pnl_per_dollar'])} "
                f"90% CI {_ci(t.get('pnl_per_dollar_ci90'))} (markets resampled), hit rate "
                f"{hit}, max drawdown ${t['max_drawdown_usd']:,.2f}; spread "
                f"{_spread(t.get('spread_source'))}"
            )
    tail += _excluded_lines(doc)
    tail += [f"note: {n}" for n in doc.get("notes", [])]
    if tail:
        parts.append("\n".join(tail))
    return parts


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
    from levercast.experiments.cli.progress import progress_bar
    from levercast.features.errors import ForecastError

    data = Dataset(args.data)
    store = data.store
    model = args.model or "default"
    with progress_bar(args, f"evaluate {model}") as advance:
        result = evaluate(
            model=model,
            data=data,
            seed=args.seed,
            forecasts=bool(args.forecasts),
            progress=advance,
        )
    doc = result.to_json_dict()
    emit(args, doc, _render)
    sys.stdout.flush()
    try:
        with progress_bar(args, "evaluate: logging to MLflow"):
            _log(result, store, args)
    except (OSError, ValueError, ForecastError) as e:
        print(f"levercast: run not logged ({type(e).__name__}: {e})", file=sys.stderr)
    return 0
