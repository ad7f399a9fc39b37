"""The decision record: every decision durable on disk before its response leaves the server.

SQLite in WAL mode with ``synchronous=FULL`` (each commit is fsynced). One writer thread per server process
takes whatever records are waiting, writes them in one transaction (group commit) and only then releases the
requests that produced them, so a decision a client has received survives ``kill -9`` and power loss, and the
fsync cost is shared by every request in flight. Several server processes share one file; SQLite serialises
their commits.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from workbench.paths import registry_store

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
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (model, time);
"""
_INSERT = f"INSERT INTO decisions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"
_JSON_COLUMNS = ("input", "reasons")


def decision_log_path() -> Path:
    """Where decisions are recorded (``WORKBENCH_DECISIONS`` or ``registry_store/serving/decisions.db``)."""
    configured = os.environ.get("WORKBENCH_DECISIONS")
    return Path(configured).expanduser() if configured else registry_store() / "serving" / "decisions.db"


def new_decision_id() -> str:
    """Time-ordered and unique across processes: nanoseconds, then 48 random bits."""
    return f"{time.time_ns():x}-{os.urandom(6).hex()}"


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
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

    def __init__(self, path: Path | None = None, *, max_batch: int = 512) -> None:
        self.path = path or decision_log_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_batch = max_batch
        with _connect(self.path) as connection:
            connection.executescript(_SCHEMA)
        self._pending: queue.SimpleQueue = queue.SimpleQueue()
        self._local = threading.local()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self.commits = 0

    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = _connect(self.path)
        return connection

    def _ensure_writer(self) -> None:
        if self._writer is None or not self._writer.is_alive():
            with self._writer_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = threading.Thread(target=self._write_loop, name="decision-log", daemon=True)
                    self._writer.start()

    def _write_loop(self) -> None:
        connection = _connect(self.path)
        while True:
            batch = [self._pending.get()]
            if batch[0] is None:
                return
            while len(batch) < self.max_batch:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._pending.put(None)
                    break
                batch.append(item)
            rows = [row for rows, _done in batch for row in rows]
            error: BaseException | None = None
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(_INSERT, rows)
                connection.execute("COMMIT")
                self.commits += 1
            except BaseException as exc:  # reported to every waiting request; nothing is acknowledged
                error = exc
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            for _rows, done in batch:
                done(error)

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Return once every record is committed to disk; raise if the commit failed."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def done(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        self._ensure_writer()
        self._pending.put(([_row(r) for r in records], done))
        await future

    def append_now(self, records: list[dict[str, Any]]) -> None:
        """Blocking append (commands and tests)."""
        finished = threading.Event()
        outcome: list[BaseException | None] = []

        def done(error: BaseException | None) -> None:
            outcome.append(error)
            finished.set()

        self._ensure_writer()
        self._pending.put(([_row(r) for r in records], done))
        finished.wait()
        if outcome[0] is not None:
            raise outcome[0]

    def get(self, decision_id: str) -> dict[str, Any] | None:
        """The record with this id, or None."""
        row = self._reader().execute(f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE id = ?", (decision_id,))
        found = row.fetchone()
        return _record(found) if found else None

    def related(self, decision_id: str) -> list[dict[str, Any]]:
        """Records made alongside a decision (the challenger's shadow or the champion's fallback)."""
        rows = self._reader().execute(f"SELECT {', '.join(_COLUMNS)} FROM decisions WHERE related = ?", (decision_id,))
        return [_record(r) for r in rows.fetchall()]

    def count(self, model: str | None = None) -> int:
        """How many decisions are recorded (for one model, or all)."""
        if model is None:
            return self._reader().execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        return self._reader().execute("SELECT COUNT(*) FROM decisions WHERE model = ?", (model,)).fetchone()[0]

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
        suffix = f" LIMIT {int(limit)}" if limit else ""
        rows = self._reader().execute(f"SELECT id FROM decisions{where} ORDER BY id{suffix}", parameters)
        return [r[0] for r in rows.fetchall()]

    def close(self) -> None:
        """Finish pending writes and stop the writer."""
        if self._writer is not None and self._writer.is_alive():
            self._pending.put(None)
            self._writer.join()


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
