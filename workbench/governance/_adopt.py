"""Adopting a trail written before records were keyed: its old sha256 chain is checked, its records are signed
under the audit key, and the registry's lifecycle state at adoption is recorded as the trail's starting point.

Older trails chained records with a plain sha256 and did not state the registry change each record made, so
their records cannot say what the registry should show. Adoption therefore records, per version, the
governed tags and aliases the registry holds at that moment (``adopt_registry_state``): from then on the trail
decides. Refused when the old chain does not verify, so a tampered history is never blessed.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from workbench.governance._audit import GENESIS, AuditIntegrityError, AuditTrail, _canonical
from workbench.governance._keys import create_key
from workbench.governance._state import GOVERNED_TAGS, REGISTERED_TAGS
from workbench.governance._version_store import VersionStore

_LEGACY_FIELDS = ("seq", "time", "actor", "role", "action", "target", "reason", "before", "after", "outcome", "details")


def _legacy_digest(previous: str, record: dict[str, Any]) -> str:
    body = json.dumps({k: record.get(k) for k in _LEGACY_FIELDS}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous + body).encode("utf-8")).hexdigest()


def is_legacy(trail: AuditTrail) -> bool:
    """True when the trail holds records and none of them names a key (written before records were keyed)."""
    records = trail.records()
    return bool(records) and all("key_id" not in r for r in records)


def adopt(trail: AuditTrail, store: VersionStore, actor: str) -> int:
    """Sign a legacy trail under the audit key and record the registry's state; returns the records adopted."""
    records = trail.records()
    previous = GENESIS
    for number, record in enumerate(records, start=1):
        if record.get("seq") != number or record.get("prev_hash") != previous:
            raise AuditIntegrityError(f"{trail.path}: record {number} breaks the old chain; not adopted")
        if record.get("hash") != _legacy_digest(previous, record):
            raise AuditIntegrityError(f"{trail.path}: record {number} was edited; not adopted")
        previous = record["hash"]
    create_key(trail.path)
    ring = trail.keyring()
    signed, previous = [], GENESIS
    for record in records:
        legacy = record["hash"]
        record = {k: v for k, v in record.items() if k != "hash"}
        record.update(prev_hash=previous, key_id=ring.current_id, legacy_hash=legacy)
        record["hash"] = ring.mac(_canonical(record))
        signed.append(record)
        previous = record["hash"]
    temporary = trail.path.with_suffix(".adopted")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r, sort_keys=True, default=str) + "\n" for r in signed)
        handle.flush()
        os.fsync(handle.fileno())
    with trail.lock():
        temporary.replace(trail.path)
        trail._write_head(len(signed), previous)
    for name in sorted({n for n, _ in store.versions()}):
        holders = {alias: store.alias_holder(name, alias) for alias in ("champion", "challenger")}
        for _, version in store.versions(name):
            tags = store.tags(name, version)
            kept = {k: v for k, v in tags.items() if k in GOVERNED_TAGS or k in REGISTERED_TAGS}
            aliases = {alias: version for alias, holder in holders.items() if holder == version}
            record = trail.append(
                actor=actor,
                role="admin",
                action="adopt_registry_state",
                target=f"{name}/{version}",
                reason="the registry's state when the trail was adopted under the audit key",
                before=None,
                after=kept.get("status"),
                outcome="accepted",
                details={"apply": {"tags": kept, **({"aliases": aliases} if aliases else {})}},
            )
            store.set_anchor(name, int(record["seq"]), str(record["hash"]))
    return len(signed)
