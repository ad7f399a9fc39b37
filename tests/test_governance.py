"""Lifecycle rules under random action sequences, and a tamper-evident audit trail."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.governance import (
    AuditTrail,
    AuthenticationError,
    GovernanceError,
    GovernanceService,
    InMemoryVersionStore,
    User,
    UserError,
    UserStore,
)

USERS = {
    "dev": ["developer"],
    "dev2": ["developer"],
    "val": ["validator"],
    "val2": ["validator"],
    "app": ["approver"],
    "app2": ["approver", "validator"],
    "dep": ["deployer"],
    "adm": ["admin"],
    "all": ["developer", "validator", "approver", "deployer"],
}


def user(name: str) -> User:
    return User(name=name, roles=USERS[name], salt="", secret_hash="")


def new_service(tmp_path, database: str | None = None) -> tuple[GovernanceService, InMemoryVersionStore, AuditTrail]:
    """A service over an in-memory registry and a trail in a file, or in PostgreSQL when ``database`` is a URL."""
    store = InMemoryVersionStore()
    store.add("m", 1, {"status": "development", "developed_by": "dev", "model_sha256": "a" * 64}, "a" * 64)
    store.add("m", 2, {"status": "development", "developed_by": "all", "model_sha256": "b" * 64}, "b" * 64)
    if database:
        from workbench.governance._trail_postgres import PostgresTrail

        audit = AuditTrail(tmp_path / "audit.jsonl", storage=PostgresTrail(database))
    else:
        audit = AuditTrail(tmp_path / "audit.jsonl")
    return GovernanceService(store, audit), store, audit


@pytest.fixture(params=["file", "postgres"])
def database(request) -> str | None:
    """Where the trail of a test that runs against both stores lives: None (a file) or a PostgreSQL URL."""
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else None


def act(service: GovernanceService, action: str, who: str, version: int, reason: str) -> None:
    u = user(who)
    if action == "validate_ok":
        service.record_validation(u, "m", version, "validated", reason, {"high": 0, "medium": 1, "low": 2})
    elif action == "validate_findings":
        service.record_validation(u, "m", version, "findings open", reason, {"high": 2, "medium": 0, "low": 0})
    elif action == "approve":
        service.approve(u, "m", version, reason, conditions="monthly monitoring")
    elif action == "approve_override":
        service.approve(u, "m", version, reason, override_justification="business critical; findings accepted")
    elif action == "reject":
        service.reject(u, "m", version, reason)
    elif action in ("champion", "challenger"):
        service.promote(u, "m", version, action, reason)
    elif action == "archive":
        service.archive(u, "m", version, reason)
    elif action == "review":
        service.mark_under_review(u, "m", version, reason)
    elif action == "tamper":
        service.store.tamper("m", version, "f" * 64)


ROLE_OF = {
    "validate_ok": "validator",
    "validate_findings": "validator",
    "approve": "approver",
    "approve_override": "approver",
    "reject": "approver",
    "champion": "deployer",
    "challenger": "deployer",
    "archive": "deployer",
    "review": "validator",
    "tamper": "admin",
}


WEIGHTED = (
    ["validate_ok", "approve", "champion"] * 4
    + ["challenger", "approve_override"] * 2
    + ["validate_findings", "reject", "archive", "review", "tamper"]
)


@st.composite
def actions(draw):
    """Mostly plausible requests (a holder of the role, a reason) so that sequences do reach production."""
    action = draw(st.sampled_from(WEIGHTED))
    holders = sorted(name for name, roles in USERS.items() if ROLE_OF[action] in roles)
    who = draw(st.sampled_from(holders) if draw(st.integers(0, 9)) < 8 else st.sampled_from(sorted(USERS)))
    version = draw(st.sampled_from([1, 1, 2, 3]))
    reason = draw(st.sampled_from(["reviewed the evidence"] * 8 + ["", "   "]))
    return action, who, version, reason


ACTIONS = actions()


HAPPY_PATH = [("validate_ok", "val", 1, "passed"), ("approve", "app", 1, "fit"), ("champion", "dep", 1, "go")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ACTIONS, min_size=5, max_size=30), st.booleans())
def test_random_sequences_never_deploy_without_three_distinct_people(tmp_path_factory, sequence, deployed_first):
    """Half the sequences start from a deployed champion, so the rest of the sequence attacks a live model."""
    sequence = (HAPPY_PATH if deployed_first else []) + sequence
    service, store, audit = new_service(tmp_path_factory.mktemp("gov"))
    for action, who, version, reason in sequence:
        before = len(audit.records())
        try:
            act(service, action, who, version, reason)
        except GovernanceError:
            pass
        if action != "tamper":
            records = audit.records()
            assert len(records) >= before + 1
            assert records[before]["actor"] == who and records[before]["target"] == f"m/{version}"
        for name, number in store.versions():
            tags = store.tags(name, number)
            deployed = tags.get("status") in ("production", "challenger") or number in (
                store.alias_holder(name, "champion"),
                store.alias_holder(name, "challenger"),
            )
            if deployed:
                people = {tags.get("developed_by"), tags.get("validated_by"), tags.get("approved_by")}
                assert None not in people and len(people) == 3, tags
                assert tags["approved_model_sha256"] == tags["model_sha256"]
    assert audit.verify() == []


def test_each_action_leaves_exactly_one_record_except_replacement(tmp_path, database):
    service, store, audit = new_service(tmp_path, database)
    act(service, "validate_ok", "val", 1, "suite passed")
    act(service, "approve", "app", 1, "fit for use")
    act(service, "champion", "dep", 1, "go live")
    assert [r["action"] for r in audit.records()] == ["validate", "approve", "promote_champion"]
    assert store.tags("m", 1)["status"] == "production" and store.alias_holder("m", "champion") == 1


def test_segregation_of_duties_refusals_are_recorded(tmp_path, database):
    service, store, audit = new_service(tmp_path, database)
    with pytest.raises(GovernanceError, match="all developed m/2 and cannot validate it"):
        act(service, "validate_ok", "all", 2, "my own model")
    act(service, "validate_ok", "app2", 1, "suite passed")
    with pytest.raises(GovernanceError, match="app2 validated m/1 and cannot approve it"):
        act(service, "approve", "app2", 1, "looks fine")
    with pytest.raises(GovernanceError, match="dev does not hold the approver role"):
        act(service, "approve", "dev", 1, "ship it")
    with pytest.raises(GovernanceError, match="reason: a written reason is required"):
        act(service, "approve", "app", 1, " ")
    refused = [r for r in audit.records() if r["outcome"] == "refused"]
    assert len(refused) == 4 and all(r["details"]["refusal"] for r in refused)
    assert store.tags("m", 1)["status"] == "validated"


def test_only_validated_versions_are_approved_unless_overridden(tmp_path):
    service, store, audit = new_service(tmp_path)
    with pytest.raises(GovernanceError, match="m/1 is development; approve needs one of: validated"):
        act(service, "approve", "app", 1, "ok")
    act(service, "approve_override", "app", 1, "urgent regulatory deadline")
    tags = store.tags("m", 1)
    assert tags["status"] == "approved" and tags["override_finding"].startswith("high")
    assert audit.records()[-1]["details"]["finding"]["severity"] == "high"
    with pytest.raises(GovernanceError, match="no recorded independent validation"):
        act(service, "champion", "dep", 1, "go live")


def test_deployment_checks_the_approved_artefact(tmp_path):
    service, store, _ = new_service(tmp_path)
    act(service, "validate_ok", "val", 1, "passed")
    act(service, "approve", "app", 1, "fit")
    store.tamper("m", 1, "e" * 64)
    with pytest.raises(GovernanceError, match="is not the approved"):
        act(service, "champion", "dep", 1, "go live")


def test_new_champion_archives_the_old_one(tmp_path, database):
    service, store, audit = new_service(tmp_path, database)
    store.add("m", 3, {"status": "development", "developed_by": "dev2", "model_sha256": "c" * 64}, "c" * 64)
    for version in (1, 3):
        act(service, "validate_ok", "val", version, "passed")
        act(service, "approve", "app", version, "fit")
    act(service, "champion", "dep", 1, "first")
    act(service, "challenger", "dep", 3, "try it")
    act(service, "champion", "dep", 3, "challenger won")
    assert store.alias_holder("m", "champion") == 3 and store.alias_holder("m", "challenger") is None
    assert store.tags("m", 1)["status"] == "archived" and store.tags("m", 3)["status"] == "production"
    assert audit.records()[-1]["action"] == "replaced_as_champion"


# ---- the audit trail ----------------------------------------------------------------------------------------


@pytest.fixture
def trail(tmp_path):
    audit = AuditTrail(tmp_path / "audit.jsonl")
    for i in range(6):
        audit.append(
            actor=f"user{i}",
            role="validator",
            action="validate",
            target="m/1",
            reason=f"reason {i}",
            before="development",
            after="validated",
            outcome="accepted",
        )
    return audit


def _lines(audit):
    return audit.path.read_text().splitlines()


def _write(audit, lines):
    audit.path.write_text("\n".join(lines) + "\n")


def test_intact_trail_verifies(trail):
    assert trail.verify() == []


def test_edit_is_detected(trail):
    lines = _lines(trail)
    record = json.loads(lines[2])
    record["reason"] = "nothing to see"
    lines[2] = json.dumps(record, sort_keys=True)
    _write(trail, lines)
    assert [(p.kind, p.seq) for p in trail.verify()] == [("edited", 3)]


def test_deletion_is_detected(trail):
    lines = _lines(trail)
    del lines[3]
    _write(trail, lines)
    problems = trail.verify()
    assert problems[0].kind == "deleted" and "record(s) 4..4 are missing" in problems[0].message


def test_deleting_the_last_record_is_detected(trail):
    _write(trail, _lines(trail)[:-1])
    problems = trail.verify()
    assert problems and problems[-1].kind == "deleted" and "cut off the end" in problems[-1].message


def test_insertion_is_detected(trail):
    lines = _lines(trail)
    forged = json.loads(lines[2])
    forged.update(reason="forged approval", action="approve")
    lines.insert(3, json.dumps(forged, sort_keys=True))
    _write(trail, lines)
    problems = trail.verify()
    assert [(p.kind, p.line) for p in problems] == [("edited", 4), ("inserted", 4)]


def test_reordering_is_detected(trail):
    lines = _lines(trail)
    lines[1], lines[4] = lines[4], lines[1]
    _write(trail, lines)
    problems = trail.verify()
    assert {p.kind for p in problems} == {"reordered"}
    assert problems[0].line == 2 and "comes before record 2" in problems[0].message


def test_users_store_hashes_and_authenticates(tmp_path):
    users = UserStore(tmp_path / "users.json")
    users.add("helen", ["approver"], "correct horse battery")
    text = (tmp_path / "users.json").read_text()
    assert "correct horse battery" not in text and "secret_hash" in text
    assert users.authenticate("helen", "correct horse battery").has("approver")
    with pytest.raises(AuthenticationError):
        users.authenticate("helen", "wrong password!")
    with pytest.raises(AuthenticationError):
        users.authenticate("nobody", "whatever123")
    with pytest.raises(UserError, match="role: judge is not a role"):
        users.add("bob", ["judge"], "long enough secret")
    with pytest.raises(UserError, match="already exists"):
        users.add("helen", ["approver"], "another secret")
    with pytest.raises(UserError, match="at least 8"):
        users.add("tim", ["developer"], "short")
    users.remove("helen")
    assert users.list() == []


def test_a_high_finding_withdraws_validation(tmp_path, database):
    service, store, audit = new_service(tmp_path, database)
    act(service, "validate_ok", "val", 1, "passed")
    with pytest.raises(GovernanceError, match="remediation: a finding needs"):
        service.add_finding(user("val"), "m", 1, "high", "reason codes unstable", "")
    service.add_finding(user("val"), "m", 1, "high", "reason codes unstable", "re-estimate with more data")
    tags = store.tags("m", 1)
    assert tags["status"] == "under_review" and tags["open_findings_high"] == "1"
    assert audit.records()[-1]["details"]["finding"]["title"] == "reason codes unstable"
    with pytest.raises(GovernanceError, match="approve needs one of: validated"):
        act(service, "approve", "app", 1, "fine")


def test_inventory_flags_overdue_reviews(tmp_path):
    from datetime import UTC, datetime

    from mlflow import MlflowClient

    from workbench.governance import inventory

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("credit")
    cases = [
        {"risk_tier": "1", "status": "production", "validation_date": "2025-09-01T00:00:00+00:00"},  # 12 m: overdue
        {"risk_tier": "3", "status": "production", "validation_date": "2025-09-01T00:00:00+00:00"},  # 36 m: fine
        {"risk_tier": "2", "status": "approved"},  # in use, never validated: overdue
        {"risk_tier": "2", "status": "development"},  # not in use, not due
    ]
    for tags in cases:
        client.create_model_version("credit", source=str(tmp_path), tags=tags)
    table = inventory(client, now=datetime(2026, 11, 23, tzinfo=UTC)).set_index("version")
    assert table.loc[1, "next_review_due"] == "2026-09-01" and table.loc[1, "overdue"]
    assert table.loc[2, "next_review_due"] == "2028-09-01" and not table.loc[2, "overdue"]
    assert table.loc[3, "next_review_due"] == "now" and table.loc[3, "overdue"]
    assert not table.loc[4, "overdue"]
    assert [table.loc[v, "artefact"] for v in (1, 2, 3, 4)] == ["present"] * 3 + [""]  # checked for versions in use


def test_inventory_names_a_version_in_use_whose_artefact_is_gone(tmp_path):
    import shutil

    from mlflow import MlflowClient

    from workbench.governance import inventory

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("credit")
    artefact = tmp_path / "artefact"
    artefact.mkdir()
    (artefact / "model.skops").write_bytes(b"model")
    client.create_model_version("credit", source=str(artefact), tags={"status": "production"})
    assert inventory(client).loc[0, "artefact"] == "present"
    shutil.rmtree(artefact)
    assert inventory(client).loc[0, "artefact"] == "missing"
