"""Flushing a decision shard's write-ahead log to disk off the event loop, for ``power`` durability.

A flush is a disk wait of 0.3 ms to several milliseconds. Done inside the commit (SQLite's
``synchronous=FULL``) it ran on the event loop and held up every request of that worker; here a thread of its
own waits for the disk, and the loop only hands it the requests to release.

SQLite's own checkpoints (every 1,000 pages, inside a commit, on the loop) were left where they are: moving
them to a thread of their own measured slower at concurrency 16 (see BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path


def settle(futures: list[asyncio.Future], error: BaseException | None) -> None:
    """Release waiting requests: all answered, or all told why not."""
    for future in futures:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class WalFlushError(RuntimeError):
    """The write-ahead log could not be flushed: nothing after the last good flush may be acknowledged."""


class WalFlusher:
    """Flush one shard's write-ahead log to disk for groups of committed records, off the event loop.

    A flush covers every commit written before it started, so one flush releases every group that was
    committed while the previous flush ran. After a failed flush the kernel may have dropped the dirty pages,
    so the flusher refuses every later group too: the server answers errors, never an unflushed decision.
    """

    def __init__(self, database: Path) -> None:
        self.wal = database.with_name(database.name + "-wal")
        self._fd: int | None = None
        self._pending: list[tuple[asyncio.AbstractEventLoop, list[asyncio.Future]]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.failure: WalFlushError | None = None
        self.flushes = 0

    def flush(self) -> None:
        """Flush now, on the calling thread (after every commit of ``append_now``)."""
        if self.failure is not None:
            raise self.failure
        try:
            if self._fd is None or os.fstat(self._fd).st_nlink == 0:
                self._open()
            os.fdatasync(self._fd)
        except OSError as error:
            self.failure = WalFlushError(f"flushing the decision log {self.wal} failed: {error}")
            raise self.failure from error
        self.flushes += 1

    def _open(self) -> None:
        """(Re)open the log file SQLite writes, and flush its folder so the file itself survives a power cut."""
        if self._fd is not None:  # the file was replaced (every connection closed): its commits are checkpointed
            os.close(self._fd)
        self._fd = os.open(self.wal, os.O_RDONLY)
        folder = os.open(self.wal.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def release_after_flush(self, loop: asyncio.AbstractEventLoop, futures: list[asyncio.Future]) -> None:
        """Settle ``futures`` (on ``loop``) once a flush that started after this call has finished."""
        with self._ready:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="decision-log-flush", daemon=True)
                self._thread.start()
            self._pending.append((loop, futures))
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._closed:
                    self._ready.wait()
                if not self._pending:
                    return
                groups, self._pending = self._pending, []
            error: BaseException | None = None
            try:
                self.flush()
            except WalFlushError as failure:
                error = failure
            for loop, futures in groups:
                try:
                    loop.call_soon_threadsafe(settle, futures, error)
                except RuntimeError:  # that loop is closed: nobody is waiting any more
                    pass

    def close(self) -> None:
        """Flush what is pending, stop the thread and close the file."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
