"""Every lazily re-exported public name resolves (PEP 562 tables stay in sync with modules)."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "package",
    [
        "levercast",
        "levercast.features",
        "levercast.models",
        "levercast.markets",
        "levercast.experiments",
    ],
)
def test_lazy_exports_resolve(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="has no attribute"):
        module.__getattr__("no_such_name")
