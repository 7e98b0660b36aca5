"""``levercast ask QUESTION [--at T] [--model M] [--subtitle TEXT]`` (INTERFACE.md §4, issue 18).

A thin caller of ``experiments.api.ask``. QUESTION is a question in words, or a market of the
dataset (its Polymarket/Kalshi URL, slug, id or exact title), priced from its own rules. Prints
the contract in words, our probability and its band, the market's price and our edge net of the
venue's fees and the spread when the question is a market of ``--data``, and the three inputs
that moved the answer most (``effect``: our probability minus the probability with that input at
its training median, in probability points; ``models.learned.drivers``). ``--json``: the §4
``price`` object plus ``market`` and ``drivers``.
"""

from __future__ import annotations

import argparse
from typing import Any

from levercast.experiments.cli.output import emit

__all__ = ["run_ask"]


def _market_lines(market: dict[str, Any] | None) -> list[str]:
    from levercast.experiments.cli.format import fmt_duration, fmt_points, fmt_prob

    if market is None:
        return ["market: not a market of the dataset (ask with its URL, slug or id to compare)"]
    head = f'market: {market["venue"]} {market["market_id"]}  "{market["question"]}"'
    if market["prob_market"] is None:
        return [head, f"  no price: {market['quote_source']}"]
    age = market.get("quote_age_secs")
    lines = [
        head,
        f"  price {fmt_prob(market['prob_market'])} ({market['quote_source']}"
        + (f", {fmt_duration(age)} old)" if age is not None else ")"),
    ]
    if market["edge"] is not None:
        lines.append(
            f"  edge {fmt_points(market['edge'])} buying {str(market['side']).upper()} at "
            f"{fmt_prob(market['price'])} after a fee of {100 * market['fee']:.2f} pts per share"
        )
    if market.get("note"):
        lines.append(f"  note: {market['note']}")
    return lines


def _driver_lines(drivers: list[dict[str, Any]], model: str) -> list[str]:
    from levercast.experiments.cli.format import fmt_number, fmt_points

    if not drivers:
        return [f"drivers: none (model {model} answered: it has no learned inputs)"]
    lines = ["drivers (effect = our probability minus it with the input at its training median):"]
    width = max(len(d["name"]) for d in drivers)
    for d in drivers:
        lines.append(
            f"  {d['name']:<{width}}  {fmt_number(d['value']):>10}  (median "
            f"{fmt_number(d['median'])})  {fmt_points(d['effect'])}"
        )
    return lines


def _render(doc: dict[str, Any]) -> str:
    from levercast.experiments.cli.commands.price import render_price

    lines = render_price(doc)
    warnings = [line for line in lines if line.startswith("warning: ")]
    lines = [line for line in lines if not line.startswith("warning: ")]
    drivers = _driver_lines(doc["drivers"], str(doc.get("model")))
    lines += _market_lines(doc["market"]) + drivers + warnings
    return "\n".join(lines)


def run_ask(args: argparse.Namespace) -> int:
    """Answer one question at ``--at`` (default now) and print the §4 ``ask`` object."""
    from levercast.experiments.api import Dataset, ask
    from levercast.features.timeutil import parse_utc

    at = None if args.at is None else parse_utc(args.at, name="--at")
    result = ask(
        args.question,
        at=at,
        model=args.model or "default",
        data=Dataset(args.data),
        subtitle=getattr(args, "subtitle", None),
    )
    emit(args, result.to_dict(), _render)
    return 0
