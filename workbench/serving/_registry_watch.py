"""A cheap sign of whether the registry may have changed, so a scoring process need not ask MLflow every round.

Asking MLflow for the @champion and @challenger costs about 7 ms of CPU per round (SQLAlchemy), which each
scoring process spent every two seconds while holding the interpreter lock in slices: the requests waiting
behind those slices made up much of the p99 latency. For the embedded SQLite registry every change rewrites the
database file, so the file's identity, size and modification time tell whether anything can have changed.

A stamp is only trusted once the file has been quiet for :data:`SETTLE_SECONDS`: two writes within one tick of
the file system's clock can leave the same modification time, so a stamp taken right after a write is not
relied on. Any other tracking URI (a server, Postgres) has no such sign and is asked every round, and every
store is asked at least every :data:`FULL_CHECK_SECONDS` whatever the stamp says.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SETTLE_SECONDS = 1.0
FULL_CHECK_SECONDS = 30.0

Stamp = tuple[tuple[int, int, int] | None, ...]


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class RegistryWatch:
    """Tells the registry follower when a round may skip asking MLflow."""

    def __init__(self, registry_uri: str, *, full_check_seconds: float = FULL_CHECK_SECONDS) -> None:
        prefix = "sqlite:///"
        database = Path(registry_uri[len(prefix) :]) if registry_uri.startswith(prefix) else None
        self.files = [database, database.with_name(database.name + "-wal")] if database else []
        self.full_check_seconds = full_check_seconds
        self._trusted: Stamp | None = None
        self._next_full_check = 0.0
        self.skipped = 0

    def stamp(self) -> Stamp | None:
        """The files' state now, or None when it cannot vouch for anything (not SQLite, or written just now)."""
        if not self.files:
            return None
        stamp = tuple(_file_stamp(path) for path in self.files)
        newest = max((s[2] for s in stamp if s is not None), default=0)
        return stamp if time.time_ns() - newest > SETTLE_SECONDS * 1e9 else None

    def unchanged(self) -> bool:
        """True when the last answer MLflow gave still holds (call before a round; False means ask)."""
        if self._trusted is None or time.monotonic() >= self._next_full_check:
            return False
        if self.stamp() != self._trusted:
            return False
        self.skipped += 1
        return True

    def asked(self, stamp: Stamp | None) -> None:
        """Record that MLflow was asked; ``stamp`` is :meth:`stamp` taken before asking."""
        self._trusted = stamp
        self._next_full_check = time.monotonic() + self.full_check_seconds
