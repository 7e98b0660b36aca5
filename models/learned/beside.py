"""Run one independent fit on a second thread while the caller does another.

LightGBM releases the GIL while it boosts, so two fits side by side use both cores of a 2-core
machine. The thread is a daemon: a process that stops waiting for a fit (a cold answer past its
time budget falls back to ``gbm``) exits without finishing it, as it did when the fits ran one
after the other in its one daemon worker; ``concurrent.futures`` threads would be joined at exit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Beside", "beside"]

T = TypeVar("T")


class Beside(Generic[T]):
    """The outcome of ``fn(*args, **kwargs)`` running on a daemon thread."""

    def __init__(self, fn: Callable[..., T], *args: object, **kwargs: object) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = fn(*args, **kwargs)
            except BaseException as e:  # re-raised by result() in the caller's thread
                self._error = e

        self._thread = threading.Thread(target=run, name="levercast-fit-beside", daemon=True)
        self._thread.start()

    def result(self) -> T:
        """Wait for the call; its value, or its exception raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def beside(fn: Callable[..., T], *args: object, **kwargs: object) -> Beside[T]:
    """Start ``fn(*args, **kwargs)`` on a daemon thread; ``.result()`` waits for it."""
    return Beside(fn, *args, **kwargs)
