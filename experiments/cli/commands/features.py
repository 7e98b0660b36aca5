"""``levercast features --asset A --at T [--lookback H]`` (INTERFACE.md §4, §4a) and
``features validate-map``.

``--lookback`` (hours, 24 to 168) is the liquidation map's window for this run: the map features,
their clusters and the cascade flag use it (``map_lookback_hours`` of ``features_at``).
"""

from __future__ import annotations

import argparse
from typing import Any

from levercast.experiments.cli.output import emit
from levercast.experiments.paths import resolve_data_dir

__all__ = ["run_features"]


def _render(payload: dict[str, Any]) -> list[Any]:
    """A feature table (values in their units), the sources and the liquidation clusters."""
    from levercast.experiments.cli.format import fmt_pct, fmt_time, fmt_unit, fmt_usd, table
    from levercast.experiments.jsonable import to_jsonable
    from levercast.features.frame.registry import feature_spec

    data = to_jsonable(payload)
    rows = []
    for name, value in data["features"].items():
        rows.append([name, fmt_unit(value, feature_spec(name).unit, name=name),
                     data["missing"].get(name, "")])  # fmt: skip
    parts: list[Any] = [
        f"{data['asset']} features at {fmt_time(data['at'])}",
        table(["feature", "value", "why missing"], rows, right=[1]),
        table(
            ["input", "venue", "last row"],
            [[n, s["venue"] or "-", fmt_time(s["last_ts"])] for n, s in data["sources"].items()],
            title="sources",
        ),
    ]
    clusters = [
        [c["side"], fmt_usd(c["center_usd"]), fmt_usd(c["low_usd"]), fmt_usd(c["high_usd"]),
         fmt_usd(c["mass_usd"]), fmt_pct(c["distance_pct"], digits=2, signed=True)]
        for c in data["clusters"]
    ]  # fmt: skip
    if clusters:
        parts.append(
            table(
                ["side", "centre", "low", "high", "mass", "distance from spot"],
                clusters,
                title="liquidation clusters",
                right=[1, 2, 3, 4, 5],
            )
        )
    else:
        parts.append("liquidation clusters: none at this time")
    return parts


def _lookback(args: argparse.Namespace) -> float | None:
    """``--lookback`` validated (``None`` when not given)."""
    from levercast.features.liqmap.params import check_lookback

    value = getattr(args, "lookback", None)
    return None if value is None else check_lookback(value, name="--lookback")


def run_features(args: argparse.Namespace) -> int:
    """Print the features of ``--asset`` at ``--at``; delegate ``validate-map``."""
    if getattr(args, "action", None) == "validate-map":
        from levercast.experiments.cli.commands.validate_map import run_validate_map

        return run_validate_map(args)
    from levercast.features.dataset.store import Store
    from levercast.features.errors import ConfigError, DataError
    from levercast.features.frame.frame import features_at
    from levercast.features.timeutil import parse_utc

    if not args.at:
        raise ConfigError("--at is required for 'features' (e.g. --at 2026-02-20T00:00Z)")
    at = parse_utc(args.at, name="--at")
    asset = str(args.asset).strip().upper()
    if not asset or "," in asset:
        raise ConfigError(f"--asset must be one symbol such as BTC; found {args.asset!r}")
    root = resolve_data_dir(args.data)
    store = Store(root)
    if store.is_empty():
        raise DataError(f"--data {root} holds no dataset (expected candles.parquet and others)")
    known = sorted(set(store.as_of("candles", at)["asset"].astype(str)))
    if asset not in known:
        raise ConfigError(
            f"--asset must be one of the assets with candles known at --at {known}; found {asset!r}"
        )
    snapshot = features_at(store, asset, at, map_lookback_hours=_lookback(args))
    emit(args, snapshot.to_json_dict(), _render)
    return 0
