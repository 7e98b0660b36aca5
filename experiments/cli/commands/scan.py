"""``levercast scan [--venue V] [--asset A] [--min-edge E] [--max-quote-age D] [--no-fetch]
[--at T]`` (INTERFACE.md §4).

Prints the ranked rows (``--json``: a list of row objects; stale, already-decided and closed
markets stay listed with ``flag`` false and ``why``) and, on stderr, the venues that failed, the
unsupported markets counted by reason and any notes. ``--model market_aware`` prices with the
market-aware forecast (gbm and the market, fitted on the markets known before T). A live scan
(no ``--at``) appends its priced, undecided rows to the forward log
(``experiments.evaluation.forward_log``); ``--at``
replays the
store at T (implies ``--no-fetch``) and writes nothing. Exit 0 even when a venue fails; 2 when
every venue failed and nothing was priced.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from levercast.experiments.cli.output import emit, say
from levercast.experiments.paths import resolve_data_dir

__all__ = ["render_scan", "run_scan"]


def render_scan(result: Any) -> list[Any]:
    """A header line and one table row per market: flag (* flagged, s stale, d decided or
    closed at T, f answered by the model's fallback), venue, the market's title, model
    probability and band, bid/ask, edge after costs in points, side, capped Kelly fraction and
    why a row is not flagged; then the legend."""
    from levercast.experiments.cli.format import fmt_points, fmt_prob, fmt_time, table

    mode = "live" if result.live else "replay"
    head = (
        f"scan at {fmt_time(result.at)} ({mode}, model {result.model}): "
        f"{len(result.rows)} markets priced, {sum(r.flag for r in result.rows)} flagged"
    )
    rows = []
    for r in result.rows:
        flags = ("*" if r.flag else "") + ("s" if r.stale else "") + ("d" if r.decided else "")
        flags += "f" if result.fell_back(r) else ""
        title = r.question or r.contract.describe()
        quote = (
            "-"
            if r.prob_bid is None and r.prob_ask is None
            else f"{fmt_prob(r.prob_bid)} / {fmt_prob(r.prob_ask)}"
        )
        band = (
            "-"
            if r.prob_lo != r.prob_lo  # NaN: not priced
            else f"{fmt_prob(r.prob_lo)}-{fmt_prob(r.prob_hi)}"
        )
        rows.append([flags, r.venue, title, fmt_prob(r.prob_model), band, quote,
                     fmt_points(r.edge), r.side or "-",
                     fmt_prob(r.kelly_fraction) if r.kelly_fraction else "-",
                     _short_why(r.why, flagged=r.flag)])  # fmt: skip
    fallbacks = sorted({m for r in result.rows if (m := result.fell_back(r))})
    legend = "flags: * flagged, s stale quote, d decided or closed at T"
    if fallbacks:
        legend += f", f answered by {' or '.join(fallbacks)} in place of {result.model}"
    legend += "; edge net of fees/spread"
    headers = ["", "venue", "market", "model", "band", "bid / ask", "edge", "side", "Kelly", "why"]
    return [head, table(headers, rows, right=[3, 5, 6, 8], min_widths={2: 36}), legend]


def _short_why(why: str | None, *, flagged: bool) -> str:
    """The reasons a row is not flagged, without the order and quote details (in ``--json``)."""
    parts = [p.strip() for p in (why or "").split(";") if p.strip()]
    # A stale quote is the flag column's "s"; the other reasons are spelled out.
    reasons = [
        p.removeprefix("not flagged: ")
        for p in parts
        if p.startswith("not flagged") and "stale quote" not in p
    ]
    reasons += [p for p in parts if p.startswith(("pessimistic", "decided", "closed", "no "))]
    if flagged and parts:
        return parts[0]  # the order: side, price and fee
    return "; ".join(dict.fromkeys(reasons))


def _report_stderr(args: argparse.Namespace, result: Any) -> None:
    """Failed venues always; unsupported markets and notes unless ``-q``."""
    for item in result.failed:
        print(f"scan: {item['what']} failed: {item['error']}", file=sys.stderr)
    if result.unsupported:
        total = sum(result.unsupported.values())
        say(args, f"scan: {total} market(s) not priced:")
        for reason, n in result.unsupported.items():
            say(args, f"  {n:>4}  {reason}")
    for note in result.notes:
        say(args, f"scan: {note}")


def run_scan(args: argparse.Namespace) -> int:
    """Run the scanner; log live rows to the forward log; print rows."""
    from levercast.experiments.cli.progress import progress_bar
    from levercast.experiments.scanning.scan import scan
    from levercast.features.dataset.store import Store
    from levercast.features.errors import ConfigError, DataError
    from levercast.features.timeutil import parse_utc

    at = None if args.at is None else parse_utc(args.at, name="--at")
    store = Store(resolve_data_dir(args.data))
    with progress_bar(args, "scan: pricing markets"):  # a spinner until scan takes a callback
        result = scan(
            store,
            at=at,
            venues=args.venue or "polymarket,kalshi",
            assets=args.asset or "BTC,ETH",
            min_edge=float(args.min_edge),
            max_quote_age=args.max_quote_age,
            fetch=at is None and not args.no_fetch,
            model=getattr(args, "model", None),
        )
    _report_stderr(args, result)
    # Only forecasts go to the forward log: rows already decided or closed at T are not.
    logged = [r for r in result.rows if r.decided is None and r.prob_model == r.prob_model]
    if result.live and logged:
        from levercast.experiments.evaluation.forward_log import append_forecasts

        try:
            n = append_forecasts(
                logged,
                at=result.at,
                source="scan",
                data_fingerprint=result.data_fingerprint,
            )
            say(args, f"scan: {n} forecast(s) appended to the forward log")
        except DataError as e:
            print(f"scan: forward log not written ({e})", file=sys.stderr)
    if result.failed and not result.rows:
        venues = ", ".join(f["what"] for f in result.failed)
        if len(result.failed) >= len((args.venue or "polymarket,kalshi").split(",")):
            raise ConfigError(f"every venue failed ({venues}); nothing was scanned")
    emit(args, [r.to_json_dict() for r in result.rows], lambda _: render_scan(result))
    return 0
