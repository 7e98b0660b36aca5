"""The explicit feature catalogue: one tuple, unique names, the builders' tuples in order."""

from __future__ import annotations

import pytest

from levercast.features.builders.dominance import DOMINANCE_FEATURES
from levercast.features.builders.elr import ELR_FEATURES
from levercast.features.builders.liquidations import LIQUIDATION_FEATURES
from levercast.features.builders.signals import SIGNAL_FEATURES
from levercast.features.errors import ConfigError
from levercast.features.frame.registry import (
    FEATURES,
    feature_spec,
    feature_specs,
    select_features,
)
from levercast.features.liqmap.clusters import MAP_FEATURES


def test_catalogue_names_are_unique_and_equal_feature_specs():
    names = [spec.name for spec in FEATURES]
    assert len(names) == len(set(names))
    assert names == [spec.name for spec in feature_specs()]


def test_catalogue_is_the_builder_tuples_in_order():
    assert (
        *SIGNAL_FEATURES,
        *ELR_FEATURES,
        *DOMINANCE_FEATURES,
        *MAP_FEATURES,
        *LIQUIDATION_FEATURES,
    ) == FEATURES
    assert [s.name for s in FEATURES[:3]] == ["price_usd", "oi_usd", "rvol_24h"]


def test_feature_specs_is_a_fresh_list():
    specs = feature_specs()
    specs.clear()
    assert len(feature_specs()) == len(FEATURES)


def test_every_spec_carries_unit_description_and_tables():
    for spec in feature_specs():
        assert spec.unit and spec.description
        assert all(isinstance(t, str) for t in spec.required_tables)


def test_feature_spec_looks_up_by_name():
    assert feature_spec("elr") is ELR_FEATURES[0]
    with pytest.raises(ConfigError, match="name must be a feature of the catalogue; found unknown"):
        feature_spec("no_such_feature")


def test_select_features_keeps_catalogue_order_and_lists_unknown_names():
    chosen = select_features(["oi_usd", "elr", "price_usd", "elr"])
    assert [s.name for s in chosen] == ["price_usd", "oi_usd", "elr"]
    with pytest.raises(ConfigError, match=r"found unknown \['nope', 'zap'\]"):
        select_features(["price_usd", "nope", "zap"])
