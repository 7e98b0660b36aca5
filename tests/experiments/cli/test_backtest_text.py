"""The text form of ``backtest``: what was run, one table of the models' scores with the skill
and its interval as percentages, one of the Brier scores by kind and horizon; no Python reprs."""

from __future__ import annotations

from levercast.experiments.cli.commands.backtest import _render
from levercast.experiments.cli.output import print_rich


def _doc():
    return {
        "n_forecasts": 142155,
        "n_days": 365,
        "n_dropped": 195,
        "dropped": {"unlabelled": 195},
        "venues": {"binance-spot": 105945, "binance-usdm": 36210},
        "fallbacks": {"default": 12},
        "models": {
            "gbm": {"brier": 0.13739778, "log_loss": 0.43315715, "ece": 0.05315298},
            "default": {"brier": 0.13261675, "log_loss": 0.42075903, "ece": 0.01282097},
        },
        "skill_vs_gbm": {
            "default": {"value": 0.034796994, "ci90": [0.024233800774327578, 0.04466133747752375]}
        },
        "by_kind_horizon": [
            {
                "kind": "touch",
                "horizon": "1h",
                "n": 35028,
                "models": {"gbm": {"brier": 0.16331}, "default": {"brier": 0.15241}},
            }
        ],
        "notes": ["learned models refitted every 30d"],
        "config": {"asset": "BTC", "start": "2025-01-01T00:00:00Z", "end": "2025-12-31T23:00:00Z"},
    }


def _text(capsys) -> str:
    print_rich(_render(_doc()))
    return capsys.readouterr().out


def test_the_models_table_shows_skill_and_interval_as_percentages(capsys):
    text = _text(capsys)
    head = text.splitlines()[0]
    assert head.startswith("backtest BTC 2025-01-01 00:00 UTC to 2025-12-31 23:00 UTC")
    assert "142,155 forecasts over 365 days, 195 dropped (unlabelled 195)" in head
    assert "binance-spot 105,945, binance-usdm 36,210" in head
    default = next(line for line in text.splitlines() if line.strip().startswith("default"))
    assert default.split() == [
        "default", "0.1326", "0.4208", "0.0128", "+3.48%", "[+2.42%,", "+4.47%]", "12",
    ]  # fmt: skip
    assert "skill vs gbm" in text and "90% CI" in text
    assert "0.024233800774327578" not in text and "{" not in text  # no raw floats or dicts


def test_the_kind_table_has_a_brier_column_per_model(capsys):
    text = _text(capsys)
    assert "Brier gbm" in text and "Brier default" in text
    touch = next(line for line in text.splitlines() if line.strip().startswith("touch"))
    assert touch.split() == ["touch", "1h", "35,028", "0.1633", "0.1524"]
    assert text.rstrip().endswith("note: learned models refitted every 30d")


def test_the_leverage_ablation_gets_its_own_skill_columns(capsys):
    doc = _doc()
    doc["models"]["default_vol"] = {"brier": 0.1331, "log_loss": 0.4221, "ece": 0.0131}
    doc["skill_vs_gbm"]["default_vol"] = {"value": 0.0312, "ci90": [0.021, 0.041]}
    doc["skill_vs_default_vol"] = {"default": {"value": 0.0036, "ci90": [-0.0009, 0.0081]}}
    print_rich(_render(doc))
    text = capsys.readouterr().out
    assert "skill vs default_vol" in text
    default = next(line for line in text.splitlines() if line.strip().startswith("default "))
    assert " ".join(default.split()[4:]) == "+3.48% [+2.42%, +4.47%] +0.36% [-0.09%, +0.81%] 12"
    vol = next(line for line in text.splitlines() if line.strip().startswith("default_vol"))
    assert vol.split()[4:] == ["+3.12%", "[+2.10%,", "+4.10%]"]
