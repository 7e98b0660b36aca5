"""Concurrent writers lose nothing (issue 19: two writers lost 104 of 284 reported batches).

Three processes loop on ``Store.writer()`` for ``$LEVERCAST_TEST_WRITER_SECS`` (default 60 s),
each upserting distinct batches into one table and printing a batch only after its ``with``
block has exited (the batch is then reported written). Afterwards every reported batch must be
in the table, and no two critical sections may have overlapped (an ``O_EXCL`` marker file
created and removed inside each block would collide).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from levercast.features.dataset.store import Store

WRITER = """
import os, sys, time
import pandas as pd
from levercast.features.dataset.store import Store

root, writer_id, end_epoch = sys.argv[1], sys.argv[2], float(sys.argv[3])
store = Store(root)
marker = os.path.join(root, ".inside-critical-section")
batch = 0
while time.time() < end_epoch:
    ts = pd.date_range("2020-01-01T00:00Z", periods=3, freq="1h") + pd.Timedelta(hours=3 * batch)
    # a rate within the sanity bound (|rate| <= 0.1) however many batches a fast machine writes:
    # 0.0001 * batch passed it at batch 1001 and the read quarantined those rows as if lost
    rows = pd.DataFrame({"venue": "test", "asset": f"W{writer_id}", "ts": ts,
                         "available_at": ts, "rate": 1e-7 * batch, "interval_hours": 8})
    with store.writer(timeout_secs=60) as w:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            print("OVERLAP", flush=True)
            sys.exit(3)
        written = w.upsert("funding", rows)
        os.close(fd)
        os.unlink(marker)
    print(batch, written, flush=True)  # reported only once the block has committed
    batch += 1
"""


@pytest.mark.slow
def test_three_writers_lose_no_reported_batch(tmp_path):
    duration_secs = float(os.environ.get("LEVERCAST_TEST_WRITER_SECS", "60"))
    root = tmp_path / "data"
    root.mkdir()
    end_epoch = time.time() + duration_secs
    procs = {
        writer: subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(writer), str(end_epoch)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for writer in range(3)
    }
    reported: dict[int, list[int]] = {}
    for writer, proc in procs.items():
        out, err = proc.communicate(timeout=duration_secs + 60)
        assert proc.returncode == 0, f"writer {writer} exited {proc.returncode}: {out[-300:]}{err}"
        lines = [line.split() for line in out.splitlines()]
        assert all(int(written) == 3 for _, written in lines)
        reported[writer] = [int(batch) for batch, _ in lines]

    store = Store(root)
    table = store.read("funding")
    assert store.quarantined("funding") == {}  # a row excluded on read would look lost below
    for writer, batches in reported.items():
        stored = table[table["asset"] == f"W{writer}"]
        stored_batches = set(
            ((stored["ts"] - pd.Timestamp("2020-01-01T00:00Z")) // pd.Timedelta("3h")).tolist()
        )
        missing = sorted(set(batches) - stored_batches)
        assert not missing, f"writer {writer}: {len(missing)} reported batches lost: {missing[:10]}"
        assert len(stored) == 3 * len(batches)
    # the three really contended: each got many batches in while the others were writing
    assert min(len(b) for b in reported.values()) >= 10
    assert not list(root.glob(".*.tmp"))
