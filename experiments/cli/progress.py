"""Progress bars on stderr for long jobs (issue 21), behind a callback that library code accepts.

Library functions take an optional ``progress`` callable and call it as the work advances::

    def build_report(..., progress: Callable[[int, int, str], None] | None = None): ...
        progress(done, total, "BTC ladders")     # or progress(done, total) where no label helps

They never import rich and never print: the default is a no-op (``no_progress``). The CLI makes
the callable here::

    with progress_bar(args, "backtest segments") as advance:
        run(..., progress=advance)

A bar is drawn only when stderr is a terminal and ``-q`` was not given, and only once the job
has run for ``DELAY_SECS`` (a quick command draws nothing). It shows the count done, the total,
the elapsed time and the ETA (a spinner and the elapsed time while the total is unknown). Logs,
cron and pipes get no redraw lines; stdout is never touched, so ``--json`` stays one document.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final, Protocol

__all__ = ["DELAY_SECS", "Advance", "bars_enabled", "no_progress", "progress_bar"]

DELAY_SECS: Final = 1.5  # a job shorter than this draws nothing (issue 21: bars for jobs > ~2 s)


class Advance(Protocol):
    """The progress callable: ``advance(done, total)`` or ``advance(done, total, label)``."""

    def __call__(self, done: int, total: int | None = None, label: str | None = None) -> None:
        """Report ``done`` of ``total`` units (``total`` None: unknown), optionally naming the
        current step."""


def no_progress(done: int, total: int | None = None, label: str | None = None) -> None:
    """The default progress callable: does nothing."""


def bars_enabled(args: Any, stream: Any = None) -> bool:
    """Whether bars may be drawn: stderr is a terminal and neither ``-q`` nor ``$NO_PROGRESS``
    (any non-empty value) silences them."""
    import os

    if getattr(args, "quiet", False) or os.environ.get("NO_PROGRESS"):
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class _Bar:
    """One rich progress bar on stderr, started after ``delay`` seconds, stopped on close."""

    def __init__(self, description: str, total: int | None, *, delay: float, stream: Any) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._description = description
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream, stderr=stream is sys.stderr),
            transient=True,
            redirect_stdout=False,  # stdout carries the command's output (one JSON document)
            redirect_stderr=False,
        )
        self._task = self._progress.add_task(description, total=total)
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._timer = threading.Timer(delay, self._start)
        self._timer.daemon = True
        self._timer.start()

    def _start(self) -> None:
        with self._lock:
            if not self._closed and not self._started:
                self._progress.start()
                self._started = True

    def __call__(self, done: int, total: int | None = None, label: str | None = None) -> None:
        description = self._description if not label else f"{self._description}: {label}"
        if total is None:
            self._progress.update(self._task, completed=done, description=description)
        else:
            self._progress.update(self._task, completed=done, total=total, description=description)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._timer.cancel()
            if self._started:
                self._progress.stop()


@contextmanager
def progress_bar(
    args: Any,
    description: str,
    total: int | None = None,
    *,
    delay: float = DELAY_SECS,
    stream: Any = None,
) -> Iterator[Advance]:
    """A progress callable for one job: a bar on a terminal's stderr, else ``no_progress``.

    Parameters
    ----------
    args
        The parsed command line (``-q`` is ``args.quiet``).
    description
        What is counted, e.g. ``"backtest segments"``.
    total
        Units of work when known up front (the callable may also pass it).
    delay
        Seconds before the bar first appears.
    stream
        Where to draw (default ``sys.stderr``); never stdout.
    """
    stream = sys.stderr if stream is None else stream
    if not bars_enabled(args, stream):
        yield no_progress
        return
    bar = _Bar(description, total, delay=delay, stream=stream)
    try:
        yield bar
    finally:
        bar.close()
