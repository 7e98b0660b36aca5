"""The forward log: atomic appends, idempotent keys, the reader behind evaluate --forecasts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

import levercast.experiments.evaluation.forward_log as fl
from levercast.features.errors import ConfigError, DataError
from levercast.models.contracts import Contract

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)


@dataclass
class Row:
    """A stand-in for ``experiments.scanning.scan.ScanRow`` (the fields the log reads)."""

    market_id: str
    prob_model: float = 0.4
    venue: str = "polymarket"
    question: str = "Will Bitcoin reach $120,000 in January?"
    yes_outcome: str = "Yes"
    prob_lo: float = 0.3
    prob_hi: float = 0.5
    components: dict[str, float] = field(default_factory=lambda: {"gbm": 0.4})
    prob_bid: float | None = 0.38
    prob_ask: float | None = 0.42
    quote_observed_at: datetime | None = AT
    quote_source: str = "book"
    model: str = "gbm"
    contract: Any = field(
        default_factory=lambda: Contract.from_json(
            {"kind": "touch", "asset": "BTC", "direction": "up", "strike_usd": 120000.0,
             "start": "2026-01-01T00:00Z", "end": "2026-02-01T05:00Z"}
        )
    )  # fmt: skip


def append(rows, tmp_path, at=AT, source="scan"):
    return fl.append_forecasts(
        rows, at=at, source=source, data_fingerprint="abc", home=tmp_path, commit="f" * 40
    )


def test_round_trip_keeps_every_field(tmp_path):
    rows = [Row("m1"), Row("m2", prob_model=0.45, prob_hi=0.6, prob_bid=None)]
    assert append(rows, tmp_path) == 2
    log = fl.read_forecasts(tmp_path)
    assert list(log.columns) == list(fl.FORECAST_COLUMNS)
    assert list(log["market_id"]) == ["m1", "m2"]
    assert log["prob"].tolist() == [0.4, 0.45]
    assert pd.isna(log["prob_bid"].iloc[1])
    assert (log["at"] == pd.Timestamp(AT)).all()
    assert set(log["model_version"]) == {"gbm@ffffffffffff"}
    parsed = fl.forecast_contracts(log)
    assert [c.to_json_dict() for c in parsed] == [r.contract.to_json_dict() for r in rows]


def test_appends_accumulate_and_same_key_replaces(tmp_path):
    append([Row("m1")], tmp_path)
    append([Row("m1", prob_model=0.41, prob_hi=0.6)], tmp_path)  # same (at, source, venue, id)
    append([Row("m1")], tmp_path, at=AT.replace(hour=13))
    append([Row("m1")], tmp_path, source="report")
    log = fl.read_forecasts(tmp_path)
    assert len(log) == 3
    first = log[(log["at"] == pd.Timestamp(AT)) & (log["source"] == "scan")]
    assert first["prob"].tolist() == [0.41]


def test_failed_write_leaves_the_old_log_intact(tmp_path, monkeypatch):
    append([Row("m1")], tmp_path)
    before = fl.forecasts_path(tmp_path).read_bytes()

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"):
        append([Row("m2")], tmp_path)
    assert fl.forecasts_path(tmp_path).read_bytes() == before
    assert not list(tmp_path.glob(".forecasts.*.tmp"))
    assert not fl.forecasts_path(tmp_path).with_suffix(".lock").exists()


def test_lock_of_a_live_process_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(fl, "_LOCK_WAIT_SECS", 0.1)
    fl.forecasts_path(tmp_path).with_suffix(".lock").write_text(str(os.getppid()))
    with pytest.raises(DataError, match=r"lock .* is held by another process"):
        append([Row("m1")], tmp_path)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    fl.forecasts_path(tmp_path).with_suffix(".lock").write_text("999999999")
    assert append([Row("m1")], tmp_path) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": datetime(2026, 1, 1)}, "at must be tz-aware UTC"),
        ({"source": "backtest"}, "source must be 'scan' or 'report'; found 'backtest'"),
    ],
    ids=["naive", "source"],
)
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    args = {"at": AT, "source": "scan", **kwargs}
    with pytest.raises(ConfigError, match=message):
        fl.append_forecasts([Row("m1")], data_fingerprint="x", home=tmp_path, **args)


def test_empty_log_reads_as_empty_frame(tmp_path):
    log = fl.read_forecasts(tmp_path)
    assert log.empty and list(log.columns) == list(fl.FORECAST_COLUMNS)
    assert append([], tmp_path) == 0
    assert not fl.forecasts_path(tmp_path).exists()
