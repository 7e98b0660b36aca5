"""One installed package, ``levercast``, with the four layers as subpackages."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import BARE_LAYERS, REPO

LAYERS = ("features", "models", "markets", "experiments")


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"levercast"} | {
        "levercast." + ".".join(path.parent.relative_to(REPO).parts)
        for layer in LAYERS
        for path in (REPO / layer).rglob("__init__.py")
    }
    assert set(config["packages"]) == folders
    assert config["package-dir"] == {
        "levercast": "levercast",
        **{f"levercast.{x}": x for x in LAYERS},
    }


@pytest.mark.parametrize("name", sorted(BARE_LAYERS))
def test_a_bare_layer_is_never_loaded(name):
    assert name not in sys.modules
    with pytest.raises(ImportError, match="top-level module"):
        importlib.import_module(name)


def test_the_installed_package_is_levercast_and_import_is_lazy():
    code = (
        "import sys, levercast\n"
        "heavy = {'pandas', 'numpy', 'sklearn', 'lightgbm', 'mlflow'} & set(sys.modules)\n"
        "bare = {'features', 'models', 'markets', 'experiments'} & set(sys.modules)\n"
        "print(levercast.__version__, sorted(heavy), sorted(bare))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout.split()
    assert out[1:] == ["[]", "[]"]
    import levercast

    for name in levercast.__all__:
        assert getattr(levercast, name) is not None
