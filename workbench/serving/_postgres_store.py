"""The production decision store: PostgreSQL, shared by every instance of the server.

psycopg 3 with its connection pool; every session runs with ``synchronous_commit=on``, so a commit returns
once the database has flushed it to its write-ahead log (and to a synchronous standby where the operator
configured one). Any number of ``workbench serve`` instances on any hosts write to the same table; replay,
``GET /decisions/{id}``, monitoring and outcome imports read all of them.

Monitoring reads new decisions by transaction: each row carries the id of the transaction that wrote it
(``pg_current_xact_id()``), and a reader takes rows whose transaction is older than the oldest one still
running (``pg_snapshot_xmin``). An id taken from a sequence would not do: two instances' transactions commit
in any order, so a reader could pass a row that commits a moment later.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg_pool import ConnectionPool

from workbench.serving._decision_store import (
    COLUMNS,
    JSON_COLUMNS,
    SELECT_RECORDS,
    DecisionStore,
    as_record,
    redact,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    time TEXT NOT NULL,
    model TEXT NOT NULL,
    version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    route TEXT NOT NULL,
    input JSON NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    decision TEXT NOT NULL,
    reasons JSON NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    client TEXT,
    related TEXT,
    written_by XID8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX IF NOT EXISTS decisions_related ON decisions (related) WHERE related IS NOT NULL;
CREATE INDEX IF NOT EXISTS decisions_model_written ON decisions (model, written_by);
CREATE TABLE IF NOT EXISTS decision_store_probe (id INTEGER PRIMARY KEY, time DOUBLE PRECISION NOT NULL);
"""
#: a constant key for the advisory lock under which instances create the tables (one at a time)
_SCHEMA_LOCK = 0x5EC1510
#: the serving role's rights when the database's owner created the tables: decisions are added and read, never
#: changed; the readiness probe overwrites its one row
_GRANTS = (
    "REVOKE ALL ON decisions, decision_store_probe FROM PUBLIC",
    "GRANT SELECT, INSERT ON decisions TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON decision_store_probe TO {role}",
)


def migrate(owner_url: str, app_role: str | None = None) -> None:
    """Create the decision tables as the database's owner and grant ``app_role`` (when named) what serving needs:
    SELECT and INSERT on decisions (no UPDATE, DELETE or TRUNCATE). Safe to run again."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(owner_url, connect_timeout=5) as connection:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        connection.execute(_SCHEMA)
        for statement in _GRANTS if app_role else ():
            connection.execute(sql.SQL(statement).format(role=sql.Identifier(app_role)))


_INSERT = (
    f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES "
    f"({', '.join('%s::json' if c in JSON_COLUMNS else '%s' for c in COLUMNS)})"
)
#: seconds a request waits for a pooled connection before it is refused (the store counts as down)
CONNECTION_WAIT_SECONDS = 5.0


class PostgresDecisionStore(DecisionStore):
    """Decisions in a PostgreSQL table, through a small pool of connections per worker process.

    A connection cut by a database restart fails its next use (that group is refused) and the pool drops it;
    connections are not tested before each use, which would cost a round trip per commit.
    """

    _MARK = "%s"

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        super().__init__()
        self.url = self.identity = redact(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"options": "-c synchronous_commit=on", "connect_timeout": 5},
            timeout=CONNECTION_WAIT_SECONDS,
            name="decision-store",
            open=True,
        )
        self._schema_ready = False
        try:
            self._ensure_schema()
        except Exception as error:  # the server starts not ready and recovers when the database is reachable
            self._failed(error)

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._pool.connection() as connection:
            (found,) = connection.execute(
                "SELECT to_regclass('decisions') IS NOT NULL AND to_regclass('decision_store_probe') IS NOT NULL"
            ).fetchone()
            if not found:  # created by the first instance when its role may (else the owner's migration does)
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                connection.execute(_SCHEMA)
        self._schema_ready = True

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        self._ensure_schema()
        with self._pool.connection() as connection, connection.cursor() as cursor:
            cursor.executemany(_INSERT, rows)  # one pipeline, one transaction, committed when the block ends

    def _probe(self) -> None:
        self._ensure_schema()
        with self._pool.connection() as connection:
            connection.execute(
                "INSERT INTO decision_store_probe (id, time) VALUES (1, %s) "
                "ON CONFLICT (id) DO UPDATE SET time = EXCLUDED.time",
                (time.time(),),
            )

    # --- reading ----------------------------------------------------------------------------------------

    def _rows(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        self._ensure_schema()
        with self._pool.connection() as connection:
            return connection.execute(sql, parameters).fetchall()

    def changes(
        self, model: str, cursor: str | None, routes: tuple[str, ...] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        since = int(cursor) if cursor and cursor.isdigit() else 0
        self._ensure_schema()
        with self._pool.connection() as connection:
            (horizon,) = connection.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()
            where = "model = %s AND written_by >= %s::xid8 AND written_by < %s::xid8"
            if routes:
                where += f" AND route IN ({', '.join('%s' for _ in routes)})"
            rows = connection.execute(
                f"{SELECT_RECORDS} WHERE {where} ORDER BY written_by, id", (model, str(since), horizon, *(routes or ()))
            ).fetchall()
        return [as_record(r) for r in rows], horizon

    def _close_store(self) -> None:
        self._pool.close()
