"""Checks of command arguments that the ``run_<verb>`` functions (or argparse ``type=``) call
before any data is loaded: one ``ConfigError`` naming the argument, the rule and the value.

Standard library only (no pandas, numpy): safe to import while parsing. The numeric caps come
from the library functions that own them (``models.pricing.montecarlo``, ``features.liqmap``),
written out here and checked against them in ``tests/faults/test_cli_inputs.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from levercast.features.errors import ConfigError

__all__ = ["MAX_MC_PATHS", "MAX_SEED", "mc_paths", "output_dir", "output_file", "seed"]

MAX_SEED: Final = 2**32 - 1
MAX_MC_PATHS: Final = 4_194_304  # montecarlo.MC_MEMORY_BUDGET_BYTES // BYTES_PER_PATH


def _integer(value: object, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer within [{lo}, {hi:,}]; found {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("+-").isdigit():
            raise ConfigError(f"{name} must be an integer within [{lo}, {hi:,}]; found {value!r}")
        value = int(text)
    if not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer within [{lo}, {hi:,}]; found {value!r}")
    return value


def seed(value: object, *, name: str = "--seed") -> int:
    """A random seed: an integer within ``[0, 2**32 - 1]`` (``-1`` and ``1.5`` refused)."""
    return _integer(value, name, 0, MAX_SEED)


def mc_paths(value: object, *, name: str = "--paths") -> int:
    """Monte Carlo paths: an integer within ``[2, MAX_MC_PATHS]`` (``1e9`` refused, not
    clamped; the library also caps paths x steps)."""
    return _integer(value, name, 2, MAX_MC_PATHS)


def _text_path(value: object, name: str) -> Path:
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise ConfigError(f"{name} must be a non-empty path; found {value!r}")
    return Path(value).expanduser()


def output_dir(value: object, *, name: str = "--out") -> Path:
    """A directory to write into: absent (it will be created) or a directory; an existing file
    is refused (``report --out`` an existing file)."""
    path = _text_path(value, name)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name} must be a directory (or a new path); found the file {path}")
    return path


def output_file(value: object, *, name: str = "--out", suffix: str | None = None) -> Path:
    """A file to write: not an existing directory, in an existing directory, with ``suffix``
    when given (e.g. ``.png``)."""
    path = _text_path(value, name)
    if path.is_dir():
        raise ConfigError(f"{name} must be a file path; found the directory {path}")
    if not path.parent.is_dir():
        raise ConfigError(f"{name} must be in an existing directory; found {path}")
    if suffix is not None and path.suffix.lower() != suffix:
        raise ConfigError(f"{name} must end in {suffix}; found {path}")
    return path
