"""The liquidation heatmap as a library call on a synthetic dataset (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from levercast.experiments.reporting.heatmap import build_heatmap
from levercast.features.dataset.store import Store
from levercast.features.errors import ConfigError, DataError


def test_build_heatmap_renders_the_hourly_snapshots_known_at_the_end(synthetic_data, tmp_path):
    out = tmp_path / "heat.png"
    payload = build_heatmap(
        Store(synthetic_data),
        "BTC",
        start=datetime(2024, 1, 10, tzinfo=UTC),
        end=datetime(2024, 1, 11, tzinfo=UTC),
        out=out,
    )
    assert payload == {"out": str(out), "bins": payload["bins"], "snapshots": 25}
    assert payload["bins"] > 10
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("start", "end", "error", "message"),
    [
        (
            datetime(2024, 1, 12, tzinfo=UTC),
            datetime(2024, 1, 10, tzinfo=UTC),
            ConfigError,
            "--end must be after --start",
        ),
        (
            datetime(2030, 1, 1, tzinfo=UTC),
            datetime(2030, 1, 2, tzinfo=UTC),
            DataError,
            "no binance-usdm BTC 1h bar",
        ),
    ],
    ids=["reversed", "no-data"],
)
def test_build_heatmap_refuses_bad_periods(synthetic_data, tmp_path, start, end, error, message):
    with pytest.raises(error, match=message):
        build_heatmap(Store(synthetic_data), "BTC", start=start, end=end, out=tmp_path / "x.png")
