"""Where levercast reads and writes (INTERFACE.md §2): the one data-dir and home resolver."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["levercast_home", "resolve_data_dir"]


def resolve_data_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """``value`` (the ``--data`` option), else ``$LEVERCAST_DATA``, else ``./data``."""
    if value:
        return Path(value)
    env = os.environ.get("LEVERCAST_DATA")
    return Path(env) if env else Path("data")


def levercast_home() -> Path:
    """``$LEVERCAST_HOME`` (default ``./.levercast``), created on first use."""
    home = Path(os.environ.get("LEVERCAST_HOME", ".levercast"))
    home.mkdir(parents=True, exist_ok=True)
    return home
