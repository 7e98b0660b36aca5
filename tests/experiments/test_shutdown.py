"""Clean shutdown (``experiments/shutdown.py``): SIGTERM unwinds a one-shot job through its
``finally`` blocks like Ctrl-C, and the polling loops stop on either signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from levercast.experiments.shutdown import Terminated, stop_on_signals, terminate_as_interrupt

CHILD = textwrap.dedent(
    """
    import pathlib, signal, sys, time
    import pandas as pd
    from levercast.experiments.shutdown import Terminated, terminate_as_interrupt
    from levercast.features.dataset.store import Store

    root = pathlib.Path(sys.argv[1])
    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored;
    # this child stands for a command a person runs, where Ctrl-C raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with terminate_as_interrupt(), Store(root).writer():
            (root / "ready").write_text("1")
            while True:  # a long job holding the store's write lock
                time.sleep(0.01)
    except Terminated as e:
        (root / "cleaned").write_text(str(e))
        sys.exit(e.exit_code)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_one_shot_job_unwinds_on_sigterm_and_sigint(tmp_path, sig):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "ready").exists():
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        start = time.monotonic()
        child.send_signal(sig)
        code = child.wait(timeout=30)
    finally:  # never leave the child running into later tests
        if child.poll() is None:
            child.kill()
            child.wait()
    assert time.monotonic() - start < 5
    if sig == signal.SIGTERM:
        assert code == 143 and "terminated by signal 15" in (tmp_path / "cleaned").read_text()
    else:  # KeyboardInterrupt, untouched by the block: Python's own exit
        assert code != 0 and not (tmp_path / "cleaned").exists()
    from levercast.features.dataset.store import Store

    with Store(tmp_path).writer(timeout_secs=0):  # the lock was released
        pass
    assert not list(tmp_path.glob(".*.tmp"))


def _signal_self_and_wait():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(1)


def test_handlers_are_restored_and_threads_are_left_alone():
    before = signal.getsignal(signal.SIGTERM)
    with terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not before
        with pytest.raises(Terminated):
            _signal_self_and_wait()
    assert signal.getsignal(signal.SIGTERM) is before
    seen = []

    def worker():
        with terminate_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [before]


def test_stop_on_signals_sets_the_event():
    stop = threading.Event()
    with stop_on_signals(stop):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
