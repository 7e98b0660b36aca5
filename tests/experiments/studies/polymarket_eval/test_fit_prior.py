"""The committed blend prior is reproduced by the command it records."""

from __future__ import annotations

import json
import shlex

import pytest

from levercast.experiments.studies.polymarket_eval.fit_prior import PRIOR_PATH, PROG, main


@pytest.mark.slow
@pytest.mark.data
def test_the_recorded_command_refits_the_committed_prior(shared_data, tmp_path, capsys):
    committed = json.loads(PRIOR_PATH.read_text())
    words = shlex.split(committed["command"])
    assert " ".join(words[:3]) == PROG
    args = words[3:]
    args[args.index("--data") + 1] = str(shared_data)
    out = tmp_path / "prior.json"
    assert main([*args, "--out", str(out)]) == 0
    refit = json.loads(out.read_text())
    for key in ("w_model", "strength_markets", "cut", "markets"):
        assert refit[key] == committed[key], key
    assert "w_model=0.9" in capsys.readouterr().out
