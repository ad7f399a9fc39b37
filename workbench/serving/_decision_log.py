"""The decision record: every decision durable on disk before its response leaves the server.

SQLite in WAL mode. Each event loop gathers the records of the requests it read and writes them in one
transaction (group commit); with ``power`` durability the write-ahead log is then flushed to disk
(``fdatasync``) by a flushing process beside the worker (:mod:`workbench.serving._wal`), and only then are
those requests released. A decision a client has received survives ``kill -9`` and power loss, and a flush is
shared by every request in its group. The loop does not wait for the disk: it reads and scores the next
requests while a group is being flushed, and commits them together once the flush is answered (SQLite's own
``synchronous=FULL`` would flush inside the commit, on the loop's thread).

Each writing process owns one shard file (``shard-N.db``, claimed with an exclusive lock on ``shard-N.lock``
and released by the operating system when the process dies, even by SIGKILL), so worker processes never wait
on each other's commits; SQLite's busy-wait between writers cost hundreds of milliseconds at p99. A decision
id names its shard, so reading one decision opens one file; queries over all decisions read every shard.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from workbench.paths import registry_store
from workbench.serving._wal import FALLBACK_CHECKPOINT_PAGES, ThreadCheckpoints, WalFlusher, settle

_COLUMNS = (
    "id",
    "time",
    "model",
    "version",
    "model_sha256",
    "route",
    "input",
    "score",
    "decision",
    "reasons",
    "latency_ms",
    "client",
    "related",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    route TEXT NOT NULL,
    input TEXT NOT NULL,
    score REAL NOT NULL,
    decision TEXT NOT NULL,
    reasons TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    client TEXT,
    related TEXT
);
-- only shadow and canary pairs are linked: champion-only decisions add nothing to this index
CREATE INDEX IF NOT EXISTS decisions_related ON decisions (related) WHERE related IS NOT NULL;
-- no reader asked for (model, time); each commit paid a page of it (shards from earlier versions had it)
DROP INDEX IF EXISTS decisions_time;
"""
#: rows per INSERT statement: SQLite allows 32,766 parameters per statement (13 per row)
_ROWS_PER_STATEMENT = 2048


@functools.lru_cache(maxsize=64)
def _insert_rows(count: int) -> str:
    """One INSERT statement for ``count`` rows (atomic: all rows or none)."""
    row = f"({', '.join('?' for _ in _COLUMNS)})"
    return f"INSERT INTO decisions ({', '.join(_COLUMNS)}) VALUES {', '.join([row] * count)}"


_JSON_COLUMNS = ("input", "reasons")


def decision_log_path() -> Path:
    """The folder of decision shards (``WORKBENCH_DECISIONS`` or ``registry_store/serving/decisions``)."""
    configured = os.environ.get("WORKBENCH_DECISIONS")
    return Path(configured).expanduser() if configured else registry_store() / "serving" / "decisions"


#: seeded from the operating system's entropy when imported: each process draws its own sequence
_random = random.Random()


def new_decision_id(shard: int = 0) -> str:
    """Time-ordered and unique across processes: nanoseconds, the shard, then 48 random bits.

    Unique because a shard has one writing process; the random bits only separate ids of the same nanosecond
    and need no cryptographic source (``os.urandom`` is a system call per decision).
    """
    return f"{time.time_ns():x}-{shard:03d}-{_random.getrandbits(48):012x}"


def shard_of(decision_id: str) -> int | None:
    """The shard a decision id names, or None for a malformed id."""
    parts = decision_id.split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


#: ``power``: every group commit is flushed to disk before its answers leave (survives a power cut of the host);
#: ``process``: the commit is in the operating system before the answer leaves (survives the server's death,
#: kill -9 included, not a power cut).
DURABILITY = ("power", "process")


def _connect(path: Path) -> sqlite3.Connection:
    """A WAL connection; commits are not flushed by SQLite (``NORMAL``): :class:`WalFlusher` flushes them.

    With ``NORMAL`` SQLite still flushes the log before every checkpoint and the database after it, so the
    file stays consistent; what it leaves out is the flush of each commit, which ``power`` durability adds.
    """
    connection = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _row(record: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(orjson.dumps(record[c]).decode() if c in _JSON_COLUMNS else record.get(c) for c in _COLUMNS)


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(_COLUMNS, row, strict=True))
    for column in _JSON_COLUMNS:
        record[column] = orjson.loads(record[column])
    return record


class DecisionLog:
    """Append decisions durably (group commit) and read them back by id."""

    def __init__(self, path: Path | None = None, *, durability: str = "power") -> None:
        if durability not in DURABILITY:
            raise ValueError(f"durability: {durability!r} is not one of {', '.join(DURABILITY)}")
        self.durability = durability
        self.path = path or decision_log_path()
        self.path.mkdir(parents=True, exist_ok=True)
        self._waiting: dict[asyncio.AbstractEventLoop, list] = {}  # per event loop: (rows, future) to commit
        self._local = threading.local()
        self._claim_lock = threading.Lock()  # claiming the shard
        self._write_lock = threading.Lock()
        self._shard_lock: Any = None
        self._flusher: WalFlusher | None = None  # power durability
        self._checkpoints: ThreadCheckpoints | None = None  # process durability
        self.shard: int | None = None
        self.commits = 0

    # --- shards -----------------------------------------------------------------------------------------

    def _shard_file(self, shard: int) -> Path:
        return self.path / f"shard-{shard:03d}.db"

    def _shards(self) -> list[Path]:
        return sorted(self.path.glob("shard-*.db"))

    def claim_shard(self) -> int:
        """Own the lowest free shard for this process's writes (idempotent)."""
        with self._claim_lock:
            if self.shard is not None:
                return self.shard
            for shard in range(1000):
                lock = open(self.path / f"shard-{shard:03d}.lock", "w")  # noqa: SIM115  (held while writing)
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    lock.close()
                    continue
                self._shard_lock, self.shard = lock, shard
                with _connect(self._shard_file(shard)) as connection:
                    connection.executescript(_SCHEMA)
                return shard
        raise RuntimeError(f"all 1000 decision-log shards in {self.path} are held by running processes")

    def _reader(self, shard_file: Path) -> sqlite3.Connection:
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        if shard_file not in connections:
            connections[shard_file] = _connect(shard_file)
        return connections[shard_file]

    def _query(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        rows: list[tuple] = []
        for shard_file in self._shards():
            try:
                rows += self._reader(shard_file).execute(sql, parameters).fetchall()
            except sqlite3.OperationalError:  # a shard created but not yet initialised by its writer
                continue
        return rows

    # --- writing ----------------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection for writing to the process's shard."""
        connection = getattr(self._local, "writer", None)
        if connection is None:
            self.claim_shard()
            connection = self._local.writer = _connect(self._shard_file(self.shard))
            # the flushing process or a thread checkpoints (off the loop); SQLite's own is only the safety net
            connection.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_CHECKPOINT_PAGES}")
            with self._claim_lock:
                if self.durability == "power" and self._flusher is None:
                    self._flusher = WalFlusher(self._shard_file(self.shard), when_idle=self._commit_waiting)
                if self.durability == "process" and self._checkpoints is None:
                    self._checkpoints = ThreadCheckpoints(self._shard_file(self.shard), self._commit_waiting)
        return connection

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """Commit ``rows`` as one transaction: all of them or, raising, none (nothing after a failed flush)."""
        connection = self._connection()
        if self._flusher is not None and self._flusher.failure is not None:
            raise self._flusher.failure
        with self._write_lock:  # threads of one process take turns instead of busy-waiting in SQLite
            try:
                # one statement for the whole batch, committed by itself (autocommit): one SQLite call
                if len(rows) <= _ROWS_PER_STATEMENT:
                    connection.execute(_insert_rows(len(rows)), [value for row in rows for value in row])
                else:  # a very large batch: several statements in one transaction
                    connection.execute("BEGIN IMMEDIATE")
                    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                        chunk = rows[start : start + _ROWS_PER_STATEMENT]
                        connection.execute(_insert_rows(len(chunk)), [value for row in chunk for value in row])
                    connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            self.commits += 1

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Return once every record is committed to disk; raise if the commit failed.

        Group commit on the event loop: the first append of a loop iteration schedules one commit for all
        records appended before it runs (every request read in that iteration), so concurrent requests share
        one transaction and one flush. With ``power`` durability, records appended while a flush is in flight
        wait in memory and are committed together when it is answered. The commit runs on the loop's own
        thread: a writer thread had to win the GIL back from the busy loop before it could release the
        answers, which set the p99 latency.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = []
            loop.call_soon(self._commit_waiting, loop)
        waiting.append(([_row(r) for r in records], future))
        await future

    def _commit_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._flusher is not None and self._flusher.busy(loop):
            return  # committed when that flush is answered: a commit would wait for the pages being flushed
        if self._checkpoints is not None and self._checkpoints.holds(loop):
            return  # committed when the checkpoint's last part is done
        waiting = self._waiting.pop(loop, [])
        if not waiting:
            return
        futures = [future for _rows, future in waiting]
        error: BaseException | None = None
        try:
            self._write([row for rows, _future in waiting for row in rows])
        except BaseException as exc:  # reported to every waiting request; nothing is acknowledged
            error = exc
        if error is None and self._flusher is not None:
            self._flusher.release_after_flush(loop, futures)
            return
        settle(futures, error)
        if error is not None and not isinstance(error, Exception):
            raise error
        if error is None and self._checkpoints is not None:
            self._checkpoints.after_commit(loop)

    def append_now(self, records: list[dict[str, Any]]) -> None:
        """Blocking append (commands and tests): returns once the records are durable."""
        self._write([_row(r) for r in records])
        if self._flusher is not None:
            self._flusher.flush()

    # --- reading ----------------------------------------------------------------------------------------

    def get(self, decision_id: str) -> dict[str, Any] | None:
        """The record with this id, or None."""
        shard = shard_of(decision_id)
        if shard is None or not self._shard_file(shard).is_file():
            return None
        row = self._reader(self._shard_file(shard)).execute(
            f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE id = ?", (decision_id,)
        )
        found = row.fetchone()
        return _record(found) if found else None

    def related(self, decision_id: str) -> list[dict[str, Any]]:
        """Records made alongside a decision (the challenger's shadow, or the champion's beside a canary)."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE related = ?"
        return [_record(r) for r in self._query(sql, (decision_id,))]

    def count(self, model: str | None = None) -> int:
        """How many decisions are recorded (for one model, or all)."""
        if model is None:
            return sum(r[0] for r in self._query("SELECT COUNT(*) FROM decisions"))
        return sum(r[0] for r in self._query("SELECT COUNT(*) FROM decisions WHERE model = ?", (model,)))

    def ids(self, model: str | None = None, route: str | None = None, limit: int | None = None) -> list[str]:
        """Decision ids, oldest first, optionally for one model and route."""
        clauses, parameters = [], []
        if model:
            clauses.append("model = ?")
            parameters.append(model)
        if route:
            clauses.append("route = ?")
            parameters.append(route)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        ids = sorted(r[0] for r in self._query(f"SELECT id FROM decisions{where}", parameters))
        return ids[:limit] if limit else ids

    def shard_files(self) -> list[Path]:
        """Every shard file, in shard order."""
        return self._shards()

    def records_after(
        self, shard_file: Path, last_id: str, model: str, *, routes: tuple[str, ...] | None = None, batch: int = 50_000
    ):
        """Records of one shard with ids after ``last_id`` (oldest first), read in batches."""
        connection = self._reader(shard_file)
        where = "model = ? AND id > ?" + (f" AND route IN ({', '.join('?' for _ in routes)})" if routes else "")
        while True:
            rows = connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE {where} ORDER BY id LIMIT {batch}",
                (model, last_id, *(routes or ())),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last_id = rows[-1][0]

    def close(self) -> None:
        """Give up the shard once every commit is flushed and released."""
        if self._flusher is not None:
            self._flusher.close()
            self._flusher = None
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        writer = getattr(self._local, "writer", None)
        if writer is not None:
            writer.close()
            self._local.writer = None
        if self._shard_lock is not None:
            self._shard_lock.close()
            self._shard_lock, self.shard = None, None
