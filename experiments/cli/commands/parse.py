"""``levercast parse``: a market title, or every market of ``--data``, into contracts.

``parse "TITLE" [--rules T] [--created-at T] [--end-date T] [--at T]`` prints
``{"contract", "yes_outcome"}`` or ``{"unsupported": reason}``; ``parse --data DIR`` prints one
such object per market of the ``markets`` table, with ``market_id`` (INTERFACE.md §4). A market
without ``created_at`` is read against its first price observation (``market_prices``).
All-time-high questions take their strike from the candles known at the window start. Exit 0,
unsupported markets included.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir
from levercast.features.errors import ConfigError
from levercast.features.timeutil import parse_utc

__all__ = ["run_parse"]


def _opt_time(args: argparse.Namespace, name: str) -> datetime | None:
    value = getattr(args, name, None)
    return None if value is None else parse_utc(value, name=f"--{name.replace('_', '-')}")


def _render_one(item: Mapping[str, Any]) -> str:
    prefix = f"{item['market_id']}: " if "market_id" in item else ""
    if "unsupported" in item:
        return f"{prefix}unsupported: {item['unsupported']}"
    c = item["contract"]
    strikes = c["strike_usd"] if c["strike_usd"] is not None else (c["lower_usd"], c["upper_usd"])
    return (
        f"{prefix}{c['kind']} {c['asset']} {c['direction'] or ''} {strikes} "
        f"{c['start']} -> {c['end']} [{c['resolution']['source']}] yes={item['yes_outcome']}"
    )


def _render(payload: Any) -> str:
    items = payload if isinstance(payload, list) else [payload]
    return "\n".join(_render_one(item) for item in items)


def run_parse(args: argparse.Namespace) -> int:
    """Parse one title, or every market of ``--data`` without a title; exit 0."""
    from levercast.features.dataset.store import Store
    from levercast.features.prices import highest_high

    title = getattr(args, "title", None)
    if title is None:
        from levercast.markets.dataset import parse_markets

        store = Store(resolve_data_dir(args.data))
        if not store.has("markets"):
            raise ConfigError(
                f"parse without a title reads the markets table of --data; found none in "
                f"{store.root}"
            )
        prices = (
            store.as_of("market_prices", datetime.now(UTC)) if store.has("market_prices") else None
        )
        markets = parse_markets(store.read("markets"), prices, ath_usd=partial(highest_high, store))
        emit(args, markets, _render)
        return 0
    from levercast.markets.questions.parser import parse_question

    data_dir = getattr(args, "data", None)
    lookup = None
    if data_dir:
        store = Store(data_dir)
        lookup = partial(highest_high, store) if store.has("candles") else None
    parsed = parse_question(
        title,
        rules=getattr(args, "rules", None),
        created_at=_opt_time(args, "created_at"),
        end_date=_opt_time(args, "end_date"),
        at=_opt_time(args, "at"),
        ath_usd=lookup,
    )
    emit(args, parsed.to_json_dict(), _render)
    return 0
