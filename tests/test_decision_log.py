"""The decision store behind one interface, SQLite and a real PostgreSQL alike: group commits read back,
failures refuse a whole group, an outage is reported and recovered from, monitoring's cursor misses nothing."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from conftest import wait_until

from workbench.serving import DecisionStoreUnavailable, new_decision_id, open_decision_store


def decisions(count: int, model: str = "m", **changes) -> list[dict]:
    return [
        {
            "id": new_decision_id(),
            "time": "2026-01-01T00:00:00.000000+00:00",
            "model": model,
            "version": 1,
            "model_sha256": "s",
            "route": "champion",
            "input": {"a": i, "b": "text"},
            "score": i / 10,
            "decision": "approve",
            "reasons": [{"feature": "a", "contribution": 0.5, "text": "a is high"}],
            "latency_ms": 0.1,
            "client": "los",
            "related": None,
            **changes,
        }
        for i in range(count)
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'decisions.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    opened = open_decision_store(store_url)
    yield opened
    opened.close()


def test_decisions_are_committed_before_append_returns_and_read_back_by_another_reader(store, store_url):
    records = decisions(20)
    asyncio.run(store.append(records))
    other = open_decision_store(store_url)  # as another process or instance would read
    try:
        assert other.count() == 20 and other.count("m") == 20 and other.count("x") == 0
        assert other.get(records[3]["id"]) == records[3]
        assert other.ids("m") == sorted(r["id"] for r in records)
        assert other.get("no-such-id") is None
    finally:
        other.close()


def test_concurrent_requests_share_commits_and_linked_records_are_found(store):
    async def many() -> None:
        await asyncio.gather(*(store.append(decisions(1)) for _ in range(200)))

    asyncio.run(many())
    assert store.count() == 200
    assert store.commits < 200  # decisions held at once went together
    champion = decisions(1)[0]
    shadow = decisions(1, route="shadow", related=champion["id"])[0]
    store.append_now([champion, shadow])
    assert store.related(champion["id"]) == [shadow]


def test_a_failed_commit_refuses_its_whole_group_and_the_store_recovers_by_itself(store):
    first = decisions(5)
    store.append_now(first)
    repeated = decisions(3) + [first[0]]  # the primary key refuses the group: none of it may be recorded

    async def refused() -> list:
        return await asyncio.gather(store.append(repeated[:2]), store.append(repeated[2:]), return_exceptions=True)

    outcomes = asyncio.run(refused())
    assert all(isinstance(o, DecisionStoreUnavailable) for o in outcomes), outcomes
    assert store.count() == 5 and store.get(repeated[0]["id"]) is None
    wait_until(lambda: store.ready, timeout=10, what="the store to record again after its probe")
    store.append_now(decisions(2))
    assert store.count() == 7


def test_monitoring_cursor_hands_out_each_answered_decision_once(store):
    store.append_now(decisions(3) + decisions(2, model="other") + decisions(1, route="shadow"))
    found, cursor = store.changes("m", None, ("champion", "canary"))
    assert len(found) == 3 and {r["model"] for r in found} == {"m"}
    later = decisions(4)
    store.append_now(later)
    found, cursor = store.changes("m", cursor, ("champion", "canary"))
    assert [r["id"] for r in found] == [r["id"] for r in later]
    assert store.changes("m", cursor, ("champion", "canary"))[0] == []


def test_sqlite_store_uses_wal_and_full_synchronous_commits(tmp_path):
    store = open_decision_store(f"sqlite:///{tmp_path / 'decisions.db'}")
    try:
        store.append_now(decisions(1))
        connection = store._connection()
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "decisions.db") as reader:
        assert reader.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 1


def test_postgres_sessions_commit_synchronously(postgres_url):
    store = open_decision_store(postgres_url)
    try:
        with store._pool.connection() as connection:
            assert connection.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    finally:
        store.close()


def test_postgres_cursor_waits_for_a_transaction_that_commits_late(postgres_url):
    """A decision written by a transaction that began earlier but commits later is not passed by the cursor."""
    import psycopg

    from workbench.serving._decision_store import COLUMNS, as_row

    store = open_decision_store(postgres_url)
    try:
        slow = decisions(1)[0]
        with psycopg.connect(postgres_url) as connection:  # another instance, its commit held back
            placeholders = ", ".join("%s" for _ in COLUMNS)
            connection.execute(f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES ({placeholders})", as_row(slow))
            quick = decisions(1)
            store.append_now(quick)
            found, cursor = store.changes("m", None)
            assert found == []  # the quick one is held until the slow transaction has finished
            connection.commit()
        found, cursor = store.changes("m", cursor)
        assert sorted(r["id"] for r in found) == sorted([slow["id"], quick[0]["id"]])
    finally:
        store.close()


def test_a_database_outage_refuses_reports_not_ready_and_recovers(postgres_cluster, postgres_url):
    store = open_decision_store(postgres_url)
    try:
        store.append_now(decisions(2))
        postgres_cluster.stop()
        try:
            with pytest.raises(DecisionStoreUnavailable):
                store.append_now(decisions(1))
            assert not store.ready and not store.check()
            with pytest.raises(DecisionStoreUnavailable, match="cannot record"):
                store.append_now(decisions(1))  # refused at once while down
        finally:
            postgres_cluster.start()
        wait_until(lambda: store.ready, timeout=30, what="the store to record again once the database is back")
        store.append_now(decisions(1))
        assert store.count() == 3
    finally:
        store.close()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "decisions.db", "sqlite://relative"])
def test_an_unknown_store_url_is_refused_with_the_accepted_forms(url):
    with pytest.raises(ValueError, match="sqlite:///PATH .* postgresql://"):
        open_decision_store(url)


def test_a_full_sqlite_store_refuses_and_records_again_once_there_is_room(tmp_path):
    """SQLite's "database or disk is full" (its page limit stands in for the disk): the group is refused, the
    store reports not ready, and once there is room again it records by itself."""
    store = open_decision_store(f"sqlite:///{tmp_path / 'decisions.db'}")
    try:
        store.append_now(decisions(1))

        def limit(pages: int | None) -> None:
            def on_writer() -> None:
                connection = store._connection()
                current = connection.execute("PRAGMA page_count").fetchone()[0]
                connection.execute(f"PRAGMA max_page_count={pages or current}")

            store._writer.submit(on_writer).result()

        limit(None)  # full: not one page more
        with pytest.raises(DecisionStoreUnavailable, match="full"):
            store.append_now(decisions(200))
        assert not store.ready and "full" in store.failure
        assert not store.check()  # the probe writes through the same connection: still full
        limit(1_000_000)  # room again
        wait_until(lambda: store.ready, timeout=10, what="the store to record again")
        store.append_now(decisions(200))
        assert store.count() == 201
    finally:
        store.close()
