"""Flushing a decision shard's write-ahead log to disk off the event loop, for ``power`` durability.

A flush is a disk wait of 0.3 ms to several milliseconds. Done inside the commit (SQLite's
``synchronous=FULL``) it held up every request of the worker. With ``power`` durability a small flushing
process (one per event loop) waits for the disk instead: the loop writes it one byte after a commit and goes
on reading and scoring; the process answers one byte once ``fdatasync`` returned, and the loop releases that
group's answers when it reads the answer. Requests that arrive meanwhile are committed together once the
answer is in: a commit made while the log's pages are being flushed waits for that flush inside SQLite, on
the loop.

The same process checkpoints the log (see :class:`Checkpointer`), which SQLite would otherwise do inside a
commit, on the loop, with two disk flushes of its own. The bulk of a checkpoint runs beside the flushes; only
its short last part holds the worker's commits (:data:`HOLD` ... :data:`RESUME`). ``process`` durability has
no flushing process; threads of the worker run the same two parts (:class:`ThreadCheckpoints`).

A process rather than a thread: a thread coming back from the disk has to take the interpreter lock from the
busy loop (a forced hand-over for every flush); a process shares nothing with the worker but the pipe. This
file is the process's program too (``python -I -S _wal.py DATABASE PAGES``): it imports only the standard
library, so it starts in milliseconds. It ends when its worker closes the pipe or dies.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

#: the flushing process checkpoints once the log holds this many pages (SQLite's own default)
CHECKPOINT_PAGES = 1000
#: the worker's own checkpoint (SQLite's, inside a commit) only if the flushing process fell this far behind
FALLBACK_CHECKPOINT_PAGES = 20_000
FLUSHED = b"k"  # the process's answer to one request: every commit written before the request is on disk
FAILED = b"e"  # followed by the reason and a newline: the flush failed, the process ends
HOLD = b"h"  # after the answers: a checkpoint's last part runs now, commit nothing until RESUME
RESUME = b"r"  # the checkpoint is complete: the next commit starts the log from its beginning
_FLUSHED, _HOLD, _RESUME = FLUSHED[0], HOLD[0], RESUME[0]  # as iterating over bytes gives them


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


class WalFile:
    """The write-ahead log file SQLite writes, flushed with ``fdatasync`` (in the flushing process or inline)."""

    def __init__(self, wal: Path) -> None:
        self.wal = wal
        self._fd: int | None = None

    def flush(self) -> None:
        """Flush every write made to the log before this call; raises :class:`OSError` when the disk fails."""
        if self._fd is None or os.fstat(self._fd).st_nlink == 0:
            self._open()
        os.fdatasync(self._fd)

    def _open(self) -> None:
        """(Re)open the log file, and flush its folder so the file itself survives a power cut."""
        if self._fd is not None:  # the file was replaced (every connection closed): its commits are checkpointed
            os.close(self._fd)
        self._fd = os.open(self.wal, os.O_RDONLY)
        folder = os.open(self.wal.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class WalIndex:
    """How many pages the log holds: ``mxFrame`` of the wal-index header (https://www.sqlite.org/walformat.html).

    One ``pread`` of the shared-memory file every SQLite connection maps, without taking any lock: the worker
    is not committing while the flushing process reads it.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-shm")
        self._fd: int | None = None

    def pages(self) -> int:
        if self._fd is not None and os.fstat(self._fd).st_nlink == 0:  # every connection closed once
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:  # no connection has the database open: nothing in its log
                return 0
        header = os.pread(self._fd, 20, 0)
        return int.from_bytes(header[16:20], sys.byteorder) if len(header) == 20 else 0

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Checkpointer:
    """Copies the log's committed pages into the database file, in the flushing process, in two parts.

    SQLite checkpoints by itself once the log holds 1,000 pages, inside a commit: on the event loop, with two
    flushes of its own (milliseconds during which the worker answers nobody). Here the flushing process does
    it at the same size. The log must then restart from its beginning: a log that only grows makes every
    flush a flush of the file's size too, several times dearer. SQLite restarts it at the first commit after
    a checkpoint that copied every page, so the copy must end at a moment the worker is not committing, and
    holding the worker's commits for a whole checkpoint (1,000 pages copied, the database file flushed: 4 ms
    alone, 12 ms beside a loaded worker) held every request arriving meanwhile.

    Hence two parts: :meth:`start` copies the log in a thread of this process while flushes and
    commits go on (a ``PASSIVE`` checkpoint copies the pages committed before it began and blocks nobody);
    once it is done, :meth:`finish` copies the few pages committed meanwhile while the worker holds its
    commits, between a flush and the next commit.
    """

    def __init__(self, database: Path, pages: int = CHECKPOINT_PAGES) -> None:
        self.database, self.pages = database, pages
        self.index = WalIndex(database)
        self._connection: Any = None
        self.checkpoints = 0  # completed: both parts
        self._copying: threading.Thread | None = None  # the first part; once it has ended, the last is due
        self._error: BaseException | None = None
        self._settled_at = -1  # log pages when the last checkpoint ended, until the log restarts

    def _checkpoint(self, log_flushed: bool) -> None:
        """Copy the log's pages into the database file and flush it.

        SQLite flushes the log first (``synchronous=NORMAL``): pages committed since the last flush must not
        reach the database before they are safe in the log. It flushes the database only after copying the
        whole log, so the flush here does it for a copy that is not complete, and the last part's flush then
        writes only that part's pages. When the log was flushed just before and nothing was committed since
        (the last part), SQLite's own flush of the log is skipped (``OFF``).
        """
        if self._connection is None:
            import sqlite3  # here, not at the top: the worker importing this module does not need it again

            self._connection = sqlite3.connect(
                self.database, isolation_level=None, timeout=30.0, check_same_thread=False
            )
        self._connection.execute(f"PRAGMA synchronous={'OFF' if log_flushed else 'NORMAL'}")
        self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        fd = os.open(self.database, os.O_RDONLY)
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    def due(self, pages: int) -> bool:
        """True when a log of ``pages`` pages should be checkpointed (none under way).

        Once more only after the log restarted, or grew by :attr:`pages` again (a reader kept it from
        restarting): not after every flush while it cannot restart. Called after every flush (or, in
        ``process`` durability, every commit), so it sees the log smaller than at the last checkpoint's end
        whenever it restarted.
        """
        if pages < self._settled_at:  # the log restarted since the last checkpoint
            self._settled_at = -1
        if self._copying is not None or pages < self.pages:
            return False
        return self._settled_at < 0 or pages >= self._settled_at + self.pages

    def start(self) -> None:
        """Begin the first part: copy the log in the background while the worker goes on committing."""
        self._copying = threading.Thread(target=self._copy, name="checkpoint", daemon=True)
        self._copying.start()

    def _copy(self) -> None:
        try:
            self._checkpoint(log_flushed=False)
        except Exception as error:  # noqa: BLE001  (sqlite3.Error or OSError: reported by finish_due)
            self._error = error

    def finish_due(self) -> bool:
        """True when the first part is done and the last is due; raises what the first part failed with."""
        if self._copying is None or self._copying.is_alive():
            return False
        if self._error is not None:
            raise self._error
        return True

    def finish(self, log_flushed: bool = False) -> None:
        """The last part, while the worker commits nothing: the pages committed since the first part began.

        ``log_flushed``: the log was flushed after the worker's last commit (``power`` durability's flushing
        process finishes right after a flush), so SQLite need not flush it again first. Without it SQLite
        does, which is always safe.
        """
        self._copying.join()
        self._copying = None
        self._checkpoint(log_flushed)
        self._settled_at = self.index.pages()
        self.checkpoints += 1

    def abandon(self) -> None:
        """Forget a checkpoint that failed (its error was reported): the next is due once the log grew by
        :attr:`pages` again, not at every commit while the disk keeps failing."""
        self._copying, self._error = None, None
        self._settled_at = self.index.pages()

    def close(self) -> None:
        if self._copying is not None:
            self._copying.join()
            self._copying = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.index.close()


def serve_flushes(database: Path, requests: int, answers: int, checkpointer: Checkpointer) -> None:
    """The flushing process's loop: per read of requests, one flush and one answer per request byte read.

    Between a flush and its answer the worker commits nothing: the moment to read the log's size, and to
    finish a checkpoint (announced with :data:`HOLD` after the answers, so they are not kept waiting).
    """
    log = WalFile(database.with_name(database.name + "-wal"))
    try:
        while True:
            asked = os.read(requests, 4096)
            if not asked:  # the worker closed the pipe or died
                return
            try:
                log.flush()
                if checkpointer.finish_due():
                    os.write(answers, FLUSHED * len(asked) + HOLD)
                    checkpointer.finish(log_flushed=True)  # just flushed, and the worker is holding
                    os.write(answers, RESUME)
                    continue
                starting = checkpointer.due(checkpointer.index.pages())
            except Exception as error:  # noqa: BLE001  (OSError or sqlite3.Error: the disk failed)
                os.write(answers, FAILED + f"flushing the decision log {log.wal} failed: {error}\n".encode())
                return
            os.write(answers, FLUSHED * len(asked))
            if starting:
                checkpointer.start()
    except BrokenPipeError:  # the worker is gone: nobody waits for the answer
        return
    finally:
        checkpointer.close()
        log.close()


class ThreadCheckpoints:
    """``process`` durability's checkpoints, both parts in a thread of the worker: commits held only for the last.

    Without them SQLite checkpoints inside a commit, on the event loop, with a flush of the log and one of the
    database (4 MB each at 1,000 pages): every request of the worker waited. Here, after a commit, a full log
    starts the first part in a thread (SQLite works without the interpreter lock); at a later commit that
    finds the first part done, the worker holds its commits (records wait in memory, requests are still read
    and scored) while a thread runs the last part, and commits again as soon as it is done. A failed
    checkpoint is logged and the log keeps growing until the next one succeeds (SQLite's own at
    :data:`FALLBACK_CHECKPOINT_PAGES` remains): nothing committed depends on it.
    """

    #: a checkpoint begins once the log holds this many pages
    checkpoint_pages: int = CHECKPOINT_PAGES

    def __init__(self, database: Path, when_idle: Callable[[asyncio.AbstractEventLoop], None]) -> None:
        self.checkpointer = Checkpointer(database, self.checkpoint_pages)
        self.when_idle = when_idle  # commits what waited on a loop, on that loop, once the last part is done
        self.holding = False
        self.failures: list[str] = []  # the most recent checkpoint failures, for the log and for tests
        self._finishing: threading.Thread | None = None
        self._held: set[asyncio.AbstractEventLoop] = set()  # loops whose commits wait for the last part
        self._lock = threading.Lock()

    def holds(self, loop: asyncio.AbstractEventLoop) -> bool:
        """True while the last part runs: ``loop``'s commit must wait, and is made once that part is done."""
        if not self.holding:
            return False
        with self._lock:  # not between the last part's end and its release of the loops it held
            if self.holding:
                self._held.add(loop)
            return self.holding

    def after_commit(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop, right after a commit: begin the last part if the first is done, or the first if due."""
        if self.holding:  # another loop's commit raced the last part's start: that part is under way already
            return
        checkpointer = self.checkpointer
        try:
            finish = checkpointer.finish_due()
        except Exception as error:  # noqa: BLE001  (sqlite3.Error or OSError in the first part)
            checkpointer.abandon()
            self._failed(error)
            return
        if finish:
            self.holding = True
            self._finishing = threading.Thread(target=self._finish, name="checkpoint", daemon=True)
            self._finishing.start()
        elif checkpointer.due(checkpointer.index.pages()):
            checkpointer.start()

    def _finish(self) -> None:
        """The last part, in its thread; then every loop that held a commit commits what waited."""
        try:
            self.checkpointer.finish(log_flushed=False)  # commits since the last are not flushed: SQLite does
        except Exception as error:  # noqa: BLE001  (sqlite3.Error or OSError)
            self.checkpointer.abandon()
            self._failed(error)
        with self._lock:
            held, self._held = self._held, set()
            self.holding = False
        for loop in held:
            try:
                loop.call_soon_threadsafe(self.when_idle, loop)
            except RuntimeError:  # that loop has ended: nobody waits for its commits
                continue

    def _failed(self, error: BaseException) -> None:
        import logging  # here: the flushing process, which runs this file, starts without it

        message = f"checkpointing {self.checkpointer.database} failed: {error}"
        logging.getLogger("workbench.serving").warning(message)
        self.failures = [*self.failures[-9:], message]

    def close(self) -> None:
        """Wait for a checkpoint under way, then close its connection."""
        if self._finishing is not None:
            self._finishing.join()
            self._finishing = None
        self.holding = False
        self.checkpointer.close()


class _LoopFlusher:
    """One event loop's flushing process, and the groups of requests waiting for its flushes, oldest first."""

    def __init__(self, owner: WalFlusher, loop: asyncio.AbstractEventLoop) -> None:
        self.owner, self.loop = owner, loop
        self.waiting: list[list[asyncio.Future]] = []  # one entry per request byte written, in order
        self.process = subprocess.Popen(
            [*owner.command, str(owner.database), str(owner.checkpoint_pages)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self._requests, self._answers = self.process.stdin.fileno(), self.process.stdout.fileno()
        os.set_blocking(self._answers, False)
        loop.add_reader(self._answers, self._read)
        self._failing = b""  # a FAILED answer read so far
        self.holding = False  # between HOLD and RESUME: the process is finishing a checkpoint

    def request(self, futures: list[asyncio.Future]) -> None:
        if self.owner.failure is not None:
            settle(futures, self.owner.failure)
            return
        self.waiting.append(futures)
        try:
            os.write(self._requests, FLUSHED)
        except OSError as error:  # the process is gone; its answer (or its silence) is read in _read
            self._fail(f"the flushing process of {self.owner.wal} is gone: {error}")

    def _read(self) -> None:
        try:
            data = os.read(self._answers, 65536)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(f"the flushing process of {self.owner.wal} failed: {error}")
            return
        if not data:
            self._fail(f"the flushing process of {self.owner.wal} ended (exit code {self.process.poll()})")
            return
        self._take(data)

    def _take(self, data: bytes) -> None:
        """Release one group per FLUSHED byte and follow HOLD / RESUME; FAILED fails every group still waiting."""
        if self._failing:
            self._failing += data
            data = b""
        done = read = 0
        while read < len(data):
            answer = data[read]
            if answer == _FLUSHED:
                done += 1
            elif answer == _HOLD:
                self.holding = True
            elif answer == _RESUME:
                self.holding = False
            else:  # FAILED and its reason follow the flushes that succeeded
                self._failing = data[read:]
                break
            read += 1
        released, self.waiting = self.waiting[:done], self.waiting[done:]
        for futures in released:
            settle(futures, None)
        if read and not self.waiting and not self.holding and self.owner.when_idle is not None:
            self.owner.when_idle(self.loop)
        if self._failing.endswith(b"\n"):
            self._fail(self._failing[1:].decode(errors="replace").strip())

    def _fail(self, reason: str) -> None:
        if self.owner.failure is None:
            self.owner.failure = WalFlushError(reason)
        self.holding = False  # nothing more will be committed: what is held back is refused below
        waiting, self.waiting = self.waiting, []
        for futures in waiting:
            settle(futures, self.owner.failure)
        self.close()
        if self.owner.when_idle is not None and not self.loop.is_closed():
            self.owner.when_idle(self.loop)  # records held back for this flush are refused now, not left waiting

    def close(self) -> None:
        """Stop reading and let the process end, once it answered every request made of it."""
        if self.process.stdin.closed:
            return
        if not self.loop.is_closed():
            self.loop.remove_reader(self._answers)
        self.process.stdin.close()  # the process flushes what it read, then sees the end of its requests
        os.set_blocking(self._answers, True)
        while self.waiting:
            data = os.read(self._answers, 65536)
            if not data:
                self._fail(f"the flushing process of {self.owner.wal} ended before answering")
                break
            self._take(data)
        self.process.stdout.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WalFlusher:
    """Flush one shard's write-ahead log to disk for groups of committed records, off the event loop.

    A flush covers every commit written before it started, so one flush may release several groups. After a
    failed flush the kernel may have dropped the dirty pages, so the flusher refuses every later group too:
    the server answers errors, never an unflushed decision.
    """

    #: the flushing process's command line, less its arguments (the database, the checkpoint size)
    command: tuple[str, ...] = (sys.executable, "-I", "-S", str(Path(__file__).resolve()))
    #: the flushing process checkpoints once the log holds this many pages
    checkpoint_pages: int = CHECKPOINT_PAGES

    def __init__(self, database: Path, when_idle: Callable[[asyncio.AbstractEventLoop], None] | None = None) -> None:
        self.database = database
        self.wal = database.with_name(database.name + "-wal")
        self.when_idle = when_idle  # called on a loop whose flushes have all been answered
        self._inline = WalFile(self.wal)
        self._loops: dict[asyncio.AbstractEventLoop, _LoopFlusher] = {}
        self.failure: WalFlushError | None = None

    def flush(self) -> None:
        """Flush now, on the calling thread (after every commit of ``append_now``)."""
        if self.failure is not None:
            raise self.failure
        try:
            self._inline.flush()
        except OSError as error:
            self.failure = WalFlushError(f"flushing the decision log {self.wal} failed: {error}")
            raise self.failure from error

    def busy(self, loop: asyncio.AbstractEventLoop) -> bool:
        """True while a flush asked for on ``loop`` has not been answered, or a checkpoint holds commits."""
        flusher = self._loops.get(loop)
        return flusher is not None and (bool(flusher.waiting) or flusher.holding)

    def release_after_flush(self, loop: asyncio.AbstractEventLoop, futures: list[asyncio.Future]) -> None:
        """Settle ``futures`` (on ``loop``, which must be running this call) once a later flush has finished."""
        flusher = self._loops.get(loop)
        if flusher is None:
            for old in [old for old in self._loops if old.is_closed()]:  # loops of finished asyncio.run calls
                self._loops.pop(old).close()
            flusher = self._loops[loop] = _LoopFlusher(self, loop)
        flusher.request(futures)

    def close(self) -> None:
        """Stop the flushing processes (each flushes what it was asked first) and close the file."""
        for flusher in self._loops.values():
            flusher.close()
        self._loops.clear()
        self._inline.close()


if __name__ == "__main__":
    import signal

    # the worker decides when this process ends (by closing the pipe): its last answers must still be flushed
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    database = Path(sys.argv[1])
    checkpointer = Checkpointer(database, int(sys.argv[2]))
    serve_flushes(database, sys.stdin.fileno(), sys.stdout.fileno(), checkpointer)
