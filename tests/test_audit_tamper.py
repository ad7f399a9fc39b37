"""The keyed, anchored audit trail against someone who can edit its files but does not hold the audit key.

Each case is one way of tampering found when the trail was a plain hash chain: every one must be reported by
``verify`` (with the registry's anchors, as ``workbench audit verify`` passes them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil

import pytest

from workbench.governance import AuditTrail, GovernanceError, GovernanceService, InMemoryVersionStore, User
from workbench.governance._audit import GENESIS, _canonical
from workbench.governance._keys import key_id, key_path

PEOPLE = {"dev": ["developer"], "val": ["validator"], "app": ["approver"], "dep": ["deployer"]}


def person(name: str) -> User:
    return User(name=name, roles=PEOPLE[name], salt="", secret_hash="")


def governed(tmp_path):
    """A trail of real actions on two versions (accepted and refused), with the store's anchors."""
    store = InMemoryVersionStore()
    store.add("m", 1, {"status": "development", "developed_by": "dev", "model_sha256": "a" * 64}, "a" * 64)
    store.add("m", 2, {"status": "development", "developed_by": "dev", "model_sha256": "b" * 64}, "b" * 64)
    trail = AuditTrail(tmp_path / "registry_store" / "governance" / "audit.jsonl")
    service = GovernanceService(store, trail)
    service.register(person("dev"), "m", 1)
    service.record_validation(person("val"), "m", 1, "validated", "suite passed", {"high": 0})
    service.approve(person("app"), "m", 1, "fit for use")
    with pytest.raises(GovernanceError):
        service.approve(person("app"), "m", 2, "not validated yet")
    service.add_finding(person("val"), "m", 2, "low", "thin bins", "merge bins")
    service.promote(person("dep"), "m", 1, "champion", "go live")
    return service, store, trail


def lines(trail):
    return trail.path.read_text().splitlines()


def write(trail, rows):
    trail.path.write_text("".join(row + "\n" for row in rows))


def sign_with(key: bytes, record: dict) -> str:
    return hmac.new(key, _canonical(record).encode(), hashlib.sha256).hexdigest()


def rechain(trail, records, key: bytes, identity: str | None = None) -> None:
    """What an attacker with file access can do: rewrite every hash and the head, with a key of their own."""
    previous = GENESIS
    for record in records:
        record["prev_hash"] = previous
        if identity:
            record["key_id"] = identity
        record["hash"] = sign_with(key, record)
        previous = record["hash"]
    write(trail, [json.dumps(r, sort_keys=True) for r in records])
    count = records[-1]["seq"] if records else 0
    ident = identity or (records[-1]["key_id"] if records else "")
    mac = hmac.new(key, f"head|{count}|{previous}".encode(), hashlib.sha256).hexdigest()
    trail.head_path.write_text(json.dumps({"count": count, "hash": previous, "key_id": ident, "mac": mac}))


def forged_record(trail, tmp_path):
    records = [json.loads(row) for row in lines(trail)]
    forged = dict(records[2], seq=len(records) + 1, action="approve", target="m/2", actor="app")
    rechain(trail, [*records, forged], secrets.token_bytes(32))


def edited_record_later_rechained(trail, tmp_path):
    records = [json.loads(row) for row in lines(trail)]
    records[1]["actor"] = "mallory"
    rechain(trail, records, secrets.token_bytes(32))


def last_line_removed_head_adjusted(trail, tmp_path):
    records = [json.loads(row) for row in lines(trail)][:-1]
    write(trail, [json.dumps(r, sort_keys=True) for r in records])
    head = {"count": records[-1]["seq"], "hash": records[-1]["hash"], "key_id": records[-1]["key_id"], "mac": "0" * 64}
    trail.head_path.write_text(json.dumps(head))


def unhashed_extra_key(trail, tmp_path):
    rows = lines(trail)
    record = json.loads(rows[2])
    record["override"] = "approved by the board"
    rows[2] = json.dumps(record, sort_keys=True)
    write(trail, rows)


def both_files_deleted(trail, tmp_path):
    trail.path.unlink()
    trail.head_path.unlink()


def emptied_file_head_reset(trail, tmp_path):
    trail.path.write_text("")
    trail.head_path.write_text(json.dumps({"count": 0, "hash": GENESIS, "key_id": "", "mac": ""}))


def reordered_lines(trail, tmp_path):
    rows = lines(trail)
    rows[1], rows[3] = rows[3], rows[1]
    write(trail, rows)


def duplicated_line(trail, tmp_path):
    rows = lines(trail)
    write(trail, rows[:3] + [rows[2]] + rows[3:])


def changed_sequence_number(trail, tmp_path):
    rows = lines(trail)
    record = json.loads(rows[-1])
    record["seq"] += 5
    rows[-1] = json.dumps(record, sort_keys=True)
    write(trail, rows)


def everything_resigned_with_another_key(trail, tmp_path):
    key = secrets.token_bytes(32)
    rechain(trail, [json.loads(row) for row in lines(trail)], key, key_id(key))


def truncated_line(trail, tmp_path):
    rows = lines(trail)
    rows[2] = rows[2][: len(rows[2]) // 2]
    write(trail, rows)


def non_json_line(trail, tmp_path):
    rows = lines(trail)
    write(trail, rows[:2] + ["approved m/2 by helen"] + rows[2:])


def middle_record_deleted(trail, tmp_path):
    rows = lines(trail)
    write(trail, rows[:2] + rows[3:])


def head_file_deleted(trail, tmp_path):
    trail.head_path.unlink()


def trail_replaced_by_an_older_copy(trail, tmp_path):
    shutil.copy(tmp_path / "older.jsonl", trail.path)
    shutil.copy(tmp_path / "older.head.json", trail.head_path)


def trail_of_another_project(trail, tmp_path):
    other = tmp_path / "other"
    _, _, foreign = governed(other)
    shutil.copy(foreign.path, trail.path)
    shutil.copy(foreign.head_path, trail.head_path)


CASES = [
    forged_record,
    edited_record_later_rechained,
    last_line_removed_head_adjusted,
    unhashed_extra_key,
    both_files_deleted,
    emptied_file_head_reset,
    reordered_lines,
    duplicated_line,
    changed_sequence_number,
    everything_resigned_with_another_key,
    truncated_line,
    non_json_line,
    middle_record_deleted,
    head_file_deleted,
    trail_replaced_by_an_older_copy,
    trail_of_another_project,
]


def test_the_untouched_trail_verifies_against_its_anchors(tmp_path):
    _, store, trail = governed(tmp_path)
    assert trail.verify(store.anchors()) == []
    assert store.anchors()["m"] == (trail.records()[-1]["seq"], trail.records()[-1]["hash"])
    assert key_path(trail.path) == tmp_path / "secrets" / "audit.key"
    assert "registry_store" not in str(key_path(trail.path).relative_to(tmp_path))


@pytest.mark.parametrize("tamper", CASES, ids=[case.__name__ for case in CASES])
def test_each_tampering_is_detected(tmp_path, tamper):
    service, store, trail = governed(tmp_path)
    if tamper is trail_replaced_by_an_older_copy:
        shutil.copy(trail.path, tmp_path / "older.jsonl")
        shutil.copy(trail.head_path, tmp_path / "older.head.json")
        service.archive(person("dep"), "m", 2, "not needed")
    tamper(trail, tmp_path)
    problems = AuditTrail(trail.path).verify(store.anchors())
    assert problems, f"{tamper.__name__} was not detected"
    assert all(p.message for p in problems)


def test_a_tampered_trail_refuses_further_actions(tmp_path):
    service, store, trail = governed(tmp_path)
    last_line_removed_head_adjusted(trail, tmp_path)
    with pytest.raises(GovernanceError, match="does not verify .*the head was rewritten"):
        service.archive(person("dep"), "m", 2, "tidy up")
    assert store.tags("m", 2)["status"] == "development"


def test_key_rotation_keeps_old_records_verifiable(tmp_path):
    from workbench.governance._keys import rotate_key

    service, store, trail = governed(tmp_path)
    old, new = rotate_key(trail.path)
    assert old != new and (tmp_path / "secrets" / f"audit.key.{old}").is_file()
    fresh = AuditTrail(trail.path)
    GovernanceService(store, fresh).archive(person("dep"), "m", 2, "after the rotation")
    records = fresh.records()
    assert records[0]["key_id"] == old and records[-1]["key_id"] == new
    assert AuditTrail(trail.path).verify(store.anchors()) == []


def test_a_missing_key_is_named_and_nothing_is_written(tmp_path):
    service, store, trail = governed(tmp_path)
    (tmp_path / "secrets" / "audit.key").unlink()
    before = trail.path.read_bytes()
    with pytest.raises(GovernanceError, match="audit.key: the audit key is missing"):
        GovernanceService(store, AuditTrail(trail.path)).archive(person("dep"), "m", 2, "tidy up")
    assert trail.path.read_bytes() == before
    assert AuditTrail(trail.path).verify()[0].kind == "key"


def test_a_deleted_trail_is_not_started_afresh(tmp_path):
    service, store, trail = governed(tmp_path)
    both_files_deleted(trail, tmp_path)
    with pytest.raises(GovernanceError, match="anchor on 'm' names audit record 6"):
        service.archive(person("dep"), "m", 2, "tidy up")
    assert not trail.path.exists() and store.tags("m", 2)["status"] == "development"


def test_documents_carry_the_head(tmp_path):
    _, _, trail = governed(tmp_path)
    rows = trail.history("m", 1, with_head=True)
    count, last = trail.head()
    assert rows[-1]["action"] == "audit head" and rows[-1]["seq"] == count == 6 and last in rows[-1]["reason"]
    assert trail.history("m", 9, with_head=True) == []


def test_an_emptied_trail_with_its_head_reset_takes_no_new_records(tmp_path):
    from workbench.governance import UserError, UserStore

    _, _, trail = governed(tmp_path)
    emptied_file_head_reset(trail, tmp_path)
    users = UserStore(trail.path.parent / "users.json", AuditTrail(trail.path))
    with pytest.raises(UserError, match="the trail is empty but its head names 0 record"):
        users.add("eve", ["admin"], "long enough secret")
    assert trail.path.read_text() == "" and not users.path.exists()


def _legacy_trail(path, n: int = 3) -> None:
    """A trail as written before records were keyed: a plain sha256 chain."""
    from workbench.governance._adopt import _legacy_digest

    path.parent.mkdir(parents=True, exist_ok=True)
    previous, lines = GENESIS, []
    for seq in range(1, n + 1):
        record = dict(seq=seq, time="2026-11-01T00:00:00", actor="helen", role="approver", action="approve")
        record.update(target="m/1", reason="fit", before="validated", after="approved", outcome="accepted")
        record.update(details={}, prev_hash=previous)
        record["hash"] = previous = _legacy_digest(previous, record)
        lines.append(json.dumps(record, sort_keys=True))
    path.write_text("".join(line + "\n" for line in lines))
    path.with_suffix(".head.json").write_text(json.dumps({"count": n, "hash": previous}))


def test_a_legacy_trail_is_adopted_with_the_registry_state_as_its_start(tmp_path):
    from workbench.governance import adopt, is_legacy, reconcile

    store = InMemoryVersionStore()
    store.add("m", 1, {"status": "production", "developed_by": "dev", "approved_by": "app", "model_sha256": "a" * 64})
    store.set_alias("m", "champion", 1)
    trail = AuditTrail(tmp_path / "registry_store" / "governance" / "audit.jsonl")
    _legacy_trail(trail.path)
    service = GovernanceService(store, trail)
    with pytest.raises(GovernanceError, match="written before records were keyed: an admin adopts it"):
        service.archive(person("dep"), "m", 1, "retire")
    assert is_legacy(trail) and adopt(trail, store, "ada") == 3
    assert trail.verify(store.anchors()) == [] and reconcile(store, trail) == []
    assert service.state("m").aliases == {"champion": 1}
    service.archive(person("dep"), "m", 1, "retire")
    assert store.tags("m", 1)["status"] == "archived" and store.alias_holder("m", "champion") is None


def test_a_tampered_legacy_trail_is_not_adopted(tmp_path):
    from workbench.governance import AuditIntegrityError, adopt

    trail = AuditTrail(tmp_path / "audit.jsonl")
    _legacy_trail(trail.path)
    trail.path.write_text(trail.path.read_text().replace('"actor": "helen"', '"actor": "eve"', 1))
    with pytest.raises(AuditIntegrityError, match="record 1 was edited; not adopted"):
        adopt(trail, InMemoryVersionStore(), "ada")
