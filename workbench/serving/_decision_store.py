"""The decision record behind one interface, chosen by URL: every decision durable before its answer leaves.

Two stores implement it: SQLite (the embedded default, one file under ``registry_store/``) and PostgreSQL (the
production choice, shared by every instance of the server). Which one is used is a URL:
``--decision-store`` of ``workbench serve``, else ``WORKBENCH_DECISION_STORE``, else ``WORKBENCH_DATABASE_URL``,
else ``sqlite:///<project>/registry_store/serving/decisions.db``.

What is domain work and stays here: group commit. A worker's event loop hands every decision it holds at that
moment to one transaction, committed by the store's writing thread; decisions that arrive while that commit
waits for the disk form the next group. The commit is SQLite's ``synchronous=FULL`` or PostgreSQL's
``synchronous_commit=on``: when it returns the records are on disk, and only then are the answers released.

A store that cannot record (database down, disk full) refuses at once with :class:`DecisionStoreUnavailable`
(the server answers 503 and reports not ready) and a background thread probes it with a small write, backing
off from 0.1 s to 5 s, until it records again; then the server is ready again without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

log = logging.getLogger("workbench.serving")

COLUMNS = (
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
JSON_COLUMNS = ("input", "reasons")
#: the probe's backoff after a failure: first retry, doubling up to the last
RETRY_FIRST_SECONDS, RETRY_MOST_SECONDS = 0.1, 5.0
#: /health probes a store that has not recorded anything for this long (an idle worker learns of an outage too)
IDLE_PROBE_SECONDS = 2.0

#: seeded from the operating system's entropy at import and again in every forked child
_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)


def new_decision_id() -> str:
    """Time-ordered and unique across processes and hosts: nanoseconds, then 64 random bits.

    The random bits only separate ids of the same nanosecond; they need no cryptographic source
    (``os.urandom`` is a system call per decision). The store's primary key refuses a repeated id.
    """
    return f"{time.time_ns():x}-{_random.getrandbits(64):016x}"


#: every column of every record, in the order :func:`as_record` reads them
SELECT_RECORDS = f"SELECT {', '.join(COLUMNS)} FROM decisions"


class DecisionStoreUnavailable(RuntimeError):
    """The store could not record decisions: no answer may be given for them."""


def as_row(record: dict[str, Any]) -> tuple[Any, ...]:
    """A record as the store's row: JSON columns as text."""
    return tuple(orjson.dumps(record[c]).decode() if c in JSON_COLUMNS else record.get(c) for c in COLUMNS)


def as_record(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row as a record (JSON columns parsed when the driver gave text)."""
    record = dict(zip(COLUMNS, row, strict=True))
    for column in JSON_COLUMNS:
        if isinstance(record[column], str):
            record[column] = orjson.loads(record[column])
    return record


class DecisionStore(ABC):
    """Append decisions durably (group commit), read them back, and say honestly whether it can record."""

    url: str  # without any password
    identity: str  # the same store under the same name wherever the project is copied (monitoring's cursors)

    def __init__(self) -> None:
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision-store")
        self._groups: dict[asyncio.AbstractEventLoop, list[tuple[list[tuple], asyncio.Future]]] = {}
        self._committing: set[asyncio.AbstractEventLoop] = set()
        self._tasks: set[asyncio.Task] = set()
        self._state = threading.Lock()
        self.failure: str | None = None  # why the store cannot record now; None when it can
        self._recovery: threading.Thread | None = None
        self._closed = threading.Event()
        self.last_success = 0.0  # monotonic time of the last commit or probe that succeeded
        self.commits = 0

    # --- what each store provides ------------------------------------------------------------------------

    @abstractmethod
    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        """Commit ``rows`` in one transaction, durably: all or, raising, none."""

    @abstractmethod
    def _probe(self) -> None:
        """A small durable write that raises while the store cannot record."""

    #: the driver's query-parameter marker (``?`` for sqlite3, ``%s`` for psycopg)
    _MARK: str = "?"

    @abstractmethod
    def _rows(self, sql: str, parameters: tuple | list = ()) -> list[tuple]:
        """The rows a read-only query returns."""

    def get(self, decision_id: str) -> dict[str, Any] | None:
        """The record with this id, or None."""
        found = self._rows(f"{SELECT_RECORDS} WHERE id = {self._MARK}", (decision_id,))
        return as_record(found[0]) if found else None

    def related(self, decision_id: str) -> list[dict[str, Any]]:
        """Records made alongside a decision (the challenger's shadow, or the champion's beside a canary)."""
        return [as_record(r) for r in self._rows(f"{SELECT_RECORDS} WHERE related = {self._MARK}", (decision_id,))]

    def count(self, model: str | None = None) -> int:
        """How many decisions are recorded (for one model, or all)."""
        if model is None:
            return self._rows("SELECT COUNT(*) FROM decisions")[0][0]
        return self._rows(f"SELECT COUNT(*) FROM decisions WHERE model = {self._MARK}", (model,))[0][0]

    def ids(self, model: str | None = None, route: str | None = None, limit: int | None = None) -> list[str]:
        """Decision ids, oldest first, optionally for one model and route."""
        clauses, parameters = [], []
        for column, value in (("model", model), ("route", route)):
            if value:
                clauses.append(f"{column} = {self._MARK}")
                parameters.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        ids = sorted(r[0] for r in self._rows(f"SELECT id FROM decisions{where}", parameters))
        return ids[:limit] if limit else ids

    @abstractmethod
    def changes(
        self, model: str, cursor: str | None, routes: tuple[str, ...] | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Records of ``model`` committed since ``cursor`` (None: since the start), and the cursor to pass next.

        A record committed later never lands behind a cursor already handed out, whichever instance wrote it.
        """

    @abstractmethod
    def _close_store(self) -> None:
        """Release the store's connections."""

    # --- writing -----------------------------------------------------------------------------------------

    def _failed(self, error: BaseException) -> DecisionStoreUnavailable:
        """Note the failure, start probing for recovery, and return the refusal for the waiting requests."""
        reason = f"{type(error).__name__}: {error}".strip()
        with self._state:
            first = self.failure is None
            self.failure = reason
            if self._recovery is None and not self._closed.is_set():
                self._recovery = threading.Thread(target=self._recover, name="decision-store-recovery", daemon=True)
                self._recovery.start()
        if first:
            log.error("the decision store %s cannot record: %s", self.url, reason)
        return DecisionStoreUnavailable(f"the decision could not be recorded durably: {reason}")

    def _recover(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while not self._closed.wait(delay):
            try:  # on the writing thread, through the connection the commits use
                self._writer.submit(self._probe).result()
            except RuntimeError as error:  # the store is being closed
                if self._closed.is_set():
                    break
                with self._state:
                    self.failure = f"{type(error).__name__}: {error}".strip()
                delay = min(delay * 2, RETRY_MOST_SECONDS)
                continue
            except Exception as error:  # still down; try again later
                with self._state:
                    self.failure = f"{type(error).__name__}: {error}".strip()
                delay = min(delay * 2, RETRY_MOST_SECONDS)
                continue
            with self._state:
                self.failure, self._recovery = None, None
                self.last_success = time.monotonic()
            log.warning("the decision store %s records again", self.url)
            return
        with self._state:
            self._recovery = None

    def _commit(self, rows: list[tuple[Any, ...]]) -> None:
        if self.failure is not None:  # refuse at once; the recovery thread finds out when it is back
            raise DecisionStoreUnavailable(f"the decision store cannot record: {self.failure}")
        try:
            self._write(rows)
        except Exception as error:
            raise self._failed(error) from error
        self.commits += 1
        self.last_success = time.monotonic()

    async def append(self, records: list[dict[str, Any]]) -> None:
        """Return once every record is durable; raise :class:`DecisionStoreUnavailable` if none was recorded.

        Group commit: the records join the group of the worker's event loop; one transaction commits every
        group's records in the writing thread while the loop goes on reading and scoring.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._groups.setdefault(loop, []).append(([as_row(r) for r in records], future))
        if loop not in self._committing:
            self._committing.add(loop)
            task = loop.create_task(self._commit_groups(loop))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await future

    async def _commit_groups(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            while group := self._groups.pop(loop, None):
                rows = [row for rows, _future in group for row in rows]
                error: BaseException | None = None
                try:
                    await loop.run_in_executor(self._writer, self._commit, rows)
                except Exception as exc:  # told to every request of the group; none is answered
                    error = exc
                for _rows, future in group:
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._committing.discard(loop)

    def append_now(self, records: list[dict[str, Any]]) -> None:
        """Blocking append (commands and tests): returns once the records are durable."""
        self._writer.submit(self._commit, [as_row(r) for r in records]).result()

    # --- health ------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True while the store records."""
        return self.failure is None

    def check(self) -> bool:
        """Ready, after probing a store that has recorded nothing lately (so an idle worker notices an outage)."""
        if self.failure is None and time.monotonic() - self.last_success > IDLE_PROBE_SECONDS:
            try:
                self._writer.submit(self._probe).result()
            except Exception as error:
                self._failed(error)
            else:
                self.last_success = time.monotonic()
        return self.failure is None

    def describe(self) -> dict[str, Any]:
        """What /health says about the store."""
        return {"url": self.url, "ready": self.failure is None, "failure": self.failure}

    def close(self) -> None:
        """Stop probing and writing; release the connections."""
        self._closed.set()
        self._writer.submit(self._close_store).result()
        self._writer.shutdown(wait=True)


def redact(url: str) -> str:
    """The URL without its password (for messages and /health)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def decision_store_url(explicit: str | None = None) -> str:
    """The store's URL: ``explicit``, ``WORKBENCH_DECISION_STORE``, ``WORKBENCH_DATABASE_URL``, or the SQLite
    file ``registry_store/serving/decisions.db`` of the project."""
    from workbench.paths import registry_store

    for url in (explicit, os.environ.get("WORKBENCH_DECISION_STORE"), os.environ.get("WORKBENCH_DATABASE_URL")):
        if url:
            return url
    return f"sqlite:///{registry_store() / 'serving' / 'decisions.db'}"


def open_decision_store(url: str | None = None) -> DecisionStore:
    """The decision store a URL names: ``sqlite:///path`` or ``postgresql://user@host:port/database``.

    A URL of another kind is refused with a message naming the setting and the accepted forms.
    """
    from pathlib import Path

    url = decision_store_url(url)
    if url.startswith(("postgresql://", "postgres://")):
        from workbench.serving._postgres_store import PostgresDecisionStore

        return PostgresDecisionStore(url)
    if url.startswith("sqlite:///"):
        from workbench.serving._sqlite_store import SqliteDecisionStore

        path = Path(url[len("sqlite:///") :]).expanduser()
        return SqliteDecisionStore(path if path.is_absolute() else Path.cwd() / path)
    raise ValueError(
        f"decision store {redact(url)!r}: not a URL this server writes to; use sqlite:///PATH (embedded) "
        "or postgresql://USER@HOST:PORT/DATABASE"
    )


def migrate_decision_database(owner_url: str, app_role: str | None = None) -> None:
    """Create the decision tables in PostgreSQL as the database's owner; ``app_role`` may then add and read
    decisions only (see ``workbench audit migrate-db``)."""
    from workbench.serving._postgres_store import migrate

    migrate(owner_url, app_role)
