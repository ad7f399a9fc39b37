"""The decision log: group commits read back from any process, and ``power`` durability's flushing process
beside each event loop, its checkpoints and its failures.

The flushing process is the real program (``workbench/serving/_wal.py``); where a test needs a slow or broken
disk, it runs that program with ``os.fdatasync`` replaced inside the process (the ``flush_disk`` fixture).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import wait_until, wait_until_async

from workbench.serving import DecisionLog, _decision_log, _wal, new_decision_id

#: turns of the event loop after which every task scheduled before has run up to its first wait, and every
#: callback those steps scheduled has run too (no time passes: nothing is waited for but the loop itself)
LOOP_TURNS = 5


async def _turn_the_loop() -> None:
    for _ in range(LOOP_TURNS):
        await asyncio.sleep(0)


def decisions(shard: int, count: int) -> list[dict]:
    return [
        {
            "id": new_decision_id(shard),
            "time": "t",
            "model": "m",
            "version": 1,
            "model_sha256": "s",
            "route": "champion",
            "input": {"a": i},
            "score": i / 10,
            "decision": "approve",
            "reasons": [],
            "latency_ms": 0.1,
            "client": "los",
            "related": None,
        }
        for i in range(count)
    ]


def test_decision_log_commits_before_returning_and_reads_back(tmp_path):
    log = DecisionLog(tmp_path / "decisions")
    shard = log.claim_shard()
    records = decisions(shard, 50)
    ids = [r["id"] for r in records]

    async def many() -> None:
        await asyncio.gather(*(log.append([r]) for r in records))

    asyncio.run(many())
    other = DecisionLog(tmp_path / "decisions")  # another process's view of the same folder
    assert other.count() == 50 and other.get(ids[7])["input"] == {"a": 7}
    assert other.claim_shard() != shard  # a second writer gets its own shard file
    assert other.get("not-an-id") is None and other.ids() == sorted(ids)
    assert log.commits < 50  # group commit: concurrent appends shared transactions
    with pytest.raises(Exception, match="UNIQUE"):
        log.append_now([records[0]])  # an id is recorded once; the failure reaches the caller
    # a batch beyond one statement's parameters is still one transaction: all of it, or none of it
    big = [{**records[0], "id": new_decision_id(shard), "input": {"a": i}} for i in range(5000)]
    with pytest.raises(Exception, match="UNIQUE"):
        log.append_now([*big, {**big[-1]}])
    assert other.count() == 50
    log.append_now(big)
    assert other.count() == 5050 and other.get(big[4999]["id"])["input"] == {"a": 4999}
    log.close()


def test_linked_decisions_are_found_by_index_and_only_links_are_indexed(tmp_path):
    folder = tmp_path / "decisions"
    folder.mkdir()
    with sqlite3.connect(folder / "shard-000.db") as old:  # a shard written by an earlier version
        old.executescript(_decision_log._SCHEMA.split("--")[0])  # the table as it was and is
        old.execute("CREATE INDEX decisions_time ON decisions (model, time)")
    log = DecisionLog(folder, durability="process")
    shard = log.claim_shard()
    champion, challenger = decisions(shard, 2)
    log.append_now([champion, {**challenger, "route": "shadow", "related": champion["id"]}])
    assert [r["id"] for r in log.related(champion["id"])] == [challenger["id"]]
    with sqlite3.connect(folder / "shard-000.db") as connection:
        indexes = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        plan = connection.execute("EXPLAIN QUERY PLAN SELECT id FROM decisions WHERE related = ?", ("x",)).fetchall()
        entries = connection.execute("SELECT COUNT(*) FROM decisions INDEXED BY decisions_related WHERE related > ''")
        assert entries.fetchone()[0] == 1  # the champion-only decision has no entry
    assert "decisions_time" not in indexes and "decisions_related" in indexes
    assert "decisions_related" in str(plan)
    log.close()


def test_answers_wait_for_the_flush_and_what_came_meanwhile_shares_the_next(tmp_path, flush_disk, flushing_processes):
    gate, notes, asked = flush_disk("held")
    log = DecisionLog(tmp_path / "decisions", durability="power")
    records = decisions(log.claim_shard(), 40)

    async def scenario() -> None:
        first = asyncio.ensure_future(log.append(records[:1]))
        # the loop keeps turning while the disk holds the flush
        await wait_until_async(asked.exists, timeout=30, what="the first commit's flush to reach the disk")
        assert not first.done() and log.commits == 1
        rest = [asyncio.ensure_future(log.append([r])) for r in records[1:]]
        await _turn_the_loop()  # each has asked to be committed
        assert not any(task.done() for task in rest)  # nobody is answered before the disk has the records
        assert log.commits == 1  # and they wait in memory: a commit now would wait for the pages being flushed
        gate.touch()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())
    wal = log.path / f"shard-{log.shard:03d}.db-wal"
    flushed = notes.read_text().split()
    assert set(flushed) == {str(wal.stat().st_ino)}  # the flush is of the log SQLite writes
    assert log.commits == 2 and len(flushed) == 2  # the 39 that came during the first flush: one commit, one flush
    assert DecisionLog(log.path).count() == 40
    log.close()
    assert not flushing_processes(log.path)


def test_a_failed_flush_refuses_every_later_decision(tmp_path, monkeypatch, flush_disk):
    """After an fdatasync error the kernel may have dropped the pages: nothing more is acknowledged."""
    log = DecisionLog(tmp_path / "decisions", durability="power")
    records = decisions(log.claim_shard(), 4)
    log.append_now(records[:1])
    disk = flush_disk("broken")

    async def scenario() -> list:
        flushed = asyncio.ensure_future(log.append(records[1:2]))
        await wait_until_async(disk.asked.exists, timeout=30, what="the commit's flush to reach the disk")
        held = asyncio.ensure_future(log.append(records[2:3]))  # waits in memory for that flush's answer
        await _turn_the_loop()  # it has asked to be committed
        disk.gate.touch()
        return await asyncio.gather(flushed, held, return_exceptions=True)

    failures = asyncio.run(asyncio.wait_for(scenario(), 30))  # nobody is left waiting
    assert [type(f) for f in failures] == [_wal.WalFlushError] * 2
    assert "flushing the decision log" in str(failures[0]) and "Input/output error" in str(failures[0])
    monkeypatch.undo()  # the disk recovers; the log must still refuse: its earlier pages may be gone
    with pytest.raises(_wal.WalFlushError):
        asyncio.run(log.append(records[3:]))
    with pytest.raises(_wal.WalFlushError):
        log.append_now(records[3:])
    assert DecisionLog(log.path).get(records[2]["id"]) is None  # refused before it was written
    assert DecisionLog(log.path).get(records[3]["id"]) is None
    log.close()


def test_a_failed_inline_flush_refuses_too(tmp_path, monkeypatch):
    log = DecisionLog(tmp_path / "decisions", durability="power")
    records = decisions(log.claim_shard(), 2)

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_wal.os, "fdatasync", broken)
    with pytest.raises(_wal.WalFlushError, match="Input/output error"):
        log.append_now(records[:1])
    monkeypatch.undo()
    with pytest.raises(_wal.WalFlushError):
        asyncio.run(log.append(records[1:]))
    log.close()


def test_a_flushing_process_that_dies_leaves_nothing_acknowledged_after_it(tmp_path, flushing_processes):
    log = DecisionLog(tmp_path / "decisions", durability="power")
    records = decisions(log.claim_shard(), 3)

    async def scenario() -> None:
        await log.append(records[:1])
        (pid,) = flushing_processes(log.path)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(_wal.WalFlushError, match="flushing process .* (ended|is gone)"):  # read or write first
            await log.append(records[1:2])
        with pytest.raises(_wal.WalFlushError):
            await log.append(records[2:])

    asyncio.run(scenario())
    assert DecisionLog(log.path).get(records[0]["id"]) is not None
    assert DecisionLog(log.path).get(records[2]["id"]) is None
    log.close()


def test_the_flushing_process_checkpoints_and_the_log_starts_over(tmp_path, monkeypatch):
    """Checkpoints end while the loop holds its commits, so the log restarts and stays small."""
    monkeypatch.setattr(_wal.WalFlusher, "checkpoint_pages", 100)
    log = DecisionLog(tmp_path / "decisions", durability="power")
    records = decisions(log.claim_shard(), 600)

    async def scenario() -> None:
        for record in records:  # one commit each, of a few log pages: about 2,000 pages in all
            await log.append([record])

    asyncio.run(scenario())
    wal = log.path / f"shard-{log.shard:03d}.db-wal"
    assert log.commits == 600
    # 100 pages and those committed while a checkpoint copied: the log started over each time (without: 2,000)
    assert wal.stat().st_size < 200 * 4120
    assert DecisionLog(log.path).count() == 600
    # the database file alone (without its log) already holds the rows up to the last checkpoint
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(log.path / f"shard-{log.shard:03d}.db", alone / "shard-000.db")
    assert 500 <= DecisionLog(alone).count() <= 600
    log.close()


def test_process_durability_checkpoints_in_threads_holding_commits_only_for_the_last_part(tmp_path, monkeypatch):
    """Without a flushing process, threads of the worker checkpoint: the log restarts and stays small, and
    records appended during the last part wait for it, then are committed."""
    monkeypatch.setattr(_wal.ThreadCheckpoints, "checkpoint_pages", 100)
    real_finish = _wal.Checkpointer.finish
    finished: list[float] = []
    asked_during_it = threading.Event()
    log_flushed_by_us: list[bool] = []

    def slow_finish(self, log_flushed=True):
        log_flushed_by_us.append(log_flushed)
        asked_during_it.wait(30)  # the first last part lasts until the loop has asked to commit during it
        real_finish(self, log_flushed)
        finished.append(time.monotonic())

    monkeypatch.setattr(_wal.Checkpointer, "finish", slow_finish)
    log = DecisionLog(tmp_path / "decisions", durability="process")
    records = decisions(log.claim_shard(), 600)
    held: list[tuple[float, float]] = []

    async def scenario() -> None:
        for record in records[:-1]:  # one commit each, of a few log pages: about 2,000 pages in all
            if log._checkpoints is not None and log._checkpoints.holding and not held:
                asked = time.monotonic()
                waiting = asyncio.ensure_future(log.append([record]))  # waits for the last part
                await _turn_the_loop()  # it has asked to be committed, and was held
                asked_during_it.set()
                await waiting
                held.append((asked, time.monotonic()))
            else:
                await log.append([record])
            await asyncio.sleep(0)
        asked_during_it.set()  # (had no last part held a commit, the assertions below say so)
        await wait_until_async(lambda: not log._checkpoints.holding, timeout=30, what="the last checkpoint to end")
        await log.append([records[-1]])

    asyncio.run(asyncio.wait_for(scenario(), 60))
    # nothing flushes the log in process durability: SQLite must, before copying
    assert log_flushed_by_us and not any(log_flushed_by_us)
    assert len(finished) >= 2 and log._checkpoints.failures == []
    (asked, answered) = held[0]
    assert answered >= min(f for f in finished if f > asked) - 0.01  # released only once the last part ended
    wal = log.path / f"shard-{log.shard:03d}.db-wal"
    assert wal.stat().st_size < 1000 * 4120  # it restarted: without, about 2,000 pages
    assert DecisionLog(log.path).count() == 600
    log.close()


def test_every_event_loop_held_by_a_checkpoint_commits_after_it(tmp_path, monkeypatch):
    """Two threads, each with its own event loop, append to one log: a loop whose commit waited for the last
    part of a checkpoint started on the other loop commits once it is done (none is left waiting)."""
    monkeypatch.setattr(_wal.ThreadCheckpoints, "checkpoint_pages", 50)
    real_finish = _wal.Checkpointer.finish

    def slow_finish(self, log_flushed=True):
        time.sleep(0.05)  # a slow last part: the other loop's commits come during it (the scenario, not a wait)
        real_finish(self, log_flushed)

    monkeypatch.setattr(_wal.Checkpointer, "finish", slow_finish)
    log = DecisionLog(tmp_path / "decisions", durability="process")
    records = decisions(log.claim_shard(), 600)
    errors: list[BaseException] = []

    def run(part: list[dict]) -> None:
        async def scenario() -> None:
            for record in part:
                await log.append([record])

        try:
            asyncio.run(asyncio.wait_for(scenario(), 60))
        except BaseException as error:  # noqa: BLE001  (reported below, from the test's thread)
            errors.append(error)

    threads = [threading.Thread(target=run, args=(records[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert log._checkpoints.checkpointer.checkpoints >= 2
    assert DecisionLog(log.path).count() == 600
    log.close()


def test_a_failed_checkpoint_in_process_durability_costs_no_decision(tmp_path, monkeypatch):
    monkeypatch.setattr(_wal.ThreadCheckpoints, "checkpoint_pages", 50)

    attempts: list[int] = []

    def broken(self, log_flushed):
        attempts.append(self.index.pages())
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(_wal.Checkpointer, "_checkpoint", broken)
    log = DecisionLog(tmp_path / "decisions", durability="process")
    records = decisions(log.claim_shard(), 300)

    async def scenario() -> None:
        for record in records:
            await log.append([record])
            await asyncio.sleep(0)

    asyncio.run(asyncio.wait_for(scenario(), 60))
    assert log._checkpoints.failures and "disk I/O error" in log._checkpoints.failures[-1]
    assert DecisionLog(log.path).count() == 300  # every commit stood; the log only grew
    # retried each time the log grew by the checkpoint size again, not at every one of the 300 commits
    assert 2 <= len(attempts) and all(b - a >= 50 for a, b in zip(attempts, attempts[1:], strict=False))
    log.close()


def test_process_durability_answers_without_waiting_for_the_disk(tmp_path, flush_disk):
    disk = flush_disk("held")  # never opened: a flush would wait forever
    log = DecisionLog(tmp_path / "decisions", durability="process")
    records = decisions(log.claim_shard(), 20)

    async def scenario() -> None:
        await asyncio.gather(*(log.append([r]) for r in records[:10]))
        for record in records[10:]:
            await log.append([record])

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert not disk.notes.exists()  # no flush was asked for
    assert DecisionLog(log.path).count() == 20
    log.close()


def _log_writer(database: Path):
    """A connection committing to ``database`` in WAL mode without SQLite's own checkpoints, table ``t``."""
    writer = sqlite3.connect(database, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE t (x)")
    return writer


def test_a_checkpoint_copies_beside_the_commits_and_finishes_between_two(tmp_path):
    """Due at the size; the first part runs while commits go on; the last part lets the log restart."""
    database = tmp_path / "shard.db"
    writer = _log_writer(database)
    checkpointer = _wal.Checkpointer(database, pages=50)
    while checkpointer.index.pages() < 40:
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    assert not checkpointer.due(checkpointer.index.pages())
    while checkpointer.index.pages() < 50:
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    assert checkpointer.due(checkpointer.index.pages())
    checkpointer.start()
    assert not checkpointer.due(10_000)  # one at a time
    for _ in range(20):  # commits go on while the first part copies
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    wait_until(checkpointer.finish_due, timeout=30, what="the checkpoint's first part to end")
    checkpointer.finish()  # the writer is quiet now: everything it committed is copied
    assert checkpointer.checkpoints == 1
    settled = checkpointer.index.pages()
    copied = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    writer.execute("INSERT INTO t VALUES (1)")  # the first commit after a complete checkpoint restarts the log
    assert checkpointer.index.pages() <= 2 and not checkpointer.due(checkpointer.index.pages())
    while checkpointer.index.pages() <= settled:  # grown again past its size at the last checkpoint's end
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    assert checkpointer.due(checkpointer.index.pages())  # a new log: due again at the size
    checkpointer.start()
    wait_until(checkpointer.finish_due, timeout=30, what="the second checkpoint's first part to end")
    checkpointer.finish()
    writer.execute("INSERT INTO t VALUES (1)")
    assert checkpointer.index.pages() <= 2 and checkpointer.checkpoints == 2
    # a reader in the middle of a read keeps the log from restarting: not checkpointed again at every flush,
    # only once it has grown by the size again
    copied.execute("BEGIN")
    copied.execute("SELECT COUNT(*) FROM t").fetchone()
    while checkpointer.index.pages() < 60:
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    checkpointer.start()
    wait_until(checkpointer.finish_due, timeout=30, what="the third checkpoint's first part to end")
    checkpointer.finish()
    writer.execute("INSERT INTO t VALUES (2)")
    held = checkpointer.index.pages()
    assert held > 50 and not checkpointer.due(held)
    while checkpointer.index.pages() < held + 50:
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    assert checkpointer.due(checkpointer.index.pages())
    copied.execute("COMMIT")
    copied.close()
    checkpointer.close()
    writer.close()


def test_each_part_of_a_checkpoint_flushes_the_database_file_itself(tmp_path, monkeypatch):
    """SQLite flushes the database only after copying the whole log, which the first part rarely does while
    commits go on: without its own flush, the last part (commits held) would write the first part's pages."""
    flushed: list[str] = []
    real = os.fdatasync
    monkeypatch.setattr(_wal.os, "fdatasync", lambda fd: (flushed.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    database = tmp_path / "shard.db"
    writer = _log_writer(database)
    checkpointer = _wal.Checkpointer(database, pages=50)
    while not checkpointer.due(checkpointer.index.pages()):
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    checkpointer.start()
    for _ in range(20):
        writer.execute("INSERT INTO t VALUES (randomblob(3000))")
    wait_until(checkpointer.finish_due, timeout=30, what="the checkpoint's first part to end")
    assert flushed == [str(database)]
    checkpointer.finish()
    assert flushed == [str(database)] * 2
    checkpointer.close()
    writer.close()


def test_a_checkpoint_holds_commits_only_for_its_last_part(tmp_path, monkeypatch):
    """The worker side: answers are released before the last part, commits wait for RESUME."""
    flusher = _wal.WalFlusher(tmp_path / "shard.db")
    idle: list[str] = []
    flusher.when_idle = lambda loop: idle.append("idle")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        waiting = _wal._LoopFlusher.__new__(_wal._LoopFlusher)  # the answer handling alone, no process
        waiting.owner, waiting.loop, waiting._failing, waiting.holding = flusher, loop, b"", False
        flusher._loops[loop] = waiting
        first, second = loop.create_future(), loop.create_future()
        waiting.waiting = [[first], [second]]
        waiting._take(_wal.FLUSHED + _wal.FLUSHED + _wal.HOLD)
        assert first.done() and second.done() and flusher.busy(loop) and idle == []
        waiting._take(_wal.RESUME)
        assert not flusher.busy(loop) and idle == ["idle"]
        # a failure during the last part: held records are refused, not kept waiting
        third = loop.create_future()
        waiting.waiting = [[third]]
        monkeypatch.setattr(_wal._LoopFlusher, "close", lambda self: None)
        waiting._take(_wal.FLUSHED + _wal.HOLD + _wal.FAILED + b"the disk is gone\n")
        assert third.result() is None and not flusher.busy(loop) and idle == ["idle", "idle"]
        assert "the disk is gone" in str(flusher.failure)

    asyncio.run(scenario())
    flusher._loops.clear()


def test_the_flushing_process_ends_with_its_worker_even_on_sigkill(tmp_path, flushing_processes):
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import asyncio, sys, time\n"
            "from workbench.serving import DecisionLog\n"
            "sys.path.insert(0, 'tests')  # where the tests import their helpers from\n"
            "from test_decision_log import decisions\n"
            "log = DecisionLog(__import__('pathlib').Path(sys.argv[1]), durability='power')\n"
            "async def main():\n"
            "    await log.append(decisions(log.claim_shard(), 1))\n"
            "    print('appended', flush=True)\n"
            "    await asyncio.sleep(60)\n"
            "asyncio.run(main())\n",
            str(tmp_path / "decisions"),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "appended"
        assert len(flushing_processes(tmp_path / "decisions")) == 1
        worker.kill()
        worker.wait(timeout=30)
        wait_until(
            lambda: not flushing_processes(tmp_path / "decisions"),
            timeout=10,
            what="the flushing process to end with its worker",
        )
    finally:
        if worker.poll() is None:
            worker.kill()
