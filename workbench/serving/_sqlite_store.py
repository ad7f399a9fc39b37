"""The embedded decision store: one SQLite file in WAL mode with ``synchronous=FULL``.

Only SQLite's documented settings: WAL journal (readers never block the writer), ``synchronous=FULL`` (each
commit is flushed to disk before it returns, so a decision survives kill -9 and a power cut), a busy timeout,
and SQLite's own automatic checkpoints. The worker processes of one host share the file; SQLite admits one
writer at a time, and a writer that finds the file locked sleeps and retries (its busy handler). To keep
those sleeps out of the latency, a process takes an ``flock`` on a lock file beside the database before each
transaction, so writers queue in the kernel and each wakes as soon as the previous commit is done.

Rows get SQLite's rowid in commit order (one writer at a time, nothing is ever deleted), which is the cursor
monitoring reads new decisions by.
"""

from __future__ import annotations

import fcntl
import functools
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from workbench.paths import registry_store
from workbench.serving._decision_store import COLUMNS, DecisionStore, as_record

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
CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY, time REAL NOT NULL);
"""
#: rows per INSERT statement: SQLite allows 32,766 parameters per statement (13 per row)
_ROWS_PER_STATEMENT = 2048


@functools.lru_cache(maxsize=64)
def _insert_rows(count: int) -> str:
    row = f"({', '.join('?' for _ in COLUMNS)})"
    return f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES {', '.join([row] * count)}"


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


class SqliteDecisionStore(DecisionStore):
    """Decisions in one SQLite file shared by the worker processes of one host."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.url = f"sqlite:///{path}"
        try:  # inside the project: named relative to it, so a copied project keeps its monitoring cursors
            self.identity = f"sqlite:{path.resolve().relative_to(registry_store().resolve())}"
        except ValueError:
            self.identity = self.url
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._thread_turn = threading.Lock()
        self._lock_file = open(path.with_name(path.name + ".lock"), "a+b")  # noqa: SIM115  (held while open)
        with self._writing() as connection:
            connection.executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (the writing thread, the recovery probe and readers each have their own)."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = _connect(self.path)
        return connection

    class _Writing:
        def __init__(self, store: SqliteDecisionStore) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._thread_turn.acquire()  # flock is per open file: threads of one process take turns first
            fcntl.flock(self.store._lock_file, fcntl.LOCK_EX)
            return self.store._connection()

        def __exit__(self, *_: object) -> None:
            fcntl.flock(self.store._lock_file, fcntl.LOCK_UN)
            self.store._thread_turn.release()

    def _writing(self) -> _Writing:
        """This process's turn to write (the lock file's ``flock``), with this thread's connection."""
        return self._Writing(self)

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        with self._writing() as connection:
            try:
                connection.execute("BEGIN IMMEDIATE")
                for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                    chunk = rows[start : start + _ROWS_PER_STATEMENT]
                    connection.execute(_insert_rows(len(chunk)), [value for row in chunk for value in row])
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def _probe(self) -> None:
        with self._writing() as connection:
            connection.execute("INSERT OR REPLACE INTO store_probe (id, time) VALUES (1, ?)", (time.time(),))

    # --- reading ----------------------------------------------------------------------------------------

    def _rows(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        return self._connection().execute(sql, parameters).fetchall()

    def changes(
        self, model: str, cursor: str | None, routes: tuple[str, ...] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        last = int(cursor) if cursor and cursor.isdigit() else 0
        where = "rowid > ? AND model = ?" + (f" AND route IN ({', '.join('?' for _ in routes)})" if routes else "")
        rows = self._rows(
            f"SELECT rowid, {', '.join(COLUMNS)} FROM decisions WHERE {where} ORDER BY rowid",
            (last, model, *(routes or ())),
        )
        return [as_record(r[1:]) for r in rows], str(rows[-1][0] if rows else last)

    def _close_store(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
