"""The committed market-aware and recalibration priors are reproduced by the command they
record, and were fitted only on markets known before their cut."""

from __future__ import annotations

import json
import shlex

import pandas as pd
import pytest

from levercast.experiments.learning.market_aware import load_coefficient_prior
from levercast.experiments.studies.polymarket_eval.fit_market_aware import HERE, PROG, main


@pytest.mark.parametrize("design", ["market_aware", "recalibration"])
def test_committed_priors_load_and_name_their_command(design):
    prior = load_coefficient_prior(design, "gbm")
    assert prior is not None
    assert prior.command.startswith(PROG)
    assert prior.cut == prior.tuned_until
    assert len(prior.grid) > 1  # the strength was chosen on a grid, written down


@pytest.mark.slow
@pytest.mark.data
def test_the_recorded_command_refits_the_committed_priors(shared_store, shared_data, tmp_path):
    committed = json.loads((HERE / "market_aware_prior_gbm.json").read_text())
    words = shlex.split(committed["command"])
    assert " ".join(words[:3]) == PROG
    args = words[3:]
    args[args.index("--data") + 1] = str(shared_data)
    assert main([*args, "--out-dir", str(tmp_path)]) == 0
    for name in ("market_aware_prior_gbm.json", "recalibration_prior_gbm.json"):
        refit = json.loads((tmp_path / name).read_text())
        kept = json.loads((HERE / name).read_text())
        for key in ("names", "strength", "cut", "markets"):
            assert refit[key] == kept[key], (name, key)
        assert refit["mean"] == pytest.approx(kept["mean"], abs=1e-5)
    known = shared_store.read("markets").set_index("market_id")["resolved_at"]
    cut = pd.Timestamp(committed["cut"])
    for market_id in committed["markets"]:
        resolved = known.get(market_id)
        assert resolved is None or pd.isna(resolved) or resolved < cut
