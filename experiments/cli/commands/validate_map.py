"""``levercast features validate-map --asset A --start S --end E [--lookback H]`` (INTERFACE §4,
§4a: ``--lookback`` scores the map with that window, 24 to 168 hours).

The scoring is ``experiments.studies.liquidation_map.fit.score_map``; this module only parses, runs
and prints. The
``features`` command dispatches here when its action is ``validate-map``.
"""

from __future__ import annotations

import argparse
from typing import Any, Final

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["JSON_KEYS", "run_validate_map"]

JSON_KEYS: Final = (
    "hours",
    "spearman_long",
    "spearman_short",
    "baseline_spearman_long",
    "baseline_spearman_short",
    "top_decile_hit_long",
    "top_decile_hit_short",
)


def _render(p: dict[str, Any]) -> list[Any]:
    from levercast.experiments.cli.format import fmt_number, fmt_prob, table

    rows = [
        ["Spearman: map vs realised", fmt_number(p["spearman_long"]),
         fmt_number(p["spearman_short"])],
        ["Spearman: baseline", fmt_number(p["baseline_spearman_long"]),
         fmt_number(p["baseline_spearman_short"])],
        ["top-decile hit rate", fmt_prob(p["top_decile_hit_long"]),
         fmt_prob(p["top_decile_hit_short"])],
    ]  # fmt: skip
    return [
        f"liquidation map scored over {p['hours']:,} hours",
        table(["score", "long", "short"], rows, right=[1, 2]),
    ]


def run_validate_map(args: argparse.Namespace) -> int:
    """Score the liquidation map on ``[--start, --end)`` and print the INTERFACE §4 JSON."""
    import pandas as pd

    from levercast.experiments.studies.liquidation_map.fit import score_map
    from levercast.features.dataset.store import Store
    from levercast.features.errors import ConfigError
    from levercast.features.liqmap.clusters import map_params
    from levercast.features.liqmap.params import check_lookback
    from levercast.features.timeutil import parse_utc

    if not getattr(args, "start", None) or not getattr(args, "end", None):
        raise ConfigError(
            "features validate-map needs --start and --end; found "
            f"start={getattr(args, 'start', None)!r}, end={getattr(args, 'end', None)!r}"
        )
    start = pd.Timestamp(parse_utc(args.start, name="--start"))
    end = pd.Timestamp(parse_utc(args.end, name="--end"))
    lookback = getattr(args, "lookback", None)
    params = map_params(None if lookback is None else check_lookback(lookback, name="--lookback"))
    scores = score_map(
        Store(resolve_data_dir(args.data)),
        str(args.asset).upper(),
        start=start,
        end=end,
        params=params,
    ).scores()
    emit(args, {key: scores[key] for key in JSON_KEYS}, _render)
    return 0
