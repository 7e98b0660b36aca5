"""Clean shutdown on SIGINT/SIGTERM.

Two ways, by the shape of the job:

- ``stop_on_signals(event)``: loops that can stop between rounds (``record``, ``report
  --every``, the venue recorders) poll an event the signals set, finish the round and return.
- ``terminate_as_interrupt()``: one-shot jobs (``backtest``, ``evaluate``, ``price --model mc``,
  ``heatmap``, ``fetch``) have no round to finish. Python turns SIGINT into
  ``KeyboardInterrupt``, so ``finally`` blocks run (the store's write lock and temporary files,
  MLflow's pending run, temporary folders); SIGTERM's default kills the process without them.
  Inside this block SIGTERM raises ``Terminated`` (a ``KeyboardInterrupt``), so both signals
  take the same clean path and the CLI exits 130 (SIGINT) or 143 (SIGTERM) with one line.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "stop_on_signals", "terminate_as_interrupt"]


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived inside ``terminate_as_interrupt``; exit code 143 (128 + SIGTERM)."""

    exit_code = 128 + signal.SIGTERM


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Raise ``Terminated`` on SIGTERM inside the block (restoring the handler after), so a
    one-shot job unwinds through its ``finally`` blocks as on Ctrl-C.

    Outside the main thread (where Python cannot install handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM inside the block; restore the previous handlers after.

    Outside the main thread (where Python cannot install handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
