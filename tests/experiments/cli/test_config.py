"""levercast.toml (experiments/cli/config.py): which file, and config < environment < flags."""

from __future__ import annotations

import argparse
import re

import pytest

from levercast.experiments.cli.config import apply_config, find_config, load_config
from levercast.experiments.cli.main import _parse, build_parser, main
from levercast.features.errors import ConfigError

CONFIG = """
data = "/from/config"
quiet = true

[env]
LEVERCAST_HTTP_TIMEOUT_SECS = 20

[scan]
min-edge = 0.05
asset = ["btc"]
max-quote-age = "2m"
"""


def _write(tmp_path, text=CONFIG):
    path = tmp_path / "levercast.toml"
    path.write_text(text)
    return path


def test_config_gives_defaults_the_flags_override(tmp_path, monkeypatch):
    # the environment is set, so the file cannot leak into other tests' environment
    monkeypatch.setenv("LEVERCAST_DATA", "/from/env")
    monkeypatch.setenv("LEVERCAST_HTTP_TIMEOUT_SECS", "5")
    path = _write(tmp_path)
    args = _parse(["--config", str(path), "scan"])
    assert args.min_edge == 0.05 and args.asset == "BTC" and args.max_quote_age == "2m"
    assert args.quiet is True
    args = _parse(["--config", str(path), "scan", "--min-edge", "0.01", "--asset", "ETH"])
    assert args.min_edge == 0.01 and args.asset == "ETH"


def test_environment_beats_config_and_flags_beat_both(tmp_path):
    config = load_config(_write(tmp_path))
    environ = {"LEVERCAST_DATA": "/from/env"}
    apply_config(config, build_parser(), environ=environ)
    assert environ["LEVERCAST_DATA"] == "/from/env"  # env wins over the file
    assert environ["LEVERCAST_HTTP_TIMEOUT_SECS"] == "20"  # unset: the file fills it
    environ = {}
    apply_config(config, build_parser(), environ=environ)
    assert environ["LEVERCAST_DATA"] == "/from/config"
    # and --data beats both (resolve_data_dir takes the flag first)
    from levercast.experiments.paths import resolve_data_dir

    assert str(resolve_data_dir("/from/flag")) == "/from/flag"


def test_which_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_config([], environ={}) is None
    local = _write(tmp_path)
    assert find_config([], environ={}, cwd=tmp_path) == local
    other = tmp_path / "other.toml"
    other.write_text("")
    assert find_config([], environ={"LEVERCAST_CONFIG": str(other)}, cwd=tmp_path) == other
    assert find_config(["--config", str(other)], environ={}, cwd=tmp_path) == other
    with pytest.raises(ConfigError, match="--config must name a TOML file"):
        find_config(["--config=nope.toml"], environ={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scan]\nmin-edge = 2\n", r"\[scan\] min-edge: must be within \[0, 1\]"),
        ("[scan]\nnope = 1\n", r"\[scan\] nope is not an option of scan; known: "),
        ("[nope]\nx = 1\n", r"\[nope\] is not a command"),
        ("[env]\nLEVERCAST_COINGLASS_KEY = 'x'\n", "is a secret"),
        ("[scan]\nmodel = 'nope'\n", r"must be one of \["),
        ("data = 3\n", "data must be a path string"),
        ("x = [", "not readable TOML"),
    ],
    ids=["range", "unknown-option", "unknown-command", "secret", "choice", "type", "syntax"],
)
def test_bad_config_exits_2_with_one_line(tmp_path, capsys, text, message):

    path = _write(tmp_path, text)
    assert main(["--config", str(path), "models"]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1


def test_required_option_from_config(tmp_path, monkeypatch):
    monkeypatch.setenv("LEVERCAST_DATA", "/from/env")
    path = _write(tmp_path, "[features]\nasset = 'ETH'\n")
    args = _parse(["--config", str(path), "features", "--at", "2026-01-01T00:00Z"])
    assert isinstance(args, argparse.Namespace) and args.asset == "ETH"
