"""The floor plan, checked statically from the source (STYLE G1, LAYOUT.md).

Rules, each with a test that plants a violation and sees it caught:

1. layers import one way: ``features -> models -> markets -> experiments`` (the layer is the
   second part of ``levercast.<layer>...``);
2. zero import cycles in the package graph (from the AST; imports inside functions count);
3. no ``import_module`` / ``__import__`` with a non-constant argument, except the CLI's command
   table (``experiments/cli/main.py``) and PEP 562 ``__getattr__`` re-exports in ``__init__``;
4. no ``"module:function"`` strings naming project modules, except that command table;
5. the order inside ``experiments/``: ``paths, jsonable, shutdown, parallel, metrics, labels`` ->
   ``tracking, ingest`` -> ``learning`` -> ``backtest, scanning`` -> ``evaluation, reporting``
   -> ``studies`` -> ``answers`` -> ``api`` -> ``cli`` (LAYOUT.md put ``studies`` beside
   ``backtest``; a study runs the experiments below it, e.g. the blend-prior fit runs the
   evaluation, and only the CLI imports a study, so studies sit last before the Python API,
   which the CLI calls);
6. time-series tables are read whole (``.read(...)``) only by the store itself, ``data check``,
   ingestion and the label reader (``experiments/labels``); everything else reads point in time
   (``as_of`` / a ``StoreView``);
7. no module outside ``experiments/cli/`` imports ``experiments/cli/``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("features", "models", "markets", "experiments")
EXPERIMENT_ORDER = (
    ("paths", "jsonable", "shutdown", "parallel", "metrics", "labels"),
    ("tracking", "ingest"),
    ("learning",),
    ("backtest", "scanning"),
    ("evaluation", "reporting"),
    ("studies",),
    ("answers",),
    ("api",),
    ("cli", "__main__"),
)
TIME_SERIES_TABLES = (
    "candles",
    "open_interest",
    "funding",
    "liquidations",
    "exchange_reserves",
    "implied_vol",
    "market_prices",
    "ratios",
    "books",
)
WHOLE_TABLE_READERS = (
    "levercast.features.dataset.",
    "levercast.experiments.ingest.",
    "levercast.experiments.labels.",
    "levercast.experiments.cli.commands.data",
)
COMMAND_TABLE = "levercast.experiments.cli.main"


@dataclass
class Module:
    """One source file: its dotted name, its parsed tree and what it imports."""

    name: str
    path: Path
    tree: ast.Module
    imports: set[str] = field(default_factory=set)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["levercast", *parts]) if parts[0] in LAYERS else ".".join(parts)


def load_modules(root: Path) -> dict[str, Module]:
    """Every module of the four layers under ``root`` (a repository or a planted copy)."""
    modules: dict[str, Module] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).rglob("*.py")):
            name = module_name(path, root)
            modules[name] = Module(name, path, ast.parse(path.read_text(), filename=str(path)))
    for module in modules.values():
        module.imports = _imports(module, set(modules))
    return modules


def _imports(module: Module, known: set[str]) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in known else node.module)
    return {n for n in out if n.split(".")[0] == "levercast" or n.split(".")[0] in LAYERS}


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "levercast" else None


# -- rule 1 -------------------------------------------------------------------------------------
def rightward_imports(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        layer = layer_of(module.name)
        assert layer is not None
        allowed = set(LAYERS[: LAYERS.index(layer) + 1])
        for target in sorted(module.imports):
            if target.split(".")[0] in LAYERS:
                out.append(f"{module.name} imports bare top-level {target}")
            elif layer_of(target) not in allowed and layer_of(target) in LAYERS:
                out.append(f"{module.name} ({layer}) imports {target}")
    return out


# -- rule 2 -------------------------------------------------------------------------------------
def import_cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-import)."""
    graph = {m: sorted(t for t in mod.imports if t in modules) for m, mod in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


# -- rules 3 and 4 ------------------------------------------------------------------------------
def _lazy_getattr_nodes(module: Module) -> set[int]:
    """ids of nodes inside a module-level ``__getattr__`` of an ``__init__`` (PEP 562)."""
    if module.path.name != "__init__.py":
        return set()
    out: set[int] = set()
    for node in module.tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            out.update(id(n) for n in ast.walk(node))
    return out


def dynamic_imports(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if module.name == COMMAND_TABLE:
            continue
        lazy = _lazy_getattr_nodes(module)
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = getattr(func, "attr", None) or getattr(func, "id", None)
            if called not in ("import_module", "__import__"):
                continue
            constant = bool(node.args) and isinstance(node.args[0], ast.Constant)
            if id(node) in lazy:
                continue
            where = f"{module.name}:{node.lineno}"
            out.append(f"{where} {called}({'constant' if constant else 'non-constant'} argument)")
    return out


def module_function_strings(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if module.name == COMMAND_TABLE:
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                head, colon, attr = text.partition(":")
                if colon and attr.isidentifier() and head.split(".")[0] in ("levercast", *LAYERS):
                    out.append(f"{module.name}:{node.lineno} names {text!r}")
    return out


# -- rule 5 -------------------------------------------------------------------------------------
def experiments_rank(name: str) -> int | None:
    parts = name.split(".")
    if parts[:2] != ["levercast", "experiments"] or len(parts) < 3:
        return None
    for rank, group in enumerate(EXPERIMENT_ORDER):
        if parts[2] in group:
            return rank
    raise AssertionError(f"{name}: experiments/{parts[2]} is not placed in EXPERIMENT_ORDER")


def experiments_order_violations(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        rank = experiments_rank(module.name)
        if rank is None:
            continue
        for target in sorted(module.imports):
            other = experiments_rank(target) if target in modules else None
            if other is not None and other > rank:
                out.append(f"{module.name} imports {target} (later in the experiments order)")
    return out


# -- rule 6 -------------------------------------------------------------------------------------
def whole_table_reads(modules: dict[str, Module]) -> list[str]:
    out = []
    for module in modules.values():
        if module.name.startswith(WHOLE_TABLE_READERS) or module.name in WHOLE_TABLE_READERS:
            continue
        if module.name.startswith("levercast.features.dataset"):
            continue
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "read"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in TIME_SERIES_TABLES
            ):
                out.append(f"{module.name}:{node.lineno} reads {node.args[0].value!r} whole")
    return out


# -- rule 7 -------------------------------------------------------------------------------------
def command_imports(modules: dict[str, Module]) -> list[str]:
    cli = "levercast.experiments.cli"
    return [
        f"{module.name} imports {target}"
        for module in modules.values()
        if not module.name.startswith(cli) and module.name != "levercast.experiments.__main__"
        for target in sorted(module.imports)
        if target == cli or target.startswith(cli + ".")
    ]


RULES = {
    "layers": rightward_imports,
    "cycles": lambda m: [" -> ".join(c) for c in import_cycles(m)],
    "dynamic-imports": dynamic_imports,
    "module-function-strings": module_function_strings,
    "experiments-order": experiments_order_violations,
    "whole-table-reads": whole_table_reads,
    "command-imports": command_imports,
}


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return load_modules(REPO)


@pytest.mark.parametrize("rule", RULES)
def test_the_package_keeps_the_rule(modules, rule):
    offenders = RULES[rule](modules)
    assert not offenders, f"{rule}:\n" + "\n".join(offenders)


# -- every rule catches a planted violation ------------------------------------------------------
def _plant(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    for layer in LAYERS:
        (tmp_path / layer).mkdir(exist_ok=True)
        (tmp_path / layer / "__init__.py").write_text("")
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(tmp_path).parents:
            if str(parent) not in (".", "") and not (tmp_path / parent / "__init__.py").exists():
                (tmp_path / parent / "__init__.py").write_text("")
        path.write_text(text)
    return load_modules(tmp_path)


PLANTED: dict[str, tuple[dict[str, str], str]] = {
    "layers": (
        {"features/bad.py": "from levercast.experiments.labels.outcomes import label\n"},
        "levercast.features.bad (features) imports levercast.experiments.labels.outcomes",
    ),
    "layers-bare": (
        {"models/bad.py": "import features.store\n"},
        "imports bare top-level features.store",
    ),
    "cycles": (
        {
            "models/a.py": "def f():\n    from levercast.models.b import g\n",
            "models/b.py": "from levercast.models.a import f\n",
        },
        "levercast.models.a -> levercast.models.b",
    ),
    "dynamic-imports": (
        {"markets/bad.py": "import importlib\nname = 'x'\nimportlib.import_module(name)\n"},
        "levercast.markets.bad:3 import_module(non-constant argument)",
    ),
    "module-function-strings": (
        {"models/bad.py": "TARGET = 'levercast.models.gbm:price_gbm'\n"},
        "names 'levercast.models.gbm:price_gbm'",
    ),
    "experiments-order": (
        {
            "experiments/learning/fit.py": "from levercast.experiments.reporting.report import r\n",
            "experiments/reporting/report.py": "r = 1\n",
        },
        "levercast.experiments.learning.fit imports levercast.experiments.reporting.report",
    ),
    "whole-table-reads": (
        {"models/bad.py": "def f(store):\n    return store.read('candles')\n"},
        "levercast.models.bad:2 reads 'candles' whole",
    ),
    "command-imports": (
        {
            "experiments/scanning/scan.py": (
                "from levercast.experiments.cli.commands.parse import p\n"
            ),
            "experiments/cli/commands/parse.py": "p = 1\n",
        },
        "levercast.experiments.scanning.scan imports levercast.experiments.cli.commands.parse",
    ),
}


@pytest.mark.parametrize(("files", "expected"), PLANTED.values(), ids=PLANTED.keys())
def test_each_rule_catches_a_planted_violation(tmp_path, files, expected):
    planted = _plant(tmp_path, files)
    found = [line for rule in RULES.values() for line in _lines(rule(planted))]
    assert any(expected in line for line in found), found


def _lines(items: Iterable[str]) -> list[str]:
    return list(items)


def test_lazy_reexports_and_the_command_table_are_the_allowed_dynamic_imports(tmp_path):
    planted = _plant(
        tmp_path,
        {
            "models/__init__.py": (
                "import importlib\n_EXPORTS = {'f': 'levercast.models.a'}\n"
                "def __getattr__(name):\n"
                "    return getattr(importlib.import_module(_EXPORTS[name]), name)\n"
            ),
            "experiments/cli/main.py": (
                "import importlib\nTABLE = {'x': 'levercast.experiments.cli.commands.x:run'}\n"
                "def run(t):\n    return importlib.import_module(t.split(':')[0])\n"
            ),
        },
    )
    assert dynamic_imports(planted) == []
    assert module_function_strings(planted) == []
