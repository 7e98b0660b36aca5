"""The ``levercast.toml`` configuration file: defaults for the command line (issue 21).

Which file: ``--config FILE``; else ``$LEVERCAST_CONFIG``; else ``./levercast.toml`` when the
working directory has one (a project's own settings, like ``ruff.toml``); else none. A file named
explicitly must exist. Precedence, lowest first: the built-in defaults, the config file, the
environment (``LEVERCAST_*``), the command-line flags.

The file::

    data = "../shared/data"        # the dataset, as --data / $LEVERCAST_DATA
    home = "/srv/levercast/home"    # as $LEVERCAST_HOME
    quiet = true                    # as -q

    [env]                           # any LEVERCAST_* variable by its own name (no secrets)
    LEVERCAST_HTTP_TIMEOUT_SECS = 20

    [report]                        # one table per command: its options by long name
    asset = ["BTC", "ETH"]          # a list is the comma list of the flag
    lookback = 72
    model = "gbm"

    [scan]
    min-edge = 0.03

``data``, ``home`` and ``[env]`` fill the environment variables that are not set (so the
environment wins over the file, and the flags over both). A command table's values become that
command's defaults, checked exactly as the flags are (types, ranges, choices). Secrets (the
``*_KEY`` variables) are refused in the file: they come only from the environment (STYLE G20).
Unknown keys are refused with the list of known ones (exit 2).
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from levercast.features.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "CONFIG_NAME",
    "Config",
    "apply_config",
    "find_config",
    "load_config",
]

CONFIG_ENV: Final = "LEVERCAST_CONFIG"
CONFIG_NAME: Final = "levercast.toml"
GLOBAL_KEYS: Final = {"data": "LEVERCAST_DATA", "home": "LEVERCAST_HOME"}
FLAG_KEYS: Final = ("quiet", "debug")


@dataclass(frozen=True, slots=True)
class Config:
    """A loaded configuration file.

    Attributes
    ----------
    path
        The file read (None: no file).
    env
        ``LEVERCAST_*`` name -> value, from ``data``, ``home`` and ``[env]``.
    flags
        Global switches (``quiet``, ``debug``) set by the file.
    commands
        Command name -> {option dest: value}.
    """

    path: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    flags: Mapping[str, bool] = field(default_factory=dict)
    commands: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _flag_value(argv: Sequence[str]) -> str | None:
    """The value of ``--config`` in ``argv`` (``--config F`` or ``--config=F``), if any."""
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None


def find_config(
    argv: Sequence[str], *, environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path | None:
    """The configuration file for this run (see the module docstring), or None."""
    environ = os.environ if environ is None else environ
    named = _flag_value(argv) or environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            source = "--config" if _flag_value(argv) else f"${CONFIG_ENV}"
            raise ConfigError(f"{source} must name a TOML file; found {named!r} (no such file)")
        return path
    local = (cwd or Path.cwd()) / CONFIG_NAME
    return local if local.is_file() else None


def _env_text(name: str, value: Any, *, path: Path) -> str:
    if not name.startswith("LEVERCAST_"):
        raise ConfigError(f"{path}: [env] keys must be LEVERCAST_* variables; found {name!r}")
    if name.endswith("_KEY"):
        raise ConfigError(
            f"{path}: {name} is a secret: set it in the environment, never in a config file"
        )
    if isinstance(value, bool):
        return "1" if value else "0"
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{path}: [env] {name} must be a string or a number; found {value!r}")
    return str(value)


def load_config(path: Path | None) -> Config:
    """Read and shape-check ``path`` (None: the empty configuration).

    Raises
    ------
    ConfigError
        Unreadable TOML, an unknown top-level key, a secret, a value of the wrong type.
    """
    if path is None:
        return Config()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"config file {path} is not readable TOML ({e})") from e
    env: dict[str, str] = {}
    flags: dict[str, bool] = {}
    commands: dict[str, dict[str, Any]] = {}
    for key, value in doc.items():
        if key in GLOBAL_KEYS:
            if not isinstance(value, str):
                raise ConfigError(f"{path}: {key} must be a path string; found {value!r}")
            env[GLOBAL_KEYS[key]] = str(Path(value).expanduser())
        elif key in FLAG_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{path}: {key} must be true or false; found {value!r}")
            flags[key] = value
        elif key == "env":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [env] must be a table; found {value!r}")
            env.update({name: _env_text(name, v, path=path) for name, v in value.items()})
        elif isinstance(value, dict):
            commands[key] = dict(value)
        else:
            raise ConfigError(
                f"{path}: top-level keys must be {[*GLOBAL_KEYS, *FLAG_KEYS]}, [env] or a "
                f"[command] table; found {key!r} = {value!r}"
            )
    return Config(path=path, env=env, flags=flags, commands=commands)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _option_value(action: argparse.Action, value: Any, *, where: str) -> Any:
    """A config value checked and converted as the flag's own text would be."""
    if action.nargs == 0:  # store_true / store_false switches
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false; found {value!r}")
        return value
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{where} must be a string, a number or a list; found {value!r}")
    text = str(value)
    converted: Any = text
    if callable(action.type):
        try:
            converted = action.type(text)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as e:
            raise ConfigError(f"{where}: {e}") from e
    if action.choices is not None and converted not in action.choices:
        raise ConfigError(f"{where} must be one of {list(action.choices)}; found {value!r}")
    return converted


def apply_config(
    config: Config,
    parser: argparse.ArgumentParser,
    *,
    environ: MutableMapping[str, str] | None = None,
) -> None:
    """Make ``config`` the defaults of ``parser`` and fill the unset environment variables.

    Raises
    ------
    ConfigError
        A command or option the parser does not have, or a value it would refuse.
    """
    environ = os.environ if environ is None else environ
    for name, value in config.env.items():
        environ.setdefault(name, value)
    if config.flags:
        parser.set_defaults(**config.flags)
    commands = _subcommands(parser)
    for command, values in config.commands.items():
        sub = commands.get(command)
        if sub is None:
            raise ConfigError(
                f"{config.path}: [{command}] is not a command; known: {sorted(commands)}"
            )
        options = {
            a.dest: a
            for a in sub._actions
            if a.option_strings and a.dest not in ("help", "data", "json", "debug", "quiet")
        }
        defaults = {}
        for key, value in values.items():
            dest = key.replace("-", "_")
            action = options.get(dest)
            if action is None:
                known = sorted(k.replace("_", "-") for k in options)
                raise ConfigError(
                    f"{config.path}: [{command}] {key} is not an option of {command}; "
                    f"known: {known}"
                )
            where = f"{config.path}: [{command}] {key}"
            defaults[dest] = _option_value(action, value, where=where)
            action.required = False  # the file supplies it
        sub.set_defaults(**defaults)
