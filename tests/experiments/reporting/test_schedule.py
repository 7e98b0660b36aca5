"""Reports on a schedule: clean stops (SIGTERM, a stop event) and pruning to the newest N."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

from levercast.experiments.reporting.schedule import prune_reports, run_schedule


def test_schedule_stops_cleanly_on_sigterm_and_keeps_the_last_n(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    counter = iter(range(100))

    def render_once():
        i = next(counter)
        page = out / f"report-2026010{i}T000000Z.html"
        page.write_text("x")
        page.with_suffix(".md").write_text("x")
        if i == 2:  # a real SIGTERM during the third report: it finishes, then the loop ends
            os.kill(os.getpid(), signal.SIGTERM)
        return {"html": str(page), "markdown": str(page.with_suffix(".md")), "plots": 0,
                "notes": []}  # fmt: skip

    before = signal.getsignal(signal.SIGTERM)
    payloads = run_schedule(render_once, every=timedelta(milliseconds=10), keep=2, out_dir=out)
    assert len(payloads) == 3
    assert sorted(p.name for p in out.glob("*.html")) == [
        "report-20260101T000000Z.html",
        "report-20260102T000000Z.html",
    ]
    assert signal.getsignal(signal.SIGTERM) == before  # handlers restored


def test_schedule_stop_event_from_another_thread(tmp_path):
    stop = threading.Event()
    calls = []

    def render_once():
        calls.append(1)
        threading.Timer(0.05, stop.set).start()
        return {"html": "x", "markdown": "y", "plots": 0, "notes": []}

    run_schedule(render_once, every=timedelta(hours=1), keep=1, out_dir=tmp_path, stop=stop)
    assert len(calls) == 1  # the hour-long wait was interrupted by the stop event


def test_prune_keeps_newest_pairs(tmp_path):
    for day in range(1, 5):
        for suffix in ("html", "md"):
            (tmp_path / f"report-2026010{day}T000000Z.{suffix}").write_text("x")
    removed = prune_reports(tmp_path, 1)
    assert len(removed) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report-20260104T000000Z.html",
        "report-20260104T000000Z.md",
    ]
