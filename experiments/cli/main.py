"""The ``levercast`` command line (INTERFACE.md §1, §4).

One argparse parser built from an option registry; each subcommand is bound to a
``run_<verb>(args)`` function in ``experiments.cli.commands.<module>``, imported only when the
command
runs, so ``levercast --help`` imports no pandas, numpy, scikit-learn, LightGBM or MLflow.
``main`` alone maps exceptions to exit codes: 0 ok, 2 usage/configuration/data error or an
unsupported contract (one line on stderr), 1 unexpected (traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Final

__all__ = ["build_parser", "main"]

# name -> (flags, argparse keyword arguments). Defined once, reused by every subcommand.
OPTIONS: Final[dict[str, tuple[tuple[str, ...], dict[str, Any]]]] = {
    "asset": (("--asset",), {"help": "asset, e.g. BTC (comma list where several are accepted)"}),
    "at": (("--at",), {"help": "decision time, ISO-8601 with offset (e.g. 2026-01-15T00:00Z)"}),
    "start": (("--start",), {"required": True, "help": "start time, ISO-8601 with offset"}),
    "end": (("--end",), {"required": True, "help": "end time, ISO-8601 with offset"}),
    "out": (("--out",), {"help": "output file or directory"}),
    "model": (("--model",), {"default": None, "help": "model name (gbm, mc, learned, default)"}),
    "seed": (("--seed",), {"type": int, "default": 0, "help": "random seed"}),
    "venue": (("--venue",), {"help": "venue(s), comma separated"}),
    "every": (("--every",), {"help": "period between runs, e.g. 5m, 1h"}),
    "lookback": (
        ("--lookback",),
        {
            "type": float,
            "default": None,
            "metavar": "HOURS",
            "help": "liquidation-map lookback in hours, 24 to 168 (default: the fitted 168)",
        },
    ),
}

COMMON_HELP: Final = {
    "data": "dataset directory (default: $LEVERCAST_DATA, else ./data)",
    "json": "print exactly one JSON document on stdout",
    "debug": "show tracebacks of unexpected errors",
}


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    group = parser.add_argument_group("global options")
    default: Any = argparse.SUPPRESS if suppress else None
    group.add_argument("--data", "--store", dest="data", default=default, help=COMMON_HELP["data"])
    flag_default: Any = argparse.SUPPRESS if suppress else False
    group.add_argument(
        "--json", action="store_true", default=flag_default, help=COMMON_HELP["json"]
    )
    group.add_argument(
        "--debug", action="store_true", default=flag_default, help=COMMON_HELP["debug"]
    )


def _opt(parser: argparse.ArgumentParser, name: str, **overrides: Any) -> None:
    flags, kwargs = OPTIONS[name]
    parser.add_argument(*flags, **{**kwargs, **overrides})


def _command(sub: Any, name: str, target: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    _add_common(parser, suppress=True)
    parser.set_defaults(target=target)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full ``levercast`` parser."""
    parser = argparse.ArgumentParser(
        prog="levercast",
        description="Calibrated probabilities for crypto prediction markets from leverage data.",
    )
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = _command(
        sub, "data", "levercast.experiments.cli.commands.data:run_data", "inspect the dataset"
    )
    p.add_argument("action", choices=["check"], help="check: validate every table, count rows")

    p = _command(
        sub,
        "features",
        "levercast.experiments.cli.commands.features:run_features",
        "features of an asset at a time; 'validate-map' scores the liquidation map",
    )
    p.add_argument("action", nargs="?", choices=["validate-map"], default=None)
    _opt(p, "asset", required=True)
    _opt(p, "at")
    _opt(p, "start", required=False)
    _opt(p, "end", required=False)
    _opt(p, "lookback")

    p = _command(
        sub,
        "heatmap",
        "levercast.experiments.cli.commands.heatmap:run_heatmap",
        "render the liquidation heatmap (time x price) to a PNG",
    )
    _opt(p, "asset", required=True)
    _opt(p, "start")
    _opt(p, "end")
    _opt(p, "out", required=True)
    p.add_argument("--bin-bps", type=float, default=None, help="price bin width in bps")
    _opt(p, "lookback")

    p = _command(
        sub,
        "price",
        "levercast.experiments.cli.commands.price:run_price",
        "probability of a contract (JSON spec or a question in words) at a time",
    )
    p.add_argument("spec", help="contract JSON (partial allowed) or a question in words")
    _opt(p, "at", required=True)
    _opt(p, "model", default="gbm")
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (mc)")
    _opt(p, "seed")

    p = _command(
        sub,
        "parse",
        "levercast.experiments.cli.commands.parse:run_parse",
        "turn a market title (or every market of --data) into a contract",
    )
    p.add_argument("title", nargs="?", default=None, help="market title; omit with --data")
    p.add_argument("--rules", default=None, help="the market's rules text")
    p.add_argument("--created-at", default=None, help="market creation time")
    p.add_argument("--end-date", default=None, help="market end date")
    _opt(p, "at")

    p = _command(
        sub,
        "backtest",
        "levercast.experiments.cli.commands.backtest:run_backtest",
        "walk-forward backtest of models on contracts generated from price history",
    )
    _opt(p, "asset", required=True)
    _opt(p, "start")
    _opt(p, "end")
    p.add_argument("--kinds", default="touch,close_above,move,up_down")
    p.add_argument("--horizons", default="1h,24h,7d")
    p.add_argument("--models", default="gbm,default")
    _opt(p, "venue")
    p.add_argument("--retrain-every", default="30d")
    p.add_argument("--step", default=None, help="decision-time grid step (default: by horizon)")
    p.add_argument("--engine", choices=["serial", "joblib", "dask"], default="serial")
    _opt(p, "seed")

    p = _command(
        sub,
        "evaluate",
        "levercast.experiments.cli.commands.evaluate:run_evaluate",
        "score the model against real prediction-market odds in the dataset",
    )
    _opt(p, "model", default="default")
    p.add_argument("--forecasts", action="store_true", help="score the forward log instead")
    _opt(p, "seed")

    p = _command(
        sub,
        "scan",
        "levercast.experiments.cli.commands.scan:run_scan",
        "rank open markets by edge net of fees and spread",
    )
    _opt(p, "venue", default="polymarket,kalshi")
    _opt(p, "asset", default="BTC,ETH")
    p.add_argument("--min-edge", type=float, default=0.02)
    p.add_argument("--max-quote-age", default="10m")
    p.add_argument("--no-fetch", action="store_true")
    _opt(p, "at")
    _opt(p, "model", help="pricing model (default: the default forecaster, else gbm)")

    p = _command(
        sub,
        "report",
        "levercast.experiments.cli.commands.report:run_report",
        "render the probability report (HTML + Markdown)",
    )
    _opt(p, "asset", default="BTC,ETH")
    _opt(p, "at")
    _opt(p, "out")
    _opt(p, "every")
    p.add_argument("--keep", type=int, default=48, help="reports kept with --every")
    _opt(p, "model", help="pricing model (default: the default forecaster, else gbm)")
    _opt(p, "lookback")

    fetch_what = [
        "candles",
        "open-interest",
        "funding",
        "ratios",
        "liquidations",
        "reserves",
        "implied-vol",
        "markets",
        "all",
    ]
    p = _command(
        sub,
        "fetch",
        "levercast.experiments.cli.commands.fetch:run_fetch",
        "fetch data from the venues into --data",
    )
    p.add_argument("what", choices=fetch_what)
    _opt(p, "asset", default="BTC,ETH")
    _opt(p, "venue")
    p.add_argument("--since", default=None)
    p.add_argument("--until", default=None)

    p = _command(
        sub,
        "record",
        "levercast.experiments.cli.commands.fetch:run_record",
        "keep recording a live feed into --data until SIGINT/SIGTERM",
    )
    p.add_argument("what", choices=["books", "liquidations", "derivatives"])
    _opt(p, "every", default="5m")
    _opt(p, "asset", default="BTC,ETH")
    _opt(p, "venue")
    p.add_argument("--max-runs", type=int, default=None, help="stop after N rounds")
    return parser


def _resolve(target: str) -> Callable[[argparse.Namespace], int]:
    module_name, func_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            from levercast.features.errors import ConfigError

            raise ConfigError(f"command not available in this build ({module_name})") from e
        raise
    func: Callable[[argparse.Namespace], int] = getattr(module, func_name)
    return func


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        from levercast.features.errors import ForecastError

        try:
            return _resolve(args.target)(args)
        except ForecastError as e:
            print(
                f"levercast: {e}" if not str(e).startswith("unsupported contract") else str(e),
                file=sys.stderr,
            )
            if debug:
                traceback.print_exc()
            return 2
    except KeyboardInterrupt:
        print("levercast: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the single broad catch of the program (STYLE G14)
        if debug:
            traceback.print_exc()
        else:
            print(
                f"levercast: unexpected error: {type(e).__name__}: {e} (rerun with --debug)",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
