"""The layer rule (STYLE G1): features -> models -> markets -> experiments, imports flow one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["features", "models", "markets", "experiments"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value).split(".")[0])
    return names


def _lazy_export_targets(path: Path) -> set[str]:
    """Modules named as strings in a package's ``_EXPORTS`` table (lazy re-exports)."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for value in node.values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    out.add(value.value.split(".")[0])
    return out & set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_leftward(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    forbidden = set(LAYERS) - allowed
    offenders = []
    for path in sorted((REPO / layer).rglob("*.py")):
        bad = _imports(path) & forbidden
        if path.name == "__init__.py":
            bad |= _lazy_export_targets(path) & forbidden
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not offenders, "rightward imports:\n" + "\n".join(offenders)


def test_layer_checker_detects_a_rightward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from experiments.labels.outcomes import realised_outcome\nimport markets\n")
    assert _imports(bad) == {"experiments", "markets"}


def test_forecasting_layers_cannot_reach_the_outcome_reader():
    """Only experiments/ may touch the realised-outcome reader (labels from the future)."""
    for layer in ["features", "models", "markets"]:
        for path in (REPO / layer).rglob("*.py"):
            text = path.read_text()
            assert "realised_outcome" not in text or layer == "experiments", path
            assert "experiments" not in _imports(path), path
