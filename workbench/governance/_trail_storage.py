"""Where the audit trail's records and head are kept: the small interface both stores implement.

The trail's meaning (keyed records, the chain, the head, the checks) lives once in
:mod:`workbench.governance._audit`; a store only keeps bytes durably, in order, and serialises writers. Two
implement it: a JSON-lines file with ``filelock`` (the embedded default, :mod:`._trail_file`) and a PostgreSQL
table the application may only insert into and read (:mod:`._trail_postgres`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any


@dataclass
class Line:
    """One stored record, as its store holds it (``record`` is None when it is not a JSON object)."""

    number: int
    record: dict[str, Any] | None
    complete: bool  # a file's line ends with a newline; a database row is always complete


class TrailStorage(ABC):
    """Keeps the trail's records in order and its head; serialises appends and each model's transitions."""

    #: where the trail is, as messages name it (a file path, a database URL without its password)
    where: str
    #: where the head is, as messages name it
    head_where: str

    @abstractmethod
    def lines(self) -> list[Line]:
        """Every stored record, oldest first."""

    @abstractmethod
    def head(self) -> dict[str, Any] | None:
        """The stored head (count, hash, key_id, mac), or None when there is none."""

    @abstractmethod
    def stamp(self) -> tuple | None:
        """A value that changes whenever the records or the head change (None: cannot tell)."""

    @abstractmethod
    def lock(self) -> AbstractContextManager:
        """Exclusive access for one append (read the end, check, write the record and the head)."""

    @abstractmethod
    def model_lock(self, name: str) -> AbstractContextManager:
        """One model's lock, held by a transition from its checks to its registry change."""

    @abstractmethod
    def write(self, line: bytes, record: dict[str, Any]) -> None:
        """Add one record durably (inside :meth:`lock`); raise ``OSError`` and keep nothing when it fails."""

    @abstractmethod
    def write_head(self, head: dict[str, Any]) -> None:
        """Store the head (inside :meth:`lock`)."""

    def repair_tail(self, lines: list[Line], repairs: list[str]) -> list[Line]:
        """Remove what a write cut short left behind (inside :meth:`lock`); a store with atomic writes has none."""
        return lines

    def started(self) -> bool:
        """Whether the trail holds anything (a record or a head)."""
        return bool(self.lines()) or self.head() is not None
