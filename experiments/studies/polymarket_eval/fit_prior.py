"""Refit the blend prior of ``levercast evaluate``; write it as this study's ``blend_prior.json``.

``python -m levercast.experiments.studies.polymarket_eval.fit_prior --data DIR --cut T [--model M]
[--out FILE]`` fits the weight on the model (``experiments.evaluation.evaluate.fit_blend_prior``)
on the markets of ``DIR`` resolved before ``T`` and writes the prior, with the command that made
it, next to this file (package data read by ``experiments.evaluation.blend.load_prior``) or to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Final

from levercast.experiments.evaluation.blend import PRIOR_FILE, BlendPrior
from levercast.experiments.evaluation.evaluate import fit_blend_prior
from levercast.features.dataset.store import Store

__all__ = ["PRIOR_PATH", "main", "save_prior"]

PROG: Final = "python -m levercast.experiments.studies.polymarket_eval.fit_prior"
PRIOR_PATH: Final = Path(__file__).resolve().parent / PRIOR_FILE


def save_prior(prior: BlendPrior, path: Path = PRIOR_PATH) -> None:
    """Write the prior as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(prior), indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Fit the prior, write it and print its weight."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", required=True, help="dataset directory")
    parser.add_argument("--cut", required=True, help="fit on markets resolved before this time")
    parser.add_argument("--model", default="gbm")
    parser.add_argument("--out", type=Path, default=PRIOR_PATH, help="default: %(default)s")
    args = parser.parse_args(argv)
    words = sys.argv[1:] if argv is None else argv
    command = " ".join([PROG, *words])
    prior = fit_blend_prior(Store(args.data), cut=args.cut, model=args.model, command=command)
    save_prior(prior, args.out)
    print(f"w_model={prior.w_model} from {prior.fitted_on}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
