"""The shared command line of the per-asset studies: its options reach the study, the rule's
verdict is printed with the rows (Markdown, or one JSON document)."""

from __future__ import annotations

import json

from levercast.experiments.studies.asset_study import study_main


def _study(calls):
    def run(store, assets, start, end):
        calls.append((store.root, assets, start, end))
        return [{"asset": a, "value": i} for i, a in enumerate(assets)]

    def decide(rows):
        return {"adopt": sum(r["value"] for r in rows) > 0}

    def markdown(rows, verdict):
        return f"{len(rows)} rows, adopt {verdict['adopt']}"

    return run, decide, markdown


def test_options_reach_the_study_and_the_verdict_is_printed(synthetic_data, capsys):
    calls: list = []
    argv = ["--data", str(synthetic_data), "--assets", "BTC,ETH", "--start", "2024-02-01T00:00Z"]
    study_main("a study", *_study(calls), argv)
    assert capsys.readouterr().out.strip() == "2 rows, adopt True"
    assert calls == [(synthetic_data, ["BTC", "ETH"], "2024-02-01T00:00Z", "2024-12-31T23:00Z")]
    study_main("a study", *_study(calls), ["--data", str(synthetic_data), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"rows": [{"asset": "BTC", "value": 0}, {"asset": "ETH", "value": 1}],
                   "verdict": {"adopt": True}}  # fmt: skip
    assert calls[-1][1:] == (["BTC", "ETH"], "2024-01-01T00:00Z", "2024-12-31T23:00Z")
