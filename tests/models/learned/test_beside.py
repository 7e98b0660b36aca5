"""``models.learned.beside``: a call on a daemon thread, its value or its exception."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from levercast.models.learned.beside import beside


def test_result_is_the_value_or_the_exception_of_the_call():
    assert beside(lambda a, b=0: a + b, 2, b=3).result() == 5

    def fail() -> None:
        raise ValueError("no rows before the cut")

    pending = beside(fail)
    with pytest.raises(ValueError, match="no rows before the cut"):
        pending.result()


def test_the_call_runs_on_another_daemon_thread():
    seen = beside(lambda: (threading.current_thread().daemon, threading.get_ident())).result()
    assert seen[0] is True and seen[1] != threading.get_ident()


def test_a_process_exits_without_waiting_for_a_call_beside():
    """A cold answer past its budget exits while a side fit is still running."""
    code = (
        "import time\n"
        "from levercast.models.learned.beside import beside\n"
        "beside(time.sleep, 60)\n"
        "print('answered')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert out.stdout.strip() == "answered"
