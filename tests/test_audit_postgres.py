"""The audit trail in PostgreSQL (``WORKBENCH_DATABASE_URL``), tried as an attacker and a careless operator would:
the application's role cannot change or remove a record (PostgreSQL refuses it), an owner who does is caught by
the keyed records and the registry's anchors, a transition raced from two processes has one winner, a registry
change lost after its record is repaired, and an unreachable or unmigrated database refuses with a clear message.
"""

from __future__ import annotations

import errno
import uuid
from pathlib import Path

import psycopg
import pytest
from conftest import copy_project, registry_client
from test_governance_cli import PASSWORD, PEOPLE, artefact, run, run_at_once

from workbench.governance import (
    AuditIntegrityError,
    AuditTrail,
    GovernanceError,
    GovernanceService,
    InMemoryVersionStore,
    User,
    copy_trail_to_database,
    migrate_trail_database,
)
from workbench.governance._trail_postgres import PostgresTrail
from workbench.serving import new_decision_id, open_decision_store


def person(name: str, role: str) -> User:
    return User(name=name, roles=[role], salt="", secret_hash="")


VAL, APP, DEP = person("val", "validator"), person("app", "approver"), person("dep", "deployer")


class Database:
    """One database owned by a role of its own, with an application role that the owner grants rights to."""

    def __init__(self, cluster, template: str | None = None, roles: tuple[str, str] | None = None) -> None:
        tag = uuid.uuid4().hex[:10]
        self.cluster, self.name = cluster, f"a_{tag}"
        self.owner, self.app = roles or (f"owner_{tag}", f"app_{tag}")
        with psycopg.connect(cluster.url(), autocommit=True) as connection:
            if roles is None:
                connection.execute(f'CREATE ROLE "{self.owner}" LOGIN')
                connection.execute(f'CREATE ROLE "{self.app}" LOGIN')
            copy = f' TEMPLATE "{template}"' if template else ""
            connection.execute(f'CREATE DATABASE "{self.name}" OWNER "{self.owner}"{copy}')

    def url(self, role: str) -> str:
        return f"postgresql://{role}@127.0.0.1:{self.cluster.port}/{self.name}"

    @property
    def owner_url(self) -> str:
        return self.url(self.owner)

    @property
    def app_url(self) -> str:
        return self.url(self.app)


@pytest.fixture
def database(postgres_cluster) -> Database:
    database = Database(postgres_cluster)
    migrate_trail_database(database.owner_url, database.app)
    return database


def governed(tmp_path: Path, url: str) -> tuple[GovernanceService, InMemoryVersionStore, AuditTrail]:
    """A service over an in-memory registry and the trail in ``url`` (its key under ``tmp_path``)."""
    store = InMemoryVersionStore()
    store.add("m", 1, {"status": "development", "developed_by": "dev", "model_sha256": "a" * 64}, "a" * 64)
    store.add("m", 2, {"status": "development", "developed_by": "dev", "model_sha256": "b" * 64}, "b" * 64)
    audit = AuditTrail(tmp_path / "audit.jsonl", storage=PostgresTrail(url))
    return GovernanceService(store, audit), store, audit


def to_production(service: GovernanceService, version: int = 1) -> None:
    service.record_validation(VAL, "m", version, "validated", "suite passed", {"high": 0, "medium": 0, "low": 0})
    service.approve(APP, "m", version, "fit for use")
    service.promote(DEP, "m", version, "champion", "go live")


def test_the_application_role_may_read_and_append_but_postgres_refuses_it_any_change(database, tmp_path):
    service, store, audit = governed(tmp_path, database.app_url)
    to_production(service)
    assert [r["action"] for r in audit.records()] == ["validate", "approve", "promote_champion"]
    assert audit.verify(store.anchors()) == [] and store.alias_holder("m", "champion") == 1
    with psycopg.connect(database.app_url, autocommit=True) as connection:
        for statement in (
            "UPDATE audit_records SET line = replace(line, 'fit for use', 'waived')",
            "DELETE FROM audit_records WHERE position = 3",
            "TRUNCATE audit_records",
            "UPDATE audit_heads SET head = '{}'",
            "DELETE FROM audit_heads",
            "TRUNCATE audit_heads",
            "ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="(permission denied|must be owner)"):
                connection.execute(statement)
    assert audit.verify(store.anchors()) == [] and len(audit.records()) == 3


def test_an_owner_edit_is_refused_by_the_trigger_and_once_forced_detected_by_the_key(database, tmp_path):
    service, store, audit = governed(tmp_path, database.app_url)
    to_production(service)
    with psycopg.connect(database.owner_url, autocommit=True) as connection:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only: UPDATE on audit_records"):
            connection.execute("UPDATE audit_records SET line = replace(line, 'fit for use', 'waived')")
        connection.execute("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
        connection.execute("UPDATE audit_records SET line = replace(line, 'fit for use', 'waived')")
    problems = audit.verify(store.anchors())
    assert [(p.kind, p.seq) for p in problems] == [("edited", 2)]
    with pytest.raises(GovernanceError, match=r"does not verify \(record 2 .* was edited"):
        service.add_finding(VAL, "m", 1, "low", "note", "fix")
    assert len(audit.records()) == 3  # nothing was appended after the edit


def test_an_owner_removing_the_end_with_its_head_is_caught_by_the_registry_anchor(database, tmp_path):
    service, store, audit = governed(tmp_path, database.app_url)
    to_production(service)
    with psycopg.connect(database.owner_url, autocommit=True) as connection:
        connection.execute("ALTER TABLE audit_records DISABLE TRIGGER USER")
        connection.execute("ALTER TABLE audit_heads DISABLE TRIGGER USER")
        connection.execute("DELETE FROM audit_records WHERE position = (SELECT max(position) FROM audit_records)")
        connection.execute("DELETE FROM audit_heads WHERE count = 3")
    assert audit.verify() == []  # consistent in itself: only the anchor outside the database knows
    assert [p.kind for p in audit.verify(store.anchors())] == ["anchor"]
    with pytest.raises(GovernanceError, match="names audit record 3, which the audit trail in postgresql://"):
        service.archive(DEP, "m", 2, "tidy up")


def test_a_registry_change_lost_after_its_record_is_repaired_by_the_next_command(database, tmp_path):
    service, store, audit = governed(tmp_path, database.app_url)
    service.record_validation(VAL, "m", 1, "validated", "suite passed", {"high": 0})
    original = store.set_tags

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    store.set_tags = full
    with pytest.raises(GovernanceError, match=r"approve m/1 is recorded \(audit record 2\) but the registry"):
        service.approve(APP, "m", 1, "fit for use")
    store.set_tags = original
    assert store.tags("m", 1)["status"] == "validated"
    service.promote(DEP, "m", 1, "champion", "go live")
    assert service.repairs == [
        "repaired: applied audit record 2 (approve m/1) that the registry had not applied",
    ]
    assert store.tags("m", 1)["status"] == "production" and audit.verify(store.anchors()) == []


def test_an_unreachable_database_refuses_and_changes_nothing(postgres_cluster, tmp_path):
    closed = f"postgresql://nobody@127.0.0.1:{_closed_port()}/none"
    service, store, _ = governed(tmp_path, closed)
    with pytest.raises(GovernanceError, match=r"refused: .*cannot connect to postgresql://nobody@127\.0\.0\.1"):
        service.record_validation(VAL, "m", 1, "validated", "suite passed", {"high": 0})
    assert store.tags("m", 1)["status"] == "development" and store.anchor("m") is None


def test_an_application_role_without_the_migration_is_told_to_run_it(postgres_cluster, tmp_path):
    database = Database(postgres_cluster)  # no migration: the application role may not create tables
    service, store, _ = governed(tmp_path, database.app_url)
    with pytest.raises(GovernanceError, match="the database's owner runs `workbench audit migrate-db"):
        service.record_validation(VAL, "m", 1, "validated", "suite passed", {"high": 0})
    assert store.tags("m", 1)["status"] == "development"


def test_migrate_db_grants_reading_and_appending_only(postgres_cluster, tmp_path):
    database = Database(postgres_cluster)
    done = run(tmp_path, "audit", "migrate-db", "--owner-url", database.owner_url, "--app-role", database.app)
    assert done.returncode == 0, done.stderr
    assert f"{database.app} may read and append only" in done.stdout
    with psycopg.connect(database.owner_url, autocommit=True) as connection:
        rights = {
            (table, right): connection.execute(
                "SELECT has_table_privilege(%s, %s, %s)", (database.app, table, right)
            ).fetchone()[0]
            for table in ("audit_records", "audit_heads", "decisions")
            for right in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
        }
    assert {key for key, granted in rights.items() if granted} == {
        (table, right) for table in ("audit_records", "audit_heads", "decisions") for right in ("SELECT", "INSERT")
    }
    decisions = open_decision_store(database.app_url)  # serving as the application role: adds, reads, probes
    try:
        decisions.append_now([_decision()])
        assert decisions.count() == 1 and decisions.check()
    finally:
        decisions.close()
    again = run(tmp_path, "audit", "migrate-db", "--owner-url", database.owner_url, "--app-role", database.app)
    assert again.returncode == 0, again.stderr  # safe to run again
    wrong = run(tmp_path, "audit", "migrate-db", "--owner-url", "mysql://root@db/x")
    assert wrong.returncode == 2 and "--owner-url" in wrong.stderr and "Traceback" not in wrong.stderr


def _decision() -> dict:
    return {
        "id": new_decision_id(),
        "time": "2026-01-01T00:00:00",
        "model": "m",
        "version": 1,
        "model_sha256": "s",
        "route": "champion",
        "input": {"a": 1},
        "score": 0.5,
        "decision": "approve",
        "reasons": [],
        "latency_ms": 0.1,
        "client": None,
        "related": None,
    }


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the command line on a real MLflow registry, the trail in PostgreSQL -------------------------------------


@pytest.fixture(scope="module")
def pg_template(tmp_path_factory, postgres_cluster):
    """A registry with model ``m`` (v1 approved by three people, v3 in development) whose trail is in a template
    database; each test copies both (``CREATE DATABASE ... TEMPLATE``)."""
    from _pytest.monkeypatch import MonkeyPatch

    from workbench.governance import MlflowVersionStore, UserStore
    from workbench.registry import model_sha256

    database = Database(postgres_cluster)
    migrate_trail_database(database.owner_url, database.app)
    project = tmp_path_factory.mktemp("governed-pg-template")
    (project / "registry_store").mkdir()
    patch = MonkeyPatch()
    patch.setenv("WORKBENCH_HOME", str(project))
    patch.setenv("WORKBENCH_DATABASE_URL", database.app_url)
    users = UserStore(project / "registry_store" / "governance" / "users.json")
    for name, roles in PEOPLE.items():
        users.add(name, roles, PASSWORD)
    audit = AuditTrail()
    with registry_client(project) as client:
        client.create_registered_model("m")
        service = GovernanceService(MlflowVersionStore(client), audit)
        for version, developer in ((1, "priya"), (2, "dave"), (3, "priya")):
            source = artefact(project / "sources" / f"v{version}", f"model {version}")
            client.create_model_version("m", source=str(source), tags={"status": "development"})
            client.set_model_version_tag("m", str(version), "developed_by", developer)
            client.set_model_version_tag("m", str(version), "model_sha256", model_sha256("m", version))
            service.register(users.get(developer), "m", version)
        service.record_validation(users.get("marco"), "m", 1, "validated", "suite passed", {"high": 0})
        service.approve(users.get("helen"), "m", 1, "fit for use")
    patch.undo()
    for trail in (audit, users.audit):
        trail.storage.close()  # a template database is copied only while nobody is connected to it
    return project, database


@pytest.fixture
def pg_project(pg_template, tmp_path, monkeypatch) -> tuple[Path, str]:
    """A copy of the template project and of its database; ``WORKBENCH_DATABASE_URL`` names the copy."""
    template, template_database = pg_template
    copy = Database(
        template_database.cluster,
        template=template_database.name,
        roles=(template_database.owner, template_database.app),
    )
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", copy.app_url)
    return copy_project(template, tmp_path / "project"), copy.app_url


def _records(url: str) -> list[dict]:
    storage = PostgresTrail(url)
    try:
        return AuditTrail(Path("unused.jsonl"), storage=storage).records()
    finally:
        storage.close()


def test_two_processes_racing_a_promotion_have_one_winner_and_a_clear_refusal(pg_project):
    project, url = pg_project
    results = run_at_once(
        project,
        [["promote", "m", "1", "--to", to, "--user", "sam", "--reason", "go"] for to in ("champion", "challenger")],
    )
    promotions = [r for r in _records(url) if r["action"].startswith("promote_")]
    from_approved = [r for r in promotions if r["outcome"] == "accepted" and r["before"] == "approved"]
    assert len(from_approved) == 1
    second = next(r for r in promotions if r is not from_approved[0])
    assert second["seq"] == from_approved[0]["seq"] + 1 and second["before"] == from_approved[0]["after"]
    if second["outcome"] == "refused":
        assert sorted(code for code, _, _ in results) == [0, 2]
        assert any("refused:" in err and "Traceback" not in err for code, _, err in results if code == 2)
    verified = run(project, "audit", "verify", env={"WORKBENCH_DATABASE_URL": url})
    assert verified.returncode == 0, verified.stderr
    assert "audit trail intact" in verified.stdout and "the audit trail in postgresql://" in verified.stdout


def test_concurrent_findings_in_processes_are_counted_exactly(pg_project):
    project, url = pg_project
    before = len(_records(url))
    arguments = ["--severity", "low", "--remediation", "fix", "--user", "marco"]
    results = run_at_once(project, [["finding", "m", "3", "--title", f"note {i}", *arguments] for i in range(8)])
    assert [code for code, _, _ in results] == [0] * 8, [err for code, _, err in results if code]
    added = _records(url)[before:]
    assert [r["seq"] for r in added] == list(range(before + 1, before + 9))
    assert sorted(int(r["details"]["apply"]["tags"]["open_findings_low"]) for r in added) == list(range(1, 9))
    with registry_client(project) as client:
        assert client.get_model_version("m", "3").tags["open_findings_low"] == "8"


def test_a_file_trail_copied_into_the_database_keeps_verifying_and_continues(database, tmp_path):
    store = InMemoryVersionStore()
    for version, sha in ((1, "a"), (2, "b")):
        store.add("m", version, {"status": "development", "developed_by": "dev", "model_sha256": sha * 64}, sha * 64)
    file_trail = AuditTrail(tmp_path / "audit.jsonl")
    service = GovernanceService(store, file_trail)
    to_production(service)
    moved = AuditTrail(tmp_path / "audit.jsonl", storage=PostgresTrail(database.app_url))
    with pytest.raises(GovernanceError, match=r"audit.jsonl holds a file trail: .* --copy-trail"):
        GovernanceService(store, moved).archive(DEP, "m", 2, "before the copy")  # anchors name missing records
    assert copy_trail_to_database(database.owner_url, file_trail) == 3
    assert moved.records() == file_trail.records() and moved.verify(store.anchors()) == []
    GovernanceService(store, moved).archive(DEP, "m", 2, "never used")
    assert [r["seq"] for r in moved.records()] == [1, 2, 3, 4] and moved.verify(store.anchors()) == []
    with pytest.raises(ValueError, match="already holds 4 audit records"):
        copy_trail_to_database(database.owner_url, file_trail)
    (tmp_path / "audit.jsonl").write_text((tmp_path / "audit.jsonl").read_text().replace("go live", "go dead"))
    with pytest.raises(AuditIntegrityError, match="does not verify .*nothing was copied"):
        copy_trail_to_database(database.owner_url, AuditTrail(tmp_path / "audit.jsonl"))


def test_the_server_serves_what_the_database_trail_approved_and_refuses_an_edited_approval(
    own_served_project, database, monkeypatch, tmp_path
):
    """The served project's trail moved into PostgreSQL (the file removed): the server loads its champion from
    the database trail's approval; once the owner edits that approval, the server refuses to load it."""
    from workbench.serving import DeploymentError, ModelServer

    project = own_served_project.project
    governance = project / "registry_store" / "governance"
    assert copy_trail_to_database(database.owner_url, AuditTrail(governance / "audit.jsonl")) > 0
    for name in ("audit.jsonl", "audit.head.json"):
        (governance / name).unlink()
    monkeypatch.setenv("WORKBENCH_HOME", str(project))
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", database.app_url)
    decisions = open_decision_store(f"sqlite:///{tmp_path / 'decisions.db'}")
    try:
        with registry_client(project) as client:
            server = ModelServer("german_credit", client, decisions, AuditTrail(), refresh_seconds=0)
            server.start()
            assert server.champion.version == own_served_project.champion
            server.stop()
            with psycopg.connect(database.owner_url, autocommit=True) as connection:
                connection.execute("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
                edited = connection.execute(
                    'UPDATE audit_records SET line = replace(line, \'"reason": "\', \'"reason": "edited: \') '
                    'WHERE line LIKE \'%"action": "approve"%\''
                ).rowcount
            assert edited >= 1
            refused = ModelServer("german_credit", client, decisions, AuditTrail(), refresh_seconds=0)
            with pytest.raises(DeploymentError, match=r"refusing to serve: the audit trail in postgresql://.*edited"):
                refused.start()
    finally:
        decisions.close()
