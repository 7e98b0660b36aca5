"""Where levercast reads and writes (INTERFACE.md §2): the one data-dir and home resolver.

``--data`` (else ``$LEVERCAST_DATA``, else ``./data``) is the dataset; ``$LEVERCAST_HOME`` holds
everything levercast creates (fits and caches, MLflow tracking, reports, the forward log). Its
default is the user's data directory as ``platformdirs`` gives it (``~/.local/share/levercast``
on Linux, ``~/Library/Application Support/levercast`` on macOS, ``%LOCALAPPDATA%\\levercast`` on
Windows), so that a cron job and a shell share one cache whatever directory they start in; a
project may set it, e.g. to ``./.levercast``. Tests and ``make demo`` set it explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_home", "levercast_home", "resolve_data_dir"]


def resolve_data_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """``value`` (the ``--data`` option), else ``$LEVERCAST_DATA``, else ``./data``."""
    if value:
        return Path(value)
    env = os.environ.get("LEVERCAST_DATA")
    return Path(env) if env else Path("data")


def default_home() -> Path:
    """The user's data directory for levercast (``platformdirs.user_data_dir``), not created."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("levercast", appauthor=False))


def levercast_home() -> Path:
    """``$LEVERCAST_HOME``, else ``default_home()``; created on first use."""
    env = os.environ.get("LEVERCAST_HOME")
    home = Path(env) if env else default_home()
    home.mkdir(parents=True, exist_ok=True)
    return home
