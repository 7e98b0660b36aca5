"""The ``levercast`` command line (INTERFACE.md §1, §4, §4a).

One argparse parser built from an option registry; each subcommand is bound to a
``run_<verb>(args)`` function in ``experiments.cli.commands.<module>``, imported only when the
command runs, so ``levercast --help`` imports no pandas, numpy, scikit-learn, LightGBM or MLflow.
Arguments are checked while parsing (``experiments.cli.options``), before any data is loaded;
a ``levercast.toml`` file (``experiments.cli.config``) supplies defaults below the environment
and the flags. ``main`` alone maps exceptions to exit codes: 0 ok, 2 usage/configuration/data
error or an unsupported contract (one line on stderr), 1 unexpected (traceback only with
``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

from levercast.experiments.cli import options as o

__all__ = ["build_parser", "main"]

_TIME_HELP: Final = "ISO-8601 with offset, e.g. 2026-01-15T00:00Z"
# name -> (flags, argparse keyword arguments). Defined once, reused by every subcommand.
OPTIONS: Final[dict[str, tuple[tuple[str, ...], dict[str, Any]]]] = {
    "asset": (
        ("--asset",),
        {"type": o.one_asset, "metavar": "ASSET", "help": f"asset, one of {', '.join(o.ASSETS)}"},
    ),
    "assets": (
        ("--asset",),
        {
            "type": o.asset_list,
            "metavar": "ASSETS",
            "help": f"assets, comma separated, among {', '.join(o.ASSETS)}",
        },
    ),
    "at": (("--at",), {"type": o.utc_time, "metavar": "T", "help": f"decision time, {_TIME_HELP}"}),
    "start": (
        ("--start",),
        {"required": True, "type": o.utc_time, "metavar": "T", "help": f"start, {_TIME_HELP}"},
    ),
    "end": (
        ("--end",),
        {"required": True, "type": o.utc_time, "metavar": "T", "help": f"end, {_TIME_HELP}"},
    ),
    "out": (("--out",), {"metavar": "PATH", "help": "output file or directory"}),
    "model": (
        ("--model",),
        {
            "default": None,
            "choices": o.QUOTELESS_MODELS,
            "metavar": "MODEL",
            "help": "pricing model: " + ", ".join(o.QUOTELESS_MODELS) + " (levercast models)",
        },
    ),
    "seed": (
        ("--seed",),
        {"type": o.bounded(int, 0, 2**32 - 1), "default": 0, "help": "random seed, 0 to 2^32-1"},
    ),
    "venue": (("--venue",), {"metavar": "VENUES", "help": "venue(s), comma separated"}),
    "every": (
        ("--every",),
        {"type": o.duration, "metavar": "PERIOD", "help": "period between runs, e.g. 5m, 1h"},
    ),
    "lookback": (
        ("--lookback",),
        {
            "type": o.lookback_hours,
            "default": None,
            "metavar": "HOURS",
            "help": "liquidation-map lookback in hours, 24 to 168 (default: the fitted 168)",
        },
    ),
}

COMMON_HELP: Final = {
    "data": "dataset directory (default: $LEVERCAST_DATA, else ./data)",
    "json": "print exactly one JSON document on stdout (progress and notes go to stderr)",
    "debug": "show tracebacks of unexpected errors and every per-source failure",
    "quiet": "no progress bars and no informational lines on stderr (errors still print)",
    "config": "configuration file (default: $LEVERCAST_CONFIG, else ./levercast.toml if present)",
}


def _environment_text() -> str:
    width = max(len(name) for name in o.ENVIRONMENT)
    rows = [f"  {name:<{width}}  {text}" for name, text in o.ENVIRONMENT.items()]
    return "environment (precedence: levercast.toml < environment < flags):\n" + "\n".join(rows)


EPILOG: Final = (
    "examples:\n"
    "  levercast --data ../shared/data data check\n"
    "  levercast models\n"
    "  levercast features --asset BTC --at 2026-02-20T00:00Z\n"
    "  levercast price 'Will Bitcoin dip to $60,000 in February?' --at 2026-02-10T00:00Z\n"
    "  levercast scan --at 2025-11-10T12:00Z\n"
    "  levercast report --asset BTC --at 2025-11-10T12:00Z --out reports/\n"
    "  levercast --config levercast.toml report\n"
    "\n"
    "exit codes: 0 ok; 2 usage, configuration or data error (one line on stderr), stale inputs\n"
    "of a live report; 1 unexpected error (traceback with --debug).\n\n" + _environment_text()
)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default (when it has a meaningful one) and verbatim epilogs."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "(default" not in text
            and action.option_strings
            and default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``levercast: --x must ...; see levercast CMD --help``."""

    def error(self, message: str) -> NoReturn:
        text = message.replace("argument ", "", 1) if message.startswith("argument ") else message
        text = text.replace(": must ", " must ", 1)
        choice = re.fullmatch(r"(.+): invalid choice: (.+) \(choose from (.+)\)", text)
        if choice:
            name, found, known = choice.groups()
            text = f"{name} must be one of {known.replace(chr(39), '')}; found {found}"
        self.exit(2, f"{self.prog}: {text} (see {self.prog} --help)\n")


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    group = parser.add_argument_group("global options")
    default: Any = argparse.SUPPRESS if suppress else None
    group.add_argument(
        "--data", "--store", dest="data", default=default, metavar="DIR", help=COMMON_HELP["data"]
    )
    flag_default: Any = argparse.SUPPRESS if suppress else False
    for flags, dest in (
        (("--json",), "json"),
        (("--debug",), "debug"),
        (("-q", "--quiet"), "quiet"),
    ):
        group.add_argument(
            *flags, dest=dest, action="store_true", default=flag_default, help=COMMON_HELP[dest]
        )
    group.add_argument("--config", default=default, metavar="FILE", help=COMMON_HELP["config"])


def _opt(parser: argparse.ArgumentParser, name: str, **overrides: Any) -> None:
    flags, kwargs = OPTIONS[name]
    parser.add_argument(*flags, **{**kwargs, **overrides})


def _command(
    sub: Any, name: str, target: str, help_text: str, *, examples: Sequence[str] = ()
) -> argparse.ArgumentParser:
    epilog = "examples:\n" + "\n".join(f"  levercast {e}" for e in examples) if examples else None
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=epilog, formatter_class=_Formatter
    )
    _add_common(parser, suppress=True)
    parser.set_defaults(target=target)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("levercast")
    except PackageNotFoundError:  # a source tree that is not installed
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: the installed version, looked up only when asked (``importlib.metadata``
    costs 45 ms, which every command would otherwise pay while building the parser)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest=dest,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show the version and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(f"levercast {_version()}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The full ``levercast`` parser."""
    parser = _Parser(
        prog="levercast",
        description="Calibrated probabilities for crypto prediction markets from leverage data.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    _add_common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = _command(
        sub,
        "models",
        "levercast.experiments.cli.commands.models:run_models",
        "list the pricing models, one line each",
        examples=["models", "models --json"],
    )

    p = _command(
        sub,
        "data",
        "levercast.experiments.cli.commands.data:run_data",
        "inspect the dataset",
        examples=["data check --data ../shared/data"],
    )
    p.add_argument("action", choices=["check"], help="check: validate every table, count rows")

    p = _command(
        sub,
        "features",
        "levercast.experiments.cli.commands.features:run_features",
        "features of an asset at a time; 'validate-map' scores the liquidation map",
        examples=[
            "features --asset BTC --at 2026-02-20T00:00Z",
            "features validate-map --asset BTC --start 2026-01-15T00:00Z --end 2026-03-01T00:00Z",
        ],
    )
    p.add_argument(
        "action",
        nargs="?",
        choices=["validate-map"],
        default=None,
        help="validate-map: score the liquidation map against realised liquidations",
    )
    _opt(p, "asset", required=True)
    _opt(p, "at")
    _opt(p, "start", required=False)
    _opt(p, "end", required=False)
    _opt(p, "lookback")

    p = _command(
        sub,
        "heatmap",
        "levercast.experiments.cli.commands.heatmap:run_heatmap",
        "render the liquidation heatmap (time x price) to a PNG, realised liquidations overlaid",
        examples=[
            "heatmap --asset BTC --start 2026-02-01T00:00Z --end 2026-02-15T00:00Z --out maps/",
        ],
    )
    _opt(p, "asset", required=True)
    _opt(p, "start")
    _opt(p, "end")
    _opt(
        p,
        "out",
        required=True,
        help="PNG file to write, or an existing directory (then DIR/heatmap-ASSET-START-END.png)",
    )
    p.add_argument(
        "--bin-bps",
        type=o.bounded(float, o.MIN_HEATMAP_BIN_BPS, o.MAX_HEATMAP_BIN_BPS),
        default=None,
        metavar="BPS",
        help=f"price bin width in bps, {o.MIN_HEATMAP_BIN_BPS:g} to {o.MAX_HEATMAP_BIN_BPS:g} "
        "(default: the map's 10); the price range may need at most 2000 bins",
    )
    _opt(p, "lookback")

    p = _command(
        sub,
        "price",
        "levercast.experiments.cli.commands.price:run_price",
        "probability of a contract (JSON spec or a question in words) at a time",
        examples=[
            "price 'Will Bitcoin dip to $60,000 in February?' --at 2026-02-10T00:00Z",
            'price \'{"kind":"touch","asset":"BTC","strike_usd":60000,"direction":"down",'
            '"end":"2026-02-27T00:00Z"}\' --at 2026-02-20T00:00Z --model default',
        ],
    )
    p.add_argument("spec", help="contract JSON (partial allowed) or a question in words")
    _opt(p, "at", required=True)
    _opt(
        p,
        "model",
        help="pricing model (default: gbm; for liquidations_above the liquidation-volume model "
        "of default): " + ", ".join(o.QUOTELESS_MODELS),
    )
    p.add_argument(
        "--paths",
        type=o.bounded(int, *o.PATHS_RANGE),
        default=None,
        metavar="N",
        help=f"Monte Carlo paths for mc/mc-garch, {o.PATHS_RANGE[0]:,} to {o.PATHS_RANGE[1]:,} "
        "(default: 100,000)",
    )
    _opt(p, "seed")

    p = _command(
        sub,
        "parse",
        "levercast.experiments.cli.commands.parse:run_parse",
        "turn a market title (or every market of --data) into a contract",
        examples=[
            "parse 'Will Bitcoin reach $150,000 in December?' --at 2025-12-01T00:00Z",
            "parse --data ../shared/data",
        ],
    )
    p.add_argument("title", nargs="?", default=None, help="market title; omit with --data")
    p.add_argument("--rules", default=None, help="the market's rules text")
    p.add_argument(
        "--created-at", default=None, type=o.utc_time, metavar="T", help="market creation time"
    )
    p.add_argument("--end-date", default=None, type=o.utc_time, metavar="T", help="market end date")
    p.add_argument(
        "--subtitle", default=None, metavar="TEXT", help="Kalshi subtitle, e.g. '$97,250 or above'"
    )
    _opt(p, "at")

    p = _command(
        sub,
        "ask",
        "levercast.experiments.cli.commands.ask:run_ask",
        "answer a question: our probability and band, the market's price and edge net of fees "
        "when it is a market of --data, and the three inputs that moved the answer most",
        examples=[
            "ask 'Will Bitcoin reach $80,000 in February?' --at 2026-02-10T00:00Z",
            "ask 09ea848b-8b2b-4776-a404-5f6b28e4ccca --at 2026-01-15T00:00Z --data ../shared/data",
        ],
    )
    p.add_argument(
        "question", help="a question in words, or a market of --data: its URL, slug, id or title"
    )
    _opt(p, "at", help=f"decision time, {_TIME_HELP} (default: now)")
    _opt(p, "model", default="default")
    p.add_argument(
        "--subtitle", default=None, metavar="TEXT", help="Kalshi subtitle, e.g. '$97,250 or above'"
    )

    p = _command(
        sub,
        "backtest",
        "levercast.experiments.cli.commands.backtest:run_backtest",
        "walk-forward backtest of models on contracts generated from price history",
        examples=[
            "backtest --asset BTC --start 2025-01-01T00:00Z --end 2026-02-01T00:00Z "
            "--models gbm,default",
        ],
    )
    _opt(p, "asset", required=True)
    _opt(p, "start")
    _opt(p, "end")
    p.add_argument(
        "--kinds",
        type=o.kind_list,
        default="touch,close_above,move,up_down",
        metavar="KINDS",
        help=f"contract kinds, comma separated, among {', '.join(o.KINDS)}",
    )
    p.add_argument(
        "--horizons",
        type=o.duration_list,
        default="1h,24h,7d",
        metavar="DURATIONS",
        help="forecast horizons, comma separated",
    )
    p.add_argument(
        "--models",
        type=o.model_list,
        default="gbm,default",
        metavar="MODELS",
        help="models, comma separated, among " + ", ".join(o.MODELS),
    )
    _opt(p, "venue", help="candle venue of the underlying (default: the store's usual one)")
    p.add_argument(
        "--retrain-every",
        type=o.duration,
        default="30d",
        metavar="PERIOD",
        help="refit learned models every",
    )
    p.add_argument(
        "--step",
        type=o.duration,
        default=None,
        metavar="PERIOD",
        help="decision-time grid step (default: by horizon)",
    )
    p.add_argument(
        "--engine",
        choices=["serial", "threads", "joblib", "dask"],
        default="threads",
        help="how walk-forward segments run: serial, threads (two side by side in this process, "
        "the default), joblib (local processes; the same numbers as serial and threads) or dask",
    )
    _opt(p, "seed")

    p = _command(
        sub,
        "evaluate",
        "levercast.experiments.cli.commands.evaluate:run_evaluate",
        "score the model against real prediction-market odds in the dataset",
        examples=["evaluate --model gbm", "evaluate --forecasts"],
    )
    _opt(
        p,
        "model",
        default="default",
        choices=tuple(o.MODELS),
        help="model scored: " + ", ".join(o.MODELS),
    )
    p.add_argument("--forecasts", action="store_true", help="score the forward log instead")
    _opt(p, "seed")

    p = _command(
        sub,
        "scan",
        "levercast.experiments.cli.commands.scan:run_scan",
        "rank open markets by edge net of fees and spread",
        examples=[
            "scan --at 2025-11-10T12:00Z",
            "scan --venue kalshi --asset BTC --min-edge 0.03 --max-quote-age 2m --no-fetch",
        ],
    )
    _opt(
        p,
        "venue",
        type=o.venue_list(o.MARKET_VENUES),
        default="polymarket,kalshi",
        help="prediction-market venues, comma separated",
    )
    _opt(p, "assets", default="BTC,ETH")
    p.add_argument(
        "--min-edge",
        type=o.bounded(float, 0.0, 1.0),
        default=0.02,
        metavar="PROB",
        help="edge net of fees and spread that flags a row, as a probability in [0, 1]",
    )
    p.add_argument(
        "--max-quote-age",
        type=o.duration,
        default="10m",
        metavar="PERIOD",
        help="older quotes are stale (never flagged)",
    )
    p.add_argument(
        "--no-fetch", action="store_true", help="live scan without fetching stale data first"
    )
    _opt(p, "at", help=f"replay the store at T ({_TIME_HELP}); default: live, now")
    _opt(
        p,
        "model",
        choices=tuple(o.MODELS),
        help="pricing model (default: the default forecaster, else gbm): " + ", ".join(o.MODELS),
    )

    p = _command(
        sub,
        "report",
        "levercast.experiments.cli.commands.report:run_report",
        "render the probability report (HTML + Markdown)",
        examples=[
            "report --asset BTC --at 2025-11-10T12:00Z --out reports/",
            "report --every 1h --keep 48",
            "report --allow-stale",
        ],
    )
    _opt(p, "assets", default="BTC,ETH")
    _opt(p, "at", help=f"replay the store at T ({_TIME_HELP}); default: live, now")
    _opt(p, "out", help="directory for the report (default: $LEVERCAST_HOME/reports)")
    _opt(p, "every", help="render a live report every PERIOD until SIGINT/SIGTERM, e.g. 1h")
    p.add_argument(
        "--keep",
        type=o.bounded(int, 1, None),
        default=48,
        metavar="N",
        help="reports kept with --every",
    )
    _opt(p, "model", help="pricing model (default: the default forecaster, else gbm)")
    _opt(p, "lookback")
    p.add_argument(
        "--allow-stale",
        action="store_true",
        help="a live report on stale inputs exits 0 (default: exit 2, 'stale inputs: ...')",
    )

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
    fetch_venues = o.venue_list(o.FETCH_VENUES)
    p = _command(
        sub,
        "fetch",
        "levercast.experiments.cli.commands.fetch:run_fetch",
        "fetch data from the venues into --data",
        examples=["fetch all --data ./data", "fetch candles --asset BTC --venue binance"],
    )
    p.add_argument("what", choices=fetch_what, help="what to fetch: " + ", ".join(fetch_what))
    _opt(p, "assets", default="BTC,ETH")
    _opt(
        p, "venue", type=fetch_venues, help="sources, comma separated: " + ", ".join(o.FETCH_VENUES)
    )
    p.add_argument(
        "--since", default=None, type=o.utc_time, metavar="T", help="from (default: resume)"
    )
    p.add_argument("--until", default=None, type=o.utc_time, metavar="T", help="to (default: now)")

    p = _command(
        sub,
        "record",
        "levercast.experiments.cli.commands.fetch:run_record",
        "keep recording a live feed into --data until SIGINT/SIGTERM",
        examples=["record books --every 5m --data ./data", "record liquidations"],
    )
    record_what = ["books", "liquidations", "derivatives"]
    p.add_argument("what", choices=record_what, help="feed: " + ", ".join(record_what))
    _opt(p, "every", default="5m")
    _opt(p, "assets", default="BTC,ETH")
    _opt(
        p, "venue", type=fetch_venues, help="sources, comma separated: " + ", ".join(o.FETCH_VENUES)
    )
    p.add_argument(
        "--max-runs",
        type=o.bounded(int, 1, None),
        default=None,
        metavar="N",
        help="stop after N rounds (default: until stopped)",
    )
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


def _check_window(args: argparse.Namespace) -> None:
    """``--start`` before ``--end`` (and ``--since`` before ``--until``), before any data."""
    from levercast.features.errors import ConfigError
    from levercast.features.timeutil import parse_utc

    for first, last in (("start", "end"), ("since", "until")):
        a, b = getattr(args, first, None), getattr(args, last, None)
        if a and b and parse_utc(a) >= parse_utc(b):
            raise ConfigError(f"--{last} must be after --{first}; found {first}={a}, {last}={b}")


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` over the configuration file's defaults (ConfigError on a bad file)."""
    from levercast.experiments.cli.config import apply_config, find_config, load_config

    parser = build_parser()
    apply_config(load_config(find_config(argv)), parser)
    args = parser.parse_args(argv)
    _check_window(args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code."""
    from levercast.features.errors import ForecastError

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse(argv)
    except SystemExit as e:  # --help, --version, or a usage error (one line already printed)
        return e.code if isinstance(e.code, int) else 2
    except ForecastError as e:
        print(f"levercast: {e}", file=sys.stderr)
        return 2
    from levercast.experiments.shutdown import Terminated, terminate_as_interrupt

    debug = bool(getattr(args, "debug", False))
    try:
        try:
            # SIGTERM unwinds a one-shot command like Ctrl-C (store lock, temp files, MLflow);
            # loops (record, report --every) install their own stop-between-rounds handlers.
            with terminate_as_interrupt():
                return _resolve(args.target)(args)
        except ForecastError as e:
            print(
                str(e)
                if str(e).startswith(("unsupported contract", "stale inputs"))
                else f"levercast: {e}",
                file=sys.stderr,
            )
            if debug:
                traceback.print_exc()
            return 2
    except Terminated as e:
        print("levercast: terminated (SIGTERM)", file=sys.stderr)
        return e.exit_code
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


def run() -> int:
    """The ``levercast`` program: ``main`` on ``sys.argv``, then the heap frozen for exit.

    ``gc.freeze`` moves every object to the permanent generation, so the interpreter's exit
    does not walk the frames, arrays and modules of the answer once more for garbage cycles
    (0.17 s of a 2 s ``ask`` on a 2-core machine). Exit handlers still run (MLflow, temporary
    directories, the store lock), and every file this program writes is written and closed (or
    renamed into place) before ``main`` returns. Not for in-process callers (tests, notebooks):
    there frozen objects would never be collected.
    """
    code = main()
    import gc

    gc.freeze()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
