"""Fit the committed priors of the market-aware forecast and of the model's recalibration.

``python -m levercast.experiments.studies.polymarket_eval.fit_market_aware --data DIR
--tuned-until T [--base-model gbm] [--design market_aware|recalibration] [--out-dir DIR]``

1. Scores every observation of ``DIR`` (``experiments.learning.market_observations``) with the
   base model and builds the market-aware features.
2. Keeps the markets whose outcome was public before ``T`` (``known_at < T``): nothing after T
   is read.
3. Chooses the base prior's strength (``PriorStrength``) on a grid by a walk-forward run over
   those markets, each observation predicted from the markets known before it: the strength
   with the best Brier skill with each market weighted equally (against the market for
   ``market_aware``, against the raw model for ``recalibration``).
4. Fits the posterior on all those markets with that strength and writes it, with the grid, the
   markets and this command, as ``<design>_prior_<base model>.json`` next to this file (package
   data read by ``experiments.learning.market_aware.load_coefficient_prior``) or in
   ``--out-dir``. Its ``cut`` and ``tuned_until`` are both T: ``evaluate`` uses it from T on and
   reports the markets known after T as held out.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from levercast.experiments.evaluation.forecasts import base_probs
from levercast.experiments.learning.market_aware import (
    Design,
    design_matrix,
    fit_history,
    prior_file,
    prior_from_fit,
    walk_forward,
)
from levercast.experiments.learning.market_features import market_features
from levercast.experiments.learning.market_observations import scored_observations
from levercast.features.dataset.store import Store
from levercast.features.errors import DataError
from levercast.features.timeutil import format_utc, parse_utc
from levercast.models.learned.market_aware import PriorStrength, identity_prior, market_prior

__all__ = ["GRIDS", "PROG", "equal_market_skill", "fit_prior", "main"]

PROG: Final = "python -m levercast.experiments.studies.polymarket_eval.fit_market_aware"
HERE: Final = Path(__file__).resolve().parent
GRIDS: Final[dict[str, dict[str, tuple[float, ...]]]] = {
    "market_aware": {
        "intercept": (30.0, 300.0),
        "core": (1.0, 3.0, 10.0, 30.0),
        "bias": (10.0, 100.0, 1000.0),
        "group": (10.0, 100.0),
    },
    "recalibration": {
        "intercept": (10.0, 100.0),
        "core": (0.3, 1.0, 3.0),
        "bias": (100.0,),
        "group": (1.0, 3.0, 10.0),
    },
}


def equal_market_skill(
    prob: np.ndarray, reference: np.ndarray, outcome: np.ndarray, market_id: np.ndarray
) -> float:
    """``1 - Brier / Brier_reference`` with each market weighted equally."""
    weight = 1.0 / pd.Series(market_id).map(pd.Series(market_id).value_counts()).to_numpy(float)
    num = np.sum(weight * (prob - outcome) ** 2)
    den = np.sum(weight * (reference - outcome) ** 2)
    return float(1.0 - num / den) if den > 0 else float("nan")


def _history(store: Store, base_model: str, until: pd.Timestamp) -> tuple[pd.DataFrame, Any]:
    sets = scored_observations(store)
    obs = sets.obs
    if obs.empty:
        raise DataError(f"no observation of {store.root} could be scored")
    raw, _, _ = base_probs(store, obs, sets, base_model, 0)
    raw = np.clip(raw, 0.0, 1.0)
    features = market_features(obs, sets.contracts, raw)
    known = pd.to_datetime(obs["known_at"], utc=True)
    keep = (known < until).to_numpy()
    if not keep.any():
        raise DataError(f"no market of {store.root} was known before {format_utc(until)}")
    return obs[keep].reset_index(drop=True), features[keep].reset_index(drop=True)


def fit_prior(
    store: Store,
    *,
    design: Design,
    base_model: str,
    tuned_until: str,
    command: str,
    history: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> tuple[Any, list[dict[str, Any]]]:
    """The prior of ``design`` fitted on the markets known before ``tuned_until`` (module
    docstring), and the grid's results; ``history`` (observations, features) when already
    built for this base model and time."""
    until = pd.Timestamp(parse_utc(tuned_until, name="tuned_until"))
    obs, features = history if history is not None else _history(store, base_model, until)
    y = obs["outcome"].to_numpy(float)
    ids = obs["market_id"].astype(str).to_numpy()
    reference = features["prob_market" if design == "market_aware" else "prob_model"].to_numpy()
    grid = GRIDS[design]
    results: list[dict[str, Any]] = []
    for values in itertools.product(*grid.values()):
        strength = PriorStrength(**dict(zip(grid, values, strict=True)))
        fit = walk_forward(design, features, obs, prior=None, strength=strength)
        results.append(
            {
                "strength": dict(zip(grid, values, strict=True)),
                "equal_market_skill": equal_market_skill(fit.prob, reference, y, ids),
            }
        )
    best = max(results, key=lambda r: r["equal_market_skill"])
    strength = PriorStrength(**best["strength"])
    X, names = design_matrix(design, features)
    make = market_prior if design == "market_aware" else identity_prior
    mean, precision = make(names, strength=strength)
    model = fit_history(X, y, ids, mean=mean, precision=precision)
    markets = sorted(set(ids))
    stamp = format_utc(until.to_pydatetime())
    prior = prior_from_fit(
        model,
        names,
        design=design,
        base_model=base_model,
        strength=best["strength"],
        cut=stamp,
        tuned_until=stamp,
        fitted_on=f"{store.root.name} (fingerprint {store.fingerprint()}): {len(markets)} markets "
        f"known before {stamp}, {len(obs)} observations, base model {base_model}; strength "
        f"chosen by walk-forward equal-market Brier skill {best['equal_market_skill']:+.4f}",
        markets=tuple(markets),
        command=command,
        grid=tuple(results),
    )
    return prior, results


def main(argv: list[str] | None = None) -> int:
    """Fit the prior(s), write them and print the chosen strengths."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", required=True, help="dataset directory")
    parser.add_argument("--tuned-until", required=True, help="use markets known before this")
    parser.add_argument("--base-model", default="gbm")
    parser.add_argument(
        "--design", choices=("market_aware", "recalibration", "both"), default="both"
    )
    parser.add_argument("--out-dir", type=Path, default=HERE, help="default: %(default)s")
    args = parser.parse_args(argv)
    words = sys.argv[1:] if argv is None else argv
    command = " ".join([PROG, *words])
    store = Store(args.data)
    designs: list[Design] = (
        ["market_aware", "recalibration"] if args.design == "both" else [args.design]
    )
    until = pd.Timestamp(parse_utc(args.tuned_until, name="--tuned-until"))
    history = _history(store, args.base_model, until)  # the base model runs once
    for design in designs:
        prior, results = fit_prior(
            store,
            design=design,
            base_model=args.base_model,
            tuned_until=args.tuned_until,
            command=command,
            history=history,
        )
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / prior_file(design, args.base_model)).write_text(prior.to_json())
        for r in sorted(results, key=lambda r: -r["equal_market_skill"])[:5]:
            print(f"{design} {r['strength']} equal-market skill {r['equal_market_skill']:+.4f}")
        print(f"{design}: strength {prior.strength} from {prior.fitted_on}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
