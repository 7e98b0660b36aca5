"""``levercast price SPEC --at T [--model M] [--paths N] [--seed S]`` (INTERFACE.md §4)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_price"]


def _parse_question(text: str, at: datetime) -> tuple[Any, str | None]:
    """A question in words through ``markets.questions.parser.parse_question``."""
    from levercast.features.errors import UnsupportedContract
    from levercast.markets.questions.parser import Unsupported, parse_question

    result = parse_question(text, at=at)
    if isinstance(result, Unsupported):
        raise UnsupportedContract(str(result.reason or "the question could not be parsed"))
    return result.contract, result.yes_outcome


def contract_from_spec(spec: str, at: datetime) -> tuple[Any, str | None]:
    """The contract of a ``price`` SPEC: a (partial) contract JSON, else a question in words.

    Returns
    -------
    (Contract, yes_outcome or None)

    Raises
    ------
    ConfigError
        Invalid JSON contract, or words while no parser is available.
    UnsupportedContract
        The parser recognised the question as one levercast cannot price.
    """
    from levercast.features.errors import ConfigError
    from levercast.models.contracts import Contract

    text = spec.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(
                f"spec is not valid JSON ({e.msg} at char {e.pos}); found {text!r}"
            ) from e
        return Contract.from_json(data, at=at), None
    return _parse_question(text, at)


def _render(doc: dict[str, Any]) -> str:
    from levercast.models.contracts import Contract

    contract = Contract.from_json(doc["contract"])
    inputs = doc["inputs"]
    lines = [
        f"{contract.describe()}",
        f"P = {doc['prob']:.4f}  [{doc['prob_lo']:.4f}, {doc['prob_hi']:.4f}]  "
        f"model {doc['model']} at {doc['at']}",
        f"spot {inputs.get('spot_usd')} ({inputs.get('spot_venue')}, {inputs.get('spot_ts')})"
        f"  vol {inputs.get('vol_annual', float('nan')):.3f} ({inputs.get('vol_method')})",
    ]
    lines += [f"  {name}: {value:.4f}" for name, value in doc["components"].items()]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    return "\n".join(lines)


def run_price(args: argparse.Namespace) -> int:
    """Price one contract at ``--at`` and print the §4 ``price`` object."""
    from levercast.experiments.learning.pricers import pricer_for
    from levercast.features.dataset.store import Store
    from levercast.features.timeutil import parse_utc
    from levercast.models.pricing.price import price_contract

    at = parse_utc(args.at, name="--at")
    contract, yes_outcome = contract_from_spec(args.spec, at)
    store = Store(resolve_data_dir(args.data))
    pricer = pricer_for(args.model or "gbm", store, asset=contract.asset, at=at, kind=contract.kind)
    forecast = price_contract(
        contract, store.at(at), pricer=pricer, seed=args.seed, paths=args.paths
    )
    doc = forecast.to_json_dict()
    if yes_outcome is not None:
        doc["inputs"]["yes_outcome"] = yes_outcome
    emit(args, doc, _render)
    return 0
