"""``levercast price SPEC --at T [--model M] [--paths N] [--seed S]`` (INTERFACE.md §4).

A thin caller of ``experiments.api.price``: the SPEC (a contract JSON, partial allowed, or a
question in words through the same parser as ``parse`` and ``ask``) priced at ``--at``, printed
as the §4 ``price`` object or as text.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from levercast.experiments.cli.output import emit

__all__ = ["contract_from_spec", "render_price", "run_price"]


def contract_from_spec(spec: str, at: datetime) -> tuple[Any, str | None]:
    """The contract of a ``price`` SPEC (``experiments.api.to_contract`` without a dataset):
    ``(Contract, yes_outcome or None)``.

    Raises
    ------
    ConfigError
        Invalid JSON contract.
    UnsupportedContract
        The parser recognised the question as one levercast cannot price.
    """
    from levercast.experiments.api import to_contract

    parsed = to_contract(spec, at=at)
    return parsed.contract, parsed.yes_outcome


def render_price(doc: dict[str, Any]) -> list[str]:
    """The ``price`` object as lines for people: the contract in words, the probability and its
    band, spot and vol, the components and the warnings."""
    from levercast.experiments.cli.format import fmt_pct, fmt_prob, fmt_time, fmt_usd
    from levercast.models.contracts import Contract

    contract = Contract.from_json(doc["contract"])
    inputs = doc["inputs"]
    lines = [
        contract.describe(),
        f"P = {fmt_prob(doc['prob'])}  [{fmt_prob(doc['prob_lo'])}, {fmt_prob(doc['prob_hi'])}]"
        f"  model {doc['model']} at {fmt_time(doc['at'])}",
    ]
    if inputs.get("spot_usd") is not None:
        vol = inputs.get("vol_annual")
        lines.append(
            f"spot {fmt_usd(inputs.get('spot_usd'))} ({inputs.get('spot_venue')}, "
            f"{fmt_time(inputs.get('spot_ts'))})  vol "
            f"{fmt_pct(None if vol is None else 100.0 * vol)} a year ({inputs.get('vol_method')})"
        )
    lines += [f"  {name}: {fmt_prob(value)}" for name, value in doc["components"].items()]
    lines += [f"assumed: {a}" for a in inputs.get("assumptions", [])]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    return lines


def run_price(args: argparse.Namespace) -> int:
    """Price one contract at ``--at`` and print the §4 ``price`` object."""
    from levercast.experiments.api import Dataset, price
    from levercast.features.timeutil import parse_utc

    at = parse_utc(args.at, name="--at")
    result = price(
        args.spec,
        at=at,
        model=args.model,
        data=Dataset(args.data),
        seed=args.seed,
        paths=args.paths,
    )
    emit(args, result.to_dict(), lambda doc: "\n".join(render_price(doc)))
    return 0
