"""The test suite's PostgreSQL: a real server, durable commits, one database per test."""

from __future__ import annotations


def test_each_test_gets_its_own_empty_database_on_a_real_server(postgres_cluster, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as connection:
        assert connection.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        assert connection.execute("SHOW fsync").fetchone()[0] == "on"
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0
        connection.execute("CREATE TABLE t (x int)")
    other = postgres_cluster.database()
    assert other != postgres_url
    with psycopg.connect(other) as connection:
        assert connection.execute("SELECT to_regclass('public.t')").fetchone()[0] is None
