"""The feature catalogue: every feature of the frame, in column order.

``FEATURES`` is an explicit tuple, the concatenation of the spec tuples each builder module
declares (``features.builders.signals``, ``elr``, ``dominance`` and the liquidation map's
``features.liqmap.clusters``), then the per-exchange liquidation features and the cascade
flag (``features.builders.liquidations``). Nothing registers itself at import: a feature exists
when its spec is in one of these tuples and that tuple is listed here. The order is the column
order of the frame and of ``levercast features``. What a spec holds is described in
``features.frame.specs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from levercast.features.builders.dominance import DOMINANCE_FEATURES
from levercast.features.builders.elr import ELR_FEATURES
from levercast.features.builders.liquidations import LIQUIDATION_FEATURES
from levercast.features.builders.signals import SIGNAL_FEATURES
from levercast.features.errors import ConfigError
from levercast.features.frame.inputs import FrameContext
from levercast.features.frame.specs import FeatureSpec
from levercast.features.liqmap.clusters import MAP_FEATURES

__all__ = ["FEATURES", "feature_spec", "feature_specs", "select_features"]

FEATURES: Final[tuple[FeatureSpec[FrameContext], ...]] = (
    *SIGNAL_FEATURES,
    *ELR_FEATURES,
    *DOMINANCE_FEATURES,
    *MAP_FEATURES,
    *LIQUIDATION_FEATURES,
)


def _by_name(
    specs: tuple[FeatureSpec[FrameContext], ...],
) -> Mapping[str, FeatureSpec[FrameContext]]:
    index: dict[str, FeatureSpec[FrameContext]] = {}
    for spec in specs:
        if spec.name in index:
            raise ConfigError(
                f"feature names must be unique in FEATURES; found {spec.name!r} twice"
            )
        index[spec.name] = spec
    return index


_BY_NAME: Final = _by_name(FEATURES)


def feature_specs() -> list[FeatureSpec[FrameContext]]:
    """Every feature of the catalogue, in catalogue (column) order."""
    return list(FEATURES)


def feature_spec(name: str) -> FeatureSpec[FrameContext]:
    """The spec of feature ``name``.

    Raises
    ------
    ConfigError
        If ``name`` is not in the catalogue.
    """
    spec = _BY_NAME.get(name)
    if spec is None:
        raise ConfigError(f"name must be a feature of the catalogue; found unknown {name!r}")
    return spec


def select_features(names: Iterable[str]) -> list[FeatureSpec[FrameContext]]:
    """The specs of ``names``, in catalogue order (duplicates in ``names`` are ignored).

    Raises
    ------
    ConfigError
        If any name is not in the catalogue (all unknown names are listed).
    """
    wanted = list(names)
    unknown = [name for name in wanted if name not in _BY_NAME]
    if unknown:
        raise ConfigError(f"names must be features of the catalogue; found unknown {unknown}")
    chosen = set(wanted)
    return [spec for spec in FEATURES if spec.name in chosen]
