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


def _pct(value: Any) -> str:
    """A skill (a fraction) as a signed percentage: ``0.0348 -> +3.48%``."""
    from levercast.experiments.cli.format import fmt_pct

    return fmt_pct(None if value is None else 100.0 * float(value), digits=2, signed=True)


def _render(doc: dict[str, Any]) -> list[Any]:
    """The §4 document for people: what was run, the models' scores, then by kind and horizon."""
    from levercast.experiments.cli.format import fmt_number, fmt_time, table

    config = doc.get("config") or {}
    dropped = ", ".join(f"{why} {n:,}" for why, n in (doc.get("dropped") or {}).items())
    venues = ", ".join(f"{v} {n:,}" for v, n in (doc.get("venues") or {}).items())
    head = (
        f"backtest {config.get('asset', '')} {fmt_time(config.get('start'))} to "
        f"{fmt_time(config.get('end'))}: {doc['n_forecasts']:,} forecasts over "
        f"{doc['n_days']} days, {doc['n_dropped']:,} dropped"
        + (f" ({dropped})" if dropped else "")
        + (f"; spot venues {venues}" if venues else "")
    )
    fallbacks = doc.get("fallbacks") or {}
    # skill vs gbm, and vs default_vol when it ran: the leverage features' own contribution
    bases = ["gbm", *(["default_vol"] if doc.get("skill_vs_default_vol") else [])]
    rows = []
    for name, m in doc["models"].items():
        row = [name, f"{m['brier']:.4f}", f"{m['log_loss']:.4f}", f"{m['ece']:.4f}"]
        for base in bases:
            skill = doc[f"skill_vs_{base}"].get(name)
            ci = skill["ci90"] if skill else None
            row.append(_pct(skill["value"]) if skill else "")
            row.append(f"[{_pct(ci[0])}, {_pct(ci[1])}]" if ci and ci[0] is not None else "")
        row.append(fmt_number(fallbacks[name]) if name in fallbacks else "")
        rows.append(row)
    headers = ["model", "Brier", "log loss", "ECE"]
    for base in bases:
        headers += [f"skill vs {base}", "90% CI"]
    models = table([*headers, "gbm fallbacks"], rows, right=list(range(1, len(headers) + 1)))
    names = list(doc["models"])
    cells = [
        [
            row["kind"],
            row["horizon"],
            f"{row['n']:,}",
            *(f"{row['models'][m]['brier']:.4f}" if m in row["models"] else "n/a" for m in names),
        ]
        for row in doc["by_kind_horizon"]
    ]
    by_kind = table(
        ["kind", "horizon", "n", *(f"Brier {m}" for m in names)],
        cells,
        right=list(range(2, 3 + len(names))),
    )
    notes = "\n".join(f"note: {n}" for n in doc.get("notes", []))
    return [head, models, by_kind, *([notes] if notes else [])]


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
    from levercast.experiments.cli.progress import progress_bar
    from levercast.features.errors import ForecastError

    data = Dataset(args.data)
    with progress_bar(args, f"backtest {args.asset}") as advance:
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
            progress=advance,
        )
    emit(args, result.to_json_dict(), _render)
    sys.stdout.flush()
    try:
        with progress_bar(args, "backtest: logging to MLflow"):
            _log(result, data.store, args.seed)
    except (OSError, ValueError, ForecastError) as e:
        print(f"levercast: run not logged ({type(e).__name__}: {e})", file=sys.stderr)
    return 0
