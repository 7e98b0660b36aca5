"""SIGTERM in a one-shot command (issue 19): the entry point turns it into the Ctrl-C path, so
the command's ``finally`` blocks run (store lock, temp files, MLflow), and exits 143 with one
line; the handler that was there before is back afterwards."""

from __future__ import annotations

import os
import signal
import time

from levercast.experiments.cli import main as cli


def test_sigterm_unwinds_a_one_shot_command_and_exits_143(monkeypatch, capsys):
    cleaned = []

    def command(args):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # never reached: the signal raises inside the command
            return 0
        finally:
            cleaned.append("finally ran")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "_resolve", lambda target: command)
    started = time.monotonic()
    code = cli.main(["models"])
    assert code == 143
    assert time.monotonic() - started < 4
    assert cleaned == ["finally ran"]
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["levercast: terminated (SIGTERM)"]
    assert signal.getsignal(signal.SIGTERM) == before


def test_ctrl_c_still_exits_130(monkeypatch, capsys):
    def command(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_resolve", lambda target: command)
    assert cli.main(["models"]) == 130
    assert capsys.readouterr().err.strip() == "levercast: interrupted"
