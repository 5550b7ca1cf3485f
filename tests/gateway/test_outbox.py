"""The durable outbox: FIFO, idempotent, bounded with a counted drop, safe across restarts and SIGKILL."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gateway.outbox import Outbox, OutboxLockedError

ROOT = Path(__file__).resolve().parents[2]


def _items(n: int, start: int = 0) -> list[tuple[str, str, bytes]]:
    topic = "oxiward/v1/readings/00/gw"
    return [(f"{i:032x}", topic, f"payload-{i}".encode()) for i in range(start, start + n)]


def test_put_pending_mark_sent_oldest_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3", max_rows=1000) as box:
        for rid, topic, payload in _items(5):
            assert box.put(rid, topic, payload) is True
        assert box.depth() == 5
        rows = box.pending(3)
        assert [r.reading_id for r in rows] == [f"{i:032x}" for i in range(3)]
        assert rows[0].payload == b"payload-0"
        assert [r.reading_id for r in box.pending(10, after_seq=rows[-1].seq)] == [
            f"{i:032x}" for i in (3, 4)
        ]
        assert box.mark_sent(rows[0].seq) is True
        assert box.mark_sent(f"{1:032x}") is True  # by reading_id
        assert box.mark_sent(rows[0].seq) is False  # already gone
        assert [r.reading_id for r in box.pending(10)] == [f"{i:032x}" for i in (2, 3, 4)]
        assert box.mark_sent_many(r.seq for r in box.pending(10)) == 3
        assert box.depth() == 0
        assert box.pending(10) == []


def test_put_is_idempotent_on_reading_id(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3", max_rows=1000) as box:
        assert box.put("a" * 32, "t", b"first") is True
        assert box.put("a" * 32, "t", b"second") is False
        assert box.put_many([("a" * 32, "t", b"x"), ("b" * 32, "t", b"y")]) == 1
        assert box.depth() == 2
        rows = [(r.reading_id, r.payload) for r in box.pending(10)]
        assert rows == [("a" * 32, b"first"), ("b" * 32, b"y")]


def test_seq_never_reused_after_table_empties(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.sqlite3", max_rows=1000) as box:
        box.put_many(_items(3))
        last = box.pending(10)[-1].seq
        box.mark_sent_many(r.seq for r in box.pending(10))
        box.put("f" * 32, "t", b"new")
        # A publisher that sent up to `last` must still see the new row.
        assert [r.reading_id for r in box.pending(10, after_seq=last)] == ["f" * 32]


def test_bound_drops_oldest_counts_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "o.sqlite3"
    with Outbox(path, max_rows=10) as box, caplog.at_level(logging.WARNING, logger="gateway.outbox"):
        box.put_many(_items(10))
        assert box.dropped() == 0
        assert not caplog.records
        box.put_many(_items(3, start=10))
        assert box.depth() == 10
        assert box.dropped() == 3
        assert [r.reading_id for r in box.pending(100)] == [f"{i:032x}" for i in range(3, 13)]
        box.put(f"{13:032x}", "t", b"p")
        assert box.dropped() == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "dropped the 3 oldest" in warnings[0]
    assert "4 dropped in total" in warnings[1]
    with Outbox(path, max_rows=10) as box:  # the counter is persisted
        assert box.dropped() == 4
        assert box.depth() == 10


def test_reopen_keeps_pending_rows(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with Outbox(path, max_rows=1000) as box:
        box.put_many(_items(4))
        box.mark_sent(box.pending(1)[0].seq)
    with Outbox(path, max_rows=1000) as box:
        assert box.depth() == 3
        assert [r.reading_id for r in box.pending(10)] == [f"{i:032x}" for i in (1, 2, 3)]


def test_second_user_of_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    with Outbox(path, max_rows=1000), pytest.raises(OutboxLockedError, match="OUTBOX_PATH"):
        Outbox(path, max_rows=1000)
    Outbox(path, max_rows=1000).close()  # released on close


def test_concurrent_threads(tmp_path: Path) -> None:
    """Writers on one thread, an acknowledger on another (as paho's thread would)."""
    with Outbox(tmp_path / "o.sqlite3", max_rows=100_000) as box:
        total = 2000
        done = threading.Event()

        def writer() -> None:
            for k in range(0, total, 50):
                box.put_many(_items(50, start=k))
            done.set()

        acked = 0

        def acker() -> None:
            nonlocal acked
            deadline = time.monotonic() + 30
            while acked < total and time.monotonic() < deadline:
                rows = box.pending(100)
                acked += box.mark_sent_many(r.seq for r in rows)
                if not rows:
                    time.sleep(0.001)

        threads = [threading.Thread(target=writer), threading.Thread(target=acker)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert done.is_set()
        assert acked == total
        assert box.depth() == 0


_WRITER = """
import sys
from gateway.outbox import Outbox
box = Outbox(sys.argv[1], max_rows=10_000_000)
i = 0
while True:
    batch = [(f"{k:032x}", "oxiward/v1/readings/00/gw", (f"{k:032x}" * 8).encode()) for k in range(i, i + 7)]
    box.put_many(batch)
    i += 7
    if i % 70 == 0:
        box.mark_sent_many(r.seq for r in box.pending(3))
    print(i, flush=True)
"""


def test_sigkill_mid_write_leaves_a_consistent_database(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    committed = 0
    deadline = time.monotonic() + 30
    # Let it get well into its loop, then kill it without warning.
    while committed < 700 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        committed = int(line)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    assert committed >= 700, "writer never got going"

    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    with Outbox(path, max_rows=10_000_000) as box:
        rows = box.pending(1_000_000)
        assert box.depth() == len(rows)
    ids = sorted(int(r.reading_id, 16) for r in rows)
    for r in rows:  # no torn row: every payload is exactly what was written for its id
        assert r.payload == (r.reading_id * 8).encode()
    # Whole transactions only: a contiguous run of ids that ends on a batch boundary (7) and starts
    # after the oldest rows the writer acknowledged (3 per 70), covering every batch it reported.
    assert ids == list(range(ids[0], ids[-1] + 1))
    assert (ids[-1] + 1) % 7 == 0
    assert ids[-1] + 1 >= committed
    assert ids[0] % 3 == 0
    assert ids[0] <= 3 * (committed // 70 + 1)
