"""The audit trail in PostgreSQL: insert-only for the application, one advisory lock per model.

Records are rows of ``audit_records`` (the exact JSON text that was authenticated, so verification reads what
was signed) in the order an identity column gives them; each append also inserts the new head into
``audit_heads``, in the same transaction, committed with ``synchronous_commit=on`` before the registry is
changed. The schema is created by the database's owner (:func:`migrate`, or ``workbench audit migrate-db``),
who grants the application's role ``SELECT`` and ``INSERT`` only: PostgreSQL itself refuses that role any
``UPDATE``, ``DELETE`` or ``TRUNCATE``. A trigger refuses them to everyone else as well, the owner included, until
the owner deliberately disables it; what an owner then changes, the keyed records and the registry's anchors
reveal as they do for the file trail.

Serialisation is PostgreSQL's: an append takes a transaction-scoped advisory lock on the trail; a transition
holds a session-scoped advisory lock on its model (``pg_advisory_lock``) from its checks to its registry change,
so commands, the app and servers on any host wait for each other, and a lock dies with its connection when a
process does.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from workbench.governance._trail_storage import Line, TrailStorage

#: advisory-lock namespaces (the first of PostgreSQL's two 32-bit keys): the trail, then one per model
_TRAIL_LOCK = (0x5EC1511, 0)
_MODEL_LOCKS = 0x5EC1512
_SCHEMA_LOCK = 0x5EC1513

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line TEXT NOT NULL,
    written_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS audit_heads (
    count BIGINT PRIMARY KEY,
    head TEXT NOT NULL,
    written_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % is refused', TG_OP, TG_TABLE_NAME;
END
$$;
CREATE OR REPLACE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_heads_append_only BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE OR REPLACE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
"""
#: the application role's rights: read and append, nothing else
GRANTS = """
REVOKE ALL ON audit_records, audit_heads FROM PUBLIC;
GRANT SELECT, INSERT ON audit_records, audit_heads TO {role};
GRANT USAGE ON SEQUENCE audit_records_position_seq TO {role};
"""
_CONNECT = {"options": "-c synchronous_commit=on", "connect_timeout": 5}


def redact(url: str) -> str:
    """The URL without its password (what messages and logs may show)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def migrate(owner_url: str, app_role: str | None = None) -> None:
    """Create the trail's tables and triggers as the database's owner, and grant ``app_role`` (when named)
    ``SELECT`` and ``INSERT`` only. Safe to run again."""
    with psycopg.connect(owner_url, **_CONNECT) as connection:
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        connection.execute(SCHEMA)
        if app_role:
            for statement in GRANTS.strip().splitlines():
                connection.execute(sql.SQL(statement.rstrip(";")).format(role=sql.Identifier(app_role)))


def copy_file_trail(owner_url: str, path: Path, head: dict[str, Any] | None) -> int:
    """Copy a file trail's records, byte for byte, and its head into an empty database trail (as the owner);
    returns the number of records. The records keep their keys and chain, so the registry's anchors still name
    them. The caller has verified the file; a database trail that holds records already is refused."""
    lines = [line for line in path.read_text("utf-8").split("\n") if line.strip()]
    with psycopg.connect(owner_url, **_CONNECT) as connection:
        connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", _TRAIL_LOCK)
        (held,) = connection.execute("SELECT count(*) FROM audit_records").fetchone()
        if held:
            raise ValueError(
                f"{redact(owner_url)} already holds {held} audit records; a trail is copied only into an empty one"
            )
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO audit_records (line) VALUES (%s)", [(line,) for line in lines])
            if head is not None:
                cursor.execute(
                    "INSERT INTO audit_heads (count, head) VALUES (%s, %s)", (int(head["count"]), json.dumps(head))
                )
    return len(lines)


_open_trails: weakref.WeakSet[PostgresTrail] = weakref.WeakSet()


def _forget_connections() -> None:
    """In a forked child: the parent's connections are the parent's (using them would corrupt both)."""
    for trail in list(_open_trails):
        trail._connection = None
        trail._local = threading.local()
        trail._lock_connections = []


os.register_at_fork(after_in_child=_forget_connections)


class PostgresTrail(TrailStorage):
    """The trail's rows in one PostgreSQL database, read and appended through one connection per instance."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = f"the audit trail in {redact(url)}"
        self.head_where = f"the audit head in {redact(url)}"
        self._connection: psycopg.Connection | None = None
        self._guard = threading.RLock()  # one user of the connection at a time
        self._in_append = False
        self._local = threading.local()  # this thread's lock connection and the model locks it holds
        self._lock_connections: list[psycopg.Connection] = []
        self._schema_ready = False
        self._parsed: tuple[tuple, list[Line]] | None = None
        _open_trails.add(self)

    # --- connections ----------------------------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.url, autocommit=True, **_CONNECT)
        except psycopg.Error as error:
            raise OSError(errno.EIO, f"cannot connect to {redact(self.url)}: {_first_line(error)}") from None

    @contextmanager
    def _use(self) -> Iterator[psycopg.Connection]:
        """The instance's connection (opened on first use, replaced after it broke)."""
        with self._guard:
            if self._connection is None or self._connection.closed:
                self._connection = self._connect()
            try:
                self._ensure_schema(self._connection)
                yield self._connection
            except psycopg.OperationalError as error:
                if not self._in_append:
                    self._connection.close()
                    self._connection = None
                raise OSError(errno.EIO, f"{redact(self.url)}: {_first_line(error)}") from None
            except psycopg.Error as error:
                raise OSError(errno.EIO, f"{redact(self.url)}: {_first_line(error)}") from None

    def _ensure_schema(self, connection: psycopg.Connection) -> None:
        """Create the tables when they are missing and this role may (one role for everything, as in a
        demonstration); a role that may not is told to have the owner run the migration."""
        if self._schema_ready:
            return
        (found,) = connection.execute("SELECT to_regclass('audit_records') IS NOT NULL").fetchone()
        if not found:
            try:
                with connection.transaction():
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    connection.execute(SCHEMA)
            except psycopg.errors.InsufficientPrivilege:
                raise OSError(
                    errno.EACCES,
                    f"{redact(self.url)} holds no audit tables and this role may not create them: the database's "
                    "owner runs `workbench audit migrate-db --owner-url URL --app-role ROLE` first",
                ) from None
        self._schema_ready = True

    def close(self) -> None:
        """Close the instance's connection (it is opened again on next use)."""
        with self._guard:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        while self._lock_connections:
            self._lock_connections.pop().close()

    def __del__(self) -> None:
        for connection in [getattr(self, "_connection", None), *getattr(self, "_lock_connections", [])]:
            if connection is not None and not connection.closed:
                connection.close()

    # --- reading --------------------------------------------------------------------------------------------

    def stamp(self) -> tuple | None:
        """Row counts and the sum of the rows' transaction ids: any insert, update or delete changes them."""
        try:
            with self._use() as connection:
                return connection.execute(
                    "SELECT (SELECT count(*) FROM audit_records), "
                    "(SELECT coalesce(sum(xmin::text::bigint), 0) FROM audit_records), "
                    "(SELECT count(*) FROM audit_heads), "
                    "(SELECT coalesce(sum(xmin::text::bigint), 0) FROM audit_heads)"
                ).fetchone()
        except OSError:
            return None

    def lines(self) -> list[Line]:
        stamp = self.stamp()
        if stamp is not None and self._parsed is not None and self._parsed[0] == stamp:
            return list(self._parsed[1])
        with self._use() as connection:
            rows = connection.execute("SELECT position, line FROM audit_records ORDER BY position").fetchall()
        lines = []
        for position, text in rows:
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                record = None
            lines.append(Line(int(position), record if isinstance(record, dict) else None, True))
        if stamp is not None:
            self._parsed = (stamp, lines)
        return list(lines)

    def head(self) -> dict[str, Any] | None:
        with self._use() as connection:
            row = connection.execute("SELECT head FROM audit_heads ORDER BY count DESC LIMIT 1").fetchone()
        if row is None:
            return None
        try:
            head = json.loads(row[0])
        except json.JSONDecodeError:
            head = None
        return head if isinstance(head, dict) else {"count": -1, "hash": "", "key_id": "", "mac": ""}

    # --- writing --------------------------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One transaction holding the trail's advisory lock: the end is read, the record and the head are
        inserted, and all of it commits (flushed, ``synchronous_commit=on``) or none of it does."""
        from workbench.governance._audit import AuditIntegrityError

        with self._guard:
            try:
                with self._use() as connection:
                    self._in_append = True
                    try:
                        with connection.transaction():
                            connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", _TRAIL_LOCK)
                            yield
                    finally:
                        self._in_append = False
            except OSError as error:
                raise AuditIntegrityError(
                    f"{self.where}: the audit record could not be written ({error.strerror}); nothing was "
                    "changed. Repeat the command once the database is reachable"
                ) from None

    def write(self, line: bytes, record: dict[str, Any]) -> None:
        with self._use() as connection:
            connection.execute("INSERT INTO audit_records (line) VALUES (%s)", (line.decode("utf-8").rstrip("\n"),))

    def write_head(self, head: dict[str, Any]) -> None:
        with self._use() as connection:
            connection.execute(
                "INSERT INTO audit_heads (count, head) VALUES (%s, %s) ON CONFLICT (count) DO NOTHING",
                (int(head["count"]), json.dumps(head)),
            )

    @contextmanager
    def model_lock(self, name: str) -> Iterator[None]:
        """The model's advisory lock, held for the block on this thread's lock connection (kept open between
        transitions; a process that dies ends its session and so releases the lock). Re-entrant in a thread."""
        held: dict[str, int] = self._local.__dict__.setdefault("held", {})
        if held.get(name):
            held[name] += 1
            try:
                yield
            finally:
                held[name] -= 1
            return
        connection = self._local.__dict__.get("connection")
        if connection is None or connection.closed:
            connection = self._local.connection = self._connect()
            self._lock_connections.append(connection)
        key = (_MODEL_LOCKS, name)
        try:
            connection.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", key)
        except psycopg.Error as error:
            connection.close()
            raise OSError(errno.EIO, f"{redact(self.url)}: {_first_line(error)}") from None
        held[name] = 1
        try:
            yield
        finally:
            held.pop(name, None)
            try:
                connection.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)
            except psycopg.Error:
                connection.close()  # a broken session has released its locks with it


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
