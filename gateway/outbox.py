"""Durable outbox: every decoded reading is committed here before the MQTT publisher may send it.

SQLite in WAL mode. Writes that add readings commit with synchronous=FULL: in WAL mode FULL syncs
the log on every commit, so a reading whose `put` returned survives a power cut (NORMAL would keep
the file consistent but may roll back the last commits, which on a gateway means losing readings).
The cost (one fsync, ~4 ms on the test machines) is paid per batch: callers hand over what has
queued up with `put_many`. Deleting acknowledged rows commits with synchronous=NORMAL: a power cut
may undo the last deletes, and those readings are then sent again, which is harmless (the service
stores each reading_id once). Without this the publisher would pay one fsync per PUBACK batch and
a 24 h backlog would take minutes instead of seconds to flush (bench/outbox_flush.py).

Bounded: when full, the OLDEST rows are dropped, counted in a persisted `dropped` counter and
logged at WARNING. Thread-safe: one connection guarded by a lock (paho's thread, the publisher's
thread and asyncio's executor all call in). An advisory lock file keeps a second process (or a
second Outbox in this one) off the same database.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

log = logging.getLogger(__name__)

# AUTOINCREMENT: seq never goes back, even after the table empties, so the publisher's
# "sent up to seq N" cursor can never skip a new row that reused an old number.
_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        reading_id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload BLOB NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS dead_letter (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_address TEXT NOT NULL,
        characteristic TEXT NOT NULL,
        frame BLOB NOT NULL,
        reason TEXT NOT NULL,
        received_at TEXT NOT NULL
    )""",
)
_DURABLE: Final = "FULL"
_RELAXED: Final = "NORMAL"
DEAD_LETTER_MAX_ROWS: Final = 10_000  # undecodable frames kept for audit; oldest go first


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    reading_id: str
    topic: str
    payload: bytes


class OutboxLockedError(RuntimeError):
    """Another gateway (process or instance) already uses this outbox file."""


class Outbox:
    """A bounded, durable FIFO of (reading_id, topic, payload), unique on reading_id."""

    def __init__(self, path: Path | str, *, max_rows: int) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.path = Path(path)
        self.max_rows = max_rows
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lockfile = self._take_lock(self.path)
        self._lock = threading.Lock()
        self._closed = False
        # isolation_level=None: we issue BEGIN IMMEDIATE / COMMIT ourselves.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={_DURABLE}")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._depth = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except BaseException:
            self._db.close()
            self._lockfile.close()
            raise

    @staticmethod
    def _take_lock(path: Path) -> IO[bytes]:
        lockfile = path.with_name(path.name + ".lock").open("ab")
        try:
            fcntl.flock(lockfile.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lockfile.close()
            raise OutboxLockedError(
                f"outbox {path} is in use by another gateway; give each gateway its own "
                "OXIWARD_GATEWAY_OUTBOX_PATH (or STATE_DIR)"
            ) from None
        return lockfile

    def put(self, reading_id: str, topic: str, payload: bytes) -> bool:
        """Store one reading; False when that reading_id is already stored (idempotent)."""
        return self.put_many([(reading_id, topic, payload)]) == 1

    def put_many(self, items: Sequence[tuple[str, str, bytes]]) -> int:
        """Store readings in one durable transaction; returns how many were new."""
        if not items:
            return 0
        now = time.time()
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                self._db.executemany(
                    "INSERT OR IGNORE INTO outbox (reading_id, topic, payload, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(rid, topic, bytes(payload), now) for rid, topic, payload in items],
                )
                added = self._db.total_changes - before
                dropped = self._enforce_bound(self._depth + added)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._depth += added - dropped
        if dropped:
            log.warning(
                "Outbox full (%d readings): dropped the %d oldest unsent readings (%d dropped in total). "
                "The broker has been unreachable for a long time; check the uplink.",
                self.max_rows,
                dropped,
                self.dropped(),
            )
        return added

    def _enforce_bound(self, depth: int) -> int:
        excess = depth - self.max_rows
        if excess <= 0:
            return 0
        self._db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)", (excess,)
        )
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('dropped', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (excess,),
        )
        return excess

    def pending(self, limit: int, *, after_seq: int = 0) -> list[OutboxRow]:
        """Up to `limit` unsent rows with seq > after_seq, oldest first."""
        with self._lock:
            self._check_open()
            rows = self._db.execute(
                "SELECT seq, reading_id, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [OutboxRow(int(s), str(r), str(t), bytes(p)) for s, r, t, p in rows]

    def mark_sent(self, key: int | str) -> bool:
        """Delete one row by seq (int) or reading_id (str); False if it was not there."""
        column = "seq" if isinstance(key, int) else "reading_id"
        with self._lock:
            self._check_open()
            deleted = self._db.execute(f"DELETE FROM outbox WHERE {column} = ?", (key,)).rowcount  # noqa: S608
            self._depth -= deleted
        return deleted == 1

    def mark_sent_many(self, seqs: Iterable[int]) -> int:
        """Delete acknowledged rows by seq in one transaction; returns how many were deleted."""
        batch = [(seq,) for seq in seqs]
        if not batch:
            return 0
        with self._lock:
            self._check_open()
            self._db.execute(f"PRAGMA synchronous={_RELAXED}")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    before = self._db.total_changes
                    self._db.executemany("DELETE FROM outbox WHERE seq = ?", batch)
                    deleted = self._db.total_changes - before
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            finally:
                self._db.execute(f"PRAGMA synchronous={_DURABLE}")
            self._depth -= deleted
        return deleted

    def depth(self) -> int:
        """Rows waiting to be sent (kept in memory: this object is the file's only writer)."""
        with self._lock:
            return self._depth

    def dropped(self) -> int:
        """Readings dropped by the size bound over the file's whole life."""
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT value FROM meta WHERE key = 'dropped'").fetchone()
        return int(row[0]) if row else 0

    def remember(self, key: str, value: int) -> None:
        """Keep a small integer across restarts (e.g. a device's clock offset in ms)."""
        with self._lock:
            self._check_open()
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"remember:{key}", int(value)),
            )

    def recall(self, key: str) -> int | None:
        with self._lock:
            self._check_open()
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (f"remember:{key}",)).fetchone()
        return None if row is None else int(row[0])

    def dead_letter(
        self, *, device_address: str, characteristic: str, frame: bytes, reason: str, received_at: str
    ) -> None:
        """Keep an undecodable frame with its reason (bounded; oldest dropped first)."""
        with self._lock:
            self._check_open()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO dead_letter (device_address, characteristic, frame, reason, received_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (device_address, characteristic, bytes(frame), reason[:500], received_at),
                )
                self._db.execute(
                    "DELETE FROM dead_letter WHERE id <= (SELECT max(id) FROM dead_letter) - ?",
                    (DEAD_LETTER_MAX_ROWS,),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def dead_letters(self, limit: int = 100) -> list[tuple[str, str, bytes, str]]:
        """Newest dead-lettered frames: (device_address, characteristic, frame, reason)."""
        with self._lock:
            self._check_open()
            rows = self._db.execute(
                "SELECT device_address, characteristic, frame, reason FROM dead_letter "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [(str(a), str(c), bytes(f), str(r)) for a, c, f, r in rows]

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"outbox {self.path} is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            self._lockfile.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
