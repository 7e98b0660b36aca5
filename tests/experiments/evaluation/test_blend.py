"""The model-market blend: online weights from markets resolved before each observation, and the
committed prior read as package data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from levercast.experiments.evaluation.blend import load_prior, online_blend, pool


def _obs(rows):
    frame = pd.DataFrame(rows, columns=["market_id", "t", "prob_market", "outcome", "resolved_at"])
    frame["t"] = pd.to_datetime(frame["t"], utc=True)
    frame["resolved_at"] = pd.to_datetime(frame["resolved_at"], utc=True)
    frame["quote_kind"] = "daily_close"
    return frame


def test_blend_uses_only_markets_resolved_before():
    obs = _obs(
        [
            ("a", "2024-01-01", 0.5, 1.0, "2024-01-03"),
            ("b", "2024-01-02", 0.5, 1.0, "2024-01-10"),
            ("c", "2024-01-05", 0.5, 0.0, "2024-01-20"),
        ]
    )
    model = np.array([0.9, 0.9, 0.2])
    blend, w = online_blend(obs, model, None)
    assert w.tolist() == [0.0, 0.0, 1.0]  # only market a (resolved 01-03) informs the 01-05 row
    assert blend[:2] == pytest.approx([0.5, 0.5])
    assert blend[2] == pytest.approx(pool(np.array([0.5]), np.array([0.2]), 1.0)[0])


def test_the_committed_prior_is_read_from_the_study_package():
    prior = load_prior()
    assert prior is not None and prior.w_model == 0.9 and len(prior.markets) == 30
    assert prior.command.startswith(
        "python -m levercast.experiments.studies.polymarket_eval.fit_prior "
    )


def test_a_missing_prior_file_reads_as_none(tmp_path):
    assert load_prior(tmp_path / "blend_prior.json") is None
