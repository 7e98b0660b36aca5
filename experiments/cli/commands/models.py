"""``levercast models``: the pricing models, one line each (INTERFACE.md §4a, §4b).

The names are ``experiments.learning.pricers.MODEL_NAMES`` (``market_aware`` among them when it
is registered); the one-line descriptions are the CLI's (``experiments.cli.options.MODELS``).
``--json`` prints ``[{"name", "description", "needs_fit", "needs_quote"}]``.
"""

from __future__ import annotations

import argparse
from typing import Any

from levercast.experiments.cli.output import emit

__all__ = ["run_models"]


def _render(rows: list[dict[str, Any]]) -> Any:
    from levercast.experiments.cli.format import table

    return table(
        ["model", "fit", "quote", "what it is"],
        [
            [
                r["name"],
                "yes" if r["needs_fit"] else "",
                "yes" if r["needs_quote"] else "",
                r["description"],
            ]
            for r in rows
        ],
        title="pricing models (--model / --models)",
    )


def run_models(args: argparse.Namespace) -> int:
    """List the models that ``--model`` accepts."""
    from levercast.experiments.cli.options import MODELS
    from levercast.experiments.learning.pricers import LEARNED_MODELS, MARKET_AWARE, MODEL_NAMES

    rows = [
        {
            "name": name,
            "description": MODELS.get(name, "(no description)"),
            "needs_fit": name in LEARNED_MODELS or name == MARKET_AWARE,
            "needs_quote": name == MARKET_AWARE,
        }
        for name in MODEL_NAMES
    ]
    emit(args, rows, _render)
    return 0
