"""``levercast backtest --asset A --start S --end E [...]`` (INTERFACE.md §4).

Runs ``experiments.backtest.run.run_backtest``, prints the §4 JSON, then logs the run to MLflow
(config as params; tags ``data_fingerprint``, ``git_commit``, ``seed``; metrics; artifacts: a
reliability plot and the per-forecast CSV). Logging happens after the result is computed and
printed; a logging failure is reported on stderr and never loses the result.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_backtest"]

_CSV_COLUMNS = (
    "decision_time",
    "kind",
    "horizon",
    "z",
    "direction",
    "strike_usd",
    "lower_usd",
    "upper_usd",
    "threshold",
    "spot_usd",
    "vol_annual",
    "spot_venue",
    "outcome",
)


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


def _metrics(doc: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "n_forecasts": doc["n_forecasts"],
        "n_days": doc["n_days"],
        "n_dropped": doc["n_dropped"],
    }
    for name, m in doc["models"].items():
        for key in ("brier", "log_loss", "ece"):
            out[f"{key}_{name}"] = m[key]
    for name, s in doc["skill_vs_gbm"].items():
        out[f"skill_vs_gbm_{name}"] = s["value"]
    return out


def _log(result: Any, store: Any, doc: dict[str, Any], seed: int) -> None:
    from levercast.experiments.reporting.plots import plot_reliability
    from levercast.experiments.tracking import RunRecord, log_run

    config = result.config
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv = folder / "forecasts.csv.gz"
        columns = [c for c in _CSV_COLUMNS if c in result.forecasts.columns]
        prob_columns = [c for c in result.forecasts.columns if c.startswith("prob_")]
        result.to_frame()[columns + prob_columns].to_csv(csv, index=False, compression="gzip")
        artifacts = {"forecasts.csv.gz": csv}
        if doc.get("reliability"):
            png = plot_reliability(
                doc["reliability"], folder / "reliability.png", title=f"backtest {config.asset}"
            )
            artifacts["reliability.png"] = png
        record = RunRecord(
            experiment="levercast-backtest",
            run_name=f"backtest-{config.asset}",
            params=config.to_json_dict(),
            tags={"data_fingerprint": store.fingerprint(), "seed": str(seed)},
            metrics=_metrics(doc),
            artifacts=artifacts,
        )
        log_run(record)


def run_backtest(args: argparse.Namespace) -> int:
    """Run the backtest, print the §4 JSON, then log it to MLflow."""
    from levercast.experiments.backtest.run import BacktestConfig
    from levercast.experiments.backtest.run import run_backtest as run
    from levercast.features.dataset.store import Store
    from levercast.features.errors import ForecastError
    from levercast.features.timeutil import parse_duration

    horizons = _split(args.horizons) or ("1h", "24h", "7d")
    config = BacktestConfig(
        asset=args.asset,
        start=args.start,
        end=args.end,
        kinds=_split(args.kinds) or ("touch", "close_above", "move", "up_down"),
        horizons=tuple(parse_duration(h, name="horizons") for h in horizons),
        models=_split(args.models) or ("gbm", "default"),
        venue=args.venue or None,
        retrain_every=parse_duration(args.retrain_every, name="retrain_every"),
        step=None if args.step is None else parse_duration(args.step, name="step"),
        engine=args.engine,
        seed=args.seed,
    )
    store = Store(resolve_data_dir(args.data))
    result = run(store, config)
    doc = result.to_json_dict()
    emit(args, doc, _render)
    sys.stdout.flush()
    try:
        _log(result, store, doc, args.seed)
    except (OSError, ValueError, ForecastError) as e:
        print(f"levercast: run not logged ({type(e).__name__}: {e})", file=sys.stderr)
    return 0
