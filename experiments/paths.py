"""Where levercast reads and writes, and how commands print (INTERFACE.md §1-2)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

__all__ = ["emit", "levercast_home", "resolve_data_dir", "to_jsonable"]


def resolve_data_dir(args: argparse.Namespace) -> Path:
    """``--data``, else ``$LEVERCAST_DATA``, else ``./data``."""
    value = getattr(args, "data", None)
    if value:
        return Path(value)
    env = os.environ.get("LEVERCAST_DATA")
    return Path(env) if env else Path("data")


def levercast_home() -> Path:
    """``$LEVERCAST_HOME`` (default ``./.levercast``), created on first use."""
    home = Path(os.environ.get("LEVERCAST_HOME", ".levercast"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars, times and NaN into plain JSON values (NaN -> null)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"output times must be tz-aware; found naive {value.isoformat()}")
        from levercast.features.timeutil import format_utc

        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "to_json_dict"):
        return to_jsonable(value.to_json_dict())
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, bool | int | str):
        return value
    # pandas NA / NaT
    if str(value) in {"<NA>", "NaT", "nan"}:
        return None
    return str(value)


def emit(args: argparse.Namespace, payload: Any, render: Callable[[Any], str]) -> None:
    """Print ``payload`` as one JSON document with ``--json``, else as text for people."""
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(to_jsonable(payload), indent=None) + "\n")
    else:
        sys.stdout.write(render(payload).rstrip("\n") + "\n")
