"""The audit trail: append-only, every record holding the hash of the one before it.

Each record's ``hash`` is the sha256 of the previous record's hash and this record's canonical JSON, so
editing, deleting, inserting or reordering any record breaks the chain at a point ``verify`` names. A head
file holds the count and the last hash, so cutting records off the end is detected too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.paths import registry_store

GENESIS = "0" * 64
FIELDS = ("seq", "time", "actor", "role", "action", "target", "reason", "before", "after", "outcome", "details")


def audit_path() -> Path:
    """Where the trail is (``WORKBENCH_AUDIT`` or ``registry_store/governance/audit.jsonl``)."""
    configured = os.environ.get("WORKBENCH_AUDIT")
    return Path(configured).expanduser() if configured else registry_store() / "governance" / "audit.jsonl"


def _digest(previous: str, record: dict[str, Any]) -> str:
    body = json.dumps({k: record.get(k) for k in FIELDS}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((previous + body).encode("utf-8")).hexdigest()


@dataclass
class Problem:
    """One place where the trail does not verify."""

    line: int
    seq: int | None
    kind: str
    message: str


class AuditTrail:
    """Append-only, hash-chained log of every governance action, accepted or refused."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or audit_path()
        self.head_path = self.path.with_suffix(".head.json")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _head(self) -> dict[str, Any]:
        if not self.head_path.is_file():
            return {"count": 0, "hash": GENESIS}
        return json.loads(self.head_path.read_text("utf-8"))

    def append(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str,
        reason: str,
        before: str | None,
        after: str | None,
        outcome: str,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add one record at the end of the chain; returns it with its sequence number and hash."""
        with self._locked():
            head = self._head()
            record = {
                "seq": head["count"] + 1,
                "time": datetime.now(UTC).isoformat(timespec="microseconds"),
                "actor": actor,
                "role": role,
                "action": action,
                "target": target,
                "reason": reason,
                "before": before,
                "after": after,
                "outcome": outcome,
                "details": details or {},
            }
            record["prev_hash"] = head["hash"]
            record["hash"] = _digest(head["hash"], record)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            temporary = self.head_path.with_suffix(".tmp")
            temporary.write_text(json.dumps({"count": record["seq"], "hash": record["hash"]}), "utf-8")
            temporary.replace(self.head_path)
            return record

    def records(self, target_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every readable record, oldest first, optionally only those whose target starts with a prefix."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text("utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if target_prefix is None or str(record.get("target", "")).startswith(target_prefix):
                out.append(record)
        return out

    def history(self, name: str, version: int | str) -> list[dict[str, Any]]:
        """One version's records as table rows (time, actor, role, action, change, outcome, reason, refusal)."""
        target = f"{name}/{version}"
        return [
            {
                "seq": r["seq"],
                "time": r["time"][:19],
                "actor": r["actor"],
                "role": r["role"],
                "action": r["action"],
                "change": f"{r['before']} -> {r['after']}",
                "outcome": r["outcome"],
                "reason": r["reason"],
                "refusal": r["details"].get("refusal", ""),
            }
            for r in self.records(target)
            if r["target"] == target
        ]

    def verify(self) -> list[Problem]:
        """Every break in the chain: edited, deleted, inserted or reordered records, and a cut-off end."""
        problems: list[Problem] = []
        previous, expected_seq, last_seq = GENESIS, 1, 0
        lines = self.path.read_text("utf-8").splitlines() if self.path.is_file() else []
        parsed: list[dict[str, Any] | None] = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                parsed.append(None)
        for number, record in enumerate(parsed, start=1):
            if record is None:
                problems.append(Problem(number, None, "unreadable", f"line {number} is not a JSON record"))
                continue
            seq = record.get("seq")
            later = {r.get("seq") for r in parsed[number:] if r is not None}
            if record.get("hash") != _digest(record.get("prev_hash", ""), record):
                problems.append(
                    Problem(
                        number,
                        seq,
                        "edited",
                        f"record {seq} (line {number}) was edited: its content does not match its hash",
                    )
                )
            if seq != expected_seq:
                if isinstance(seq, int) and seq == last_seq:
                    kind, message = "inserted", f"line {number} repeats record number {seq} (inserted)"
                elif isinstance(seq, int) and seq < last_seq:
                    kind, message = (
                        "reordered",
                        f"record {seq} at line {number} is out of order (after record {last_seq})",
                    )
                elif isinstance(seq, int) and any(s in later for s in range(expected_seq, seq)):
                    kind, message = "reordered", f"record {seq} at line {number} comes before record {expected_seq}"
                elif isinstance(seq, int) and seq > expected_seq:
                    kind = "deleted"
                    message = f"record(s) {expected_seq}..{seq - 1} are missing before line {number} (deleted)"
                else:
                    kind, message = "inserted", f"line {number} holds an unexpected record {seq} (inserted)"
                problems.append(Problem(number, seq, kind, message))
            elif record.get("prev_hash") != previous and not (problems and problems[-1].line == number - 1):
                problems.append(
                    Problem(
                        number,
                        seq,
                        "inserted",
                        f"record {seq} (line {number}) does not follow the record before it: "
                        "a record was inserted or replaced",
                    )
                )
            previous = record.get("hash", "")
            if isinstance(seq, int):
                last_seq = max(last_seq, seq)
                expected_seq = last_seq + 1
        head = self._head()
        count = len(lines)
        if head["count"] != last_seq or head["hash"] != previous:
            if head["count"] > last_seq:
                problems.append(
                    Problem(
                        count,
                        None,
                        "deleted",
                        f"the trail ends at record {last_seq} but {head['count']} were written: "
                        "records were cut off the end",
                    )
                )
            elif not problems:
                problems.append(Problem(count, None, "head", "the last record does not match the trail's head"))
        return problems
