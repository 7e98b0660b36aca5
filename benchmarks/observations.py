"""Observations benchmark: ``scored_observations``, what ``evaluate`` and the market-aware
``scan`` start from (every resolved market of the dataset parsed, its YES quotes listed, the
``gbm`` forecast and path to date at each).

Prints the first call (the store's tables read, the parser's patterns compiled) and the median of
``--repeat`` further calls on the same ``Store`` (what a second evaluation in one process costs),
with the load average beside them. No target: issue 22 asks evaluation observations to be
priced in batches; this shows what that costs.

Run: ``.venv/bin/python benchmarks/observations.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# Run as a script, this folder is sys.path[0] and benchmarks/features.py would shadow the
# features package: drop it and import the repository's packages instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from benchmarks._common import data_dir


def main() -> None:
    """Print the benchmark JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm calls (default 3)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1; found {args.repeat}")
    path = data_dir()
    from levercast.experiments.learning.market_observations import scored_observations
    from levercast.features.dataset.store import Store

    load_start = os.getloadavg()
    store = Store(path)
    t0 = time.perf_counter()
    sets = scored_observations(store)
    first_s = time.perf_counter() - t0
    warm = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        scored_observations(store)
        warm.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "dataset": str(path),
                "observations": len(sets.obs),
                "markets": int(sets.obs["market_id"].nunique()) if len(sets.obs) else 0,
                "excluded": dict(sorted(sets.excluded.items())),
                "first_call_s": round(first_s, 2),
                "warm_s_median": round(statistics.median(warm), 2),
                "warm_s": [round(x, 2) for x in warm],
                "loadavg_start": [round(x, 2) for x in load_start],
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
