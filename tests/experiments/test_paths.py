"""$LEVERCAST_HOME: the environment variable, else the user's data directory (INTERFACE.md §2)."""

from __future__ import annotations

from pathlib import Path

from levercast.experiments.paths import default_home, levercast_home, resolve_data_dir


def test_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LEVERCAST_HOME", str(tmp_path / "h"))
    assert levercast_home() == tmp_path / "h" and (tmp_path / "h").is_dir()


def test_home_defaults_to_the_user_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("LEVERCAST_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    home = levercast_home()
    assert home == default_home() and home.name == "levercast"
    assert home.is_dir() and not (tmp_path / ".levercast").exists()  # not the working directory


def test_data_dir_flag_env_default(monkeypatch):
    monkeypatch.setenv("LEVERCAST_DATA", "/x")
    assert resolve_data_dir("y") == Path("y") and resolve_data_dir(None) == Path("/x")
    monkeypatch.delenv("LEVERCAST_DATA")
    assert resolve_data_dir(None) == Path("data")
