"""The audit trail: append-only, keyed, chained and anchored; the system of record of every governance action.

Each record carries the hash of the one before it and an HMAC-SHA256 over all of its own fields under the
audit key (:mod:`workbench.governance._keys`), which the registry's files do not hold: whoever can edit the
files can delete or reorder lines, but cannot write a record, or recompute a chain, that verifies. A head file
holds the count and the last hash (also authenticated), so cutting records off the end is detected; the
registered model in MLflow holds the sequence number and hash of its own latest record (its anchor), so
deleting, emptying or replacing the whole trail is detected as well.

The chain format and the checks are domain logic (what a record means, which break is which) and are written
here, once. Where the records are kept is a store behind a small interface (:mod:`._trail_storage`): a file with
``filelock`` and ``fsync`` by default, or PostgreSQL when ``WORKBENCH_DATABASE_URL`` names one
(:mod:`._trail_postgres`: insert-only for the application, an advisory lock per model).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.governance._keys import AuditKeyError, Keyring, create_key, load_keyring
from workbench.governance._trail_file import FileTrail
from workbench.governance._trail_storage import Line as _Line
from workbench.governance._trail_storage import TrailStorage
from workbench.paths import registry_store

GENESIS = "0" * 64
FIELDS = ("seq", "time", "actor", "role", "action", "target", "reason", "before", "after", "outcome", "details")
#: The registered-model tag holding "<seq>:<hash>" of the model's latest record (the anchor).
ANCHOR_TAG = "workbench.audit_anchor"


class AuditIntegrityError(RuntimeError):
    """The trail cannot be appended to: it does not verify, cannot be written, or its key is missing."""


#: a ``postgresql://`` URL here keeps the trail (and the decisions) in that database
DATABASE_ENV = "WORKBENCH_DATABASE_URL"


def audit_path() -> Path:
    """Where the file trail is (``WORKBENCH_AUDIT`` or ``registry_store/governance/audit.jsonl``); a trail kept
    in PostgreSQL derives its key's default location from this path too."""
    configured = os.environ.get("WORKBENCH_AUDIT")
    return Path(configured).expanduser() if configured else registry_store() / "governance" / "audit.jsonl"


def trail_database_url() -> str | None:
    """The PostgreSQL URL the trail lives in (``WORKBENCH_DATABASE_URL``), or None for the file trail."""
    url = os.environ.get(DATABASE_ENV, "").strip()
    return url if url.startswith(("postgresql://", "postgres://")) else None


def open_storage(path: Path | None = None) -> TrailStorage:
    """The trail's store: the file ``path`` when given, else PostgreSQL when ``WORKBENCH_DATABASE_URL`` names
    one, else the project's file."""
    url = None if path else trail_database_url()
    if url:
        from workbench.governance._trail_postgres import PostgresTrail

        return PostgresTrail(url)
    return FileTrail(Path(path) if path else audit_path())


def _canonical(record: Mapping[str, Any]) -> str:
    """Every field but the code itself, so that no key can be added, removed or changed unnoticed."""
    return json.dumps(
        {k: v for k, v in record.items() if k != "hash"}, sort_keys=True, separators=(",", ":"), default=str
    )


@dataclass
class Problem:
    """One place where the trail does not verify."""

    line: int
    seq: int | None
    kind: str
    message: str


class AuditTrail:
    """Append-only, keyed, hash-chained log of every governance action, accepted or refused."""

    def __init__(
        self, path: Path | None = None, keyring: Keyring | None = None, storage: TrailStorage | None = None
    ) -> None:
        self.storage = storage or open_storage(path)
        #: the file trail's path; a database trail's key is found from the project's default path
        self.path = getattr(self.storage, "path", None) or (Path(path) if path else audit_path())
        self.head_path = getattr(self.storage, "head_path", None)
        self.where = self.storage.where
        self._keyring = keyring
        self.repairs: list[str] = []  # what the last append repaired (an unfinished write, a lagging head)
        self._verified_stamp: tuple | None = None

    # --- the key --------------------------------------------------------------------------------------------

    def keyring(self, *, create: bool = False) -> Keyring:
        """The keys that sign and verify this trail; a brand-new trail may create its key (``create``)."""
        if self._keyring is None:
            if create:
                create_key(self.path)
            self._keyring = load_keyring(self.path)
        return self._keyring

    def _mac(self, record: Mapping[str, Any]) -> str | None:
        return self.keyring().mac(_canonical(record), str(record.get("key_id", "")))

    def _head_mac(self, count: int, last: str, identity: str) -> str | None:
        return self.keyring().mac(f"head|{count}|{last}", identity)

    # --- reading ----------------------------------------------------------------------------------------------

    def _lines(self) -> list[_Line]:
        return self.storage.lines()

    def _head(self) -> dict[str, Any] | None:
        return self.storage.head()

    def file_left_behind(self) -> str:
        """For a database trail: a note naming the project's file trail when one holds records (a project moved
        to PostgreSQL without copying its trail), else ""."""
        if isinstance(self.storage, FileTrail) or not self.path.is_file() or not self.path.stat().st_size:
            return ""
        return (
            f" ({self.path} holds a file trail: the database's owner copies it with `workbench audit migrate-db "
            "--owner-url URL --copy-trail`)"
        )

    def started(self) -> bool:
        """Whether the trail holds a record or a head (a new trail creates its key with its first record)."""
        return self.storage.started()

    def records(self, target_prefix: str | None = None) -> list[dict[str, Any]]:
        """Every readable record, oldest first, optionally only those whose target starts with a prefix."""
        return [
            line.record
            for line in self._lines()
            if line.record is not None
            and (target_prefix is None or str(line.record.get("target", "")).startswith(target_prefix))
        ]

    def verified_records(self, target_prefix: str | None = None) -> list[dict[str, Any]]:
        """The records, only once the whole trail verifies under the audit key (what decisions are made on).

        Raises :class:`AuditIntegrityError` naming the first problem otherwise: a trail that does not verify
        decides nothing. An unfinished last line (a write cut short) is not counted; the next append removes it.
        """
        stamp = self._stamp()
        if stamp is None or stamp != self._verified_stamp:
            try:
                problems = [p for p in self.verify() if p.kind != "unfinished"]
            except OSError as error:
                raise AuditIntegrityError(f"{self.where}: cannot be read ({error.strerror})") from None
            records = self.records()
            if problems and records and all("key_id" not in r for r in records):
                raise AuditIntegrityError(
                    f"{self.where} was written before records were keyed: an admin adopts it with "
                    "`workbench audit adopt --user ADMIN`"
                )
            if problems:
                raise AuditIntegrityError(
                    f"{self.where} does not verify ({problems[0].message}); run `workbench audit verify` and "
                    "restore the trail from its backup"
                )
            self._verified_stamp = stamp  # unchanged files need not be verified again
        return self.records(target_prefix)

    def _stamp(self) -> tuple | None:
        return self.storage.stamp()

    def head(self) -> tuple[int, str]:
        """(count, last hash) of the trail as its last record states them."""
        records = self.records()
        return (int(records[-1]["seq"]), str(records[-1]["hash"])) if records else (0, GENESIS)

    def head_row(self) -> dict[str, Any]:
        """The trail's head (count and last hash) as a history row, so that a document fixes it in time: a trail
        later cut short or replaced no longer holds the record a document names."""
        count, last = self.head()
        return {
            "seq": count,
            "time": datetime.now(UTC).isoformat(timespec="seconds")[:19],
            "actor": "-",
            "role": "-",
            "action": "audit head",
            "change": f"record {count}",
            "outcome": "anchor",
            "reason": f"the trail held {count} records when this was generated; the last hash is {last}",
            "refusal": "",
        }

    def history(self, name: str, version: int | str, with_head: bool = False) -> list[dict[str, Any]]:
        """One version's records as table rows (time, actor, role, action, change, outcome, reason, refusal),
        and the trail's head as a last row with ``with_head`` (for generated documents)."""
        target = f"{name}/{version}"
        rows = [
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
        return rows + [self.head_row()] if with_head and rows else rows

    # --- writing ----------------------------------------------------------------------------------------------

    def lock(self):
        """The trail's lock (re-entrant in one process): appends are serialised across processes."""
        return self.storage.lock()

    def model_lock(self, name: str):
        """One model's lock: a transition holds it from its checks to its registry change."""
        return self.storage.model_lock(name)

    def _write_head(self, count: int, last: str) -> None:
        identity = self.keyring().current_id
        self.storage.write_head(
            {"count": count, "hash": last, "key_id": identity, "mac": self._head_mac(count, last, identity)}
        )

    def _check_end(self, lines: list[_Line]) -> tuple[int, str]:
        """(seq, hash) of the last record after checking it against the head; raises if they disagree."""
        records = [ln.record for ln in lines]
        head = self._head()
        if not records:
            if head is not None and (
                head.get("count", 0) != 0
                or head.get("mac") != self._head_mac(0, str(head.get("hash")), str(head.get("key_id")))
            ):
                raise AuditIntegrityError(
                    f"{self.where}: the trail is empty but its head names {head.get('count')} record(s) or is not "
                    "authenticated; "
                    "run `workbench audit verify` and restore the trail from its backup"
                )
            return 0, GENESIS
        last = records[-1]
        if last is None or self._mac(last) != last.get("hash"):
            raise AuditIntegrityError(
                f"{self.where}: the last record does not verify; run `workbench audit verify` and restore the "
                "trail from its backup"
            )
        seq, last_hash = int(last["seq"]), str(last["hash"])
        if (
            head is None
            or head.get("count", -1) > seq
            or head.get("mac")
            != self._head_mac(int(head.get("count", -1)), str(head.get("hash")), str(head.get("key_id")))
        ):
            raise AuditIntegrityError(
                f"{self.storage.head_where}: the head does not match the trail; run `workbench audit verify`"
            )
        if head["count"] < seq:
            self.repairs.append(f"moved the head of {self.where} from record {head['count']} to {seq}")
            self._write_head(seq, last_hash)
        return seq, last_hash

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
        """Add one record at the end of the chain, durably (fsync), and return it with its number and hash.

        Raises :class:`AuditIntegrityError` and leaves the file as it was when the record cannot be written
        (a full disk, say): the caller has then changed nothing.
        """
        with self.lock():
            self.repairs = []
            lines = self.storage.repair_tail(self._lines(), self.repairs)
            try:
                self.keyring(create=not lines and self._head() is None)
            except AuditKeyError as error:
                raise AuditIntegrityError(str(error)) from None
            seq, previous = self._check_end(lines)
            record: dict[str, Any] = {
                "seq": seq + 1,
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
                "prev_hash": previous,
                "key_id": self.keyring().current_id,
            }
            record["hash"] = self._mac(record)
            line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
            try:
                self.storage.write(line, record)
            except OSError as error:
                raise AuditIntegrityError(
                    f"{self.where}: the audit record could not be written ({error.strerror or error}); nothing was "
                    "changed. Free space on that volume and repeat the command"
                ) from None
            try:
                self._write_head(record["seq"], record["hash"])
            except OSError:
                pass  # the record is durable; the next append moves the head (reported there)
            return record

    # --- verifying --------------------------------------------------------------------------------------------

    def verify(self, anchors: Mapping[str, tuple[int, str]] | None = None) -> list[Problem]:
        """Every break: forged, edited, deleted, inserted, reordered or repeated records, unreadable lines, a
        head that does not match or is not authenticated, and records the registry's anchors name but the trail
        lacks (a trail deleted, emptied, cut short or replaced by an older copy)."""
        problems: list[Problem] = []
        lines = self._lines()
        try:
            self.keyring()
        except AuditKeyError as error:
            if not lines and self._head() is None and not anchors:
                return []  # a trail not started yet: its key comes with its first record
            return [Problem(0, None, "key", str(error))]
        previous, expected_seq, last_seq = GENESIS, 1, 0
        by_seq: dict[int, dict[str, Any]] = {}
        later = Counter(ln.record.get("seq") for ln in lines if ln.record is not None)  # seqs still to come
        for index, line in enumerate(lines):
            number, record = line.number, line.record
            if record is None:
                unfinished = index == len(lines) - 1 and not line.complete
                kind = "unfinished" if unfinished else "unreadable"
                problems.append(Problem(number, None, kind, f"line {number} is not a JSON record"))
                continue
            seq = record.get("seq")
            later[seq] -= 1
            if (
                record.get("key_id") != self.keyring().current_id
                and self.keyring().get(str(record.get("key_id"))) is None
            ):
                problems.append(
                    Problem(
                        number,
                        seq,
                        "forged",
                        f"record {seq} (line {number}) is signed by key {record.get('key_id')!r}, which is not "
                        "an audit key of this project: forged",
                    )
                )
            elif record.get("hash") != self._mac(record):
                problems.append(
                    Problem(
                        number,
                        seq,
                        "edited",
                        f"record {seq} (line {number}) was edited: its authentication code does not match "
                        "(written or changed without the audit key)",
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
                elif isinstance(seq, int) and any(
                    isinstance(s, int) and expected_seq <= s < seq and n > 0 for s, n in later.items()
                ):
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
            previous = str(record.get("hash", ""))
            if isinstance(seq, int):
                by_seq.setdefault(seq, record)
                last_seq = max(last_seq, seq)
                expected_seq = last_seq + 1
        problems += self._verify_head(lines, last_seq, by_seq)
        for model, (seq, anchored_hash) in sorted((anchors or {}).items()):
            record = by_seq.get(seq)
            if record is None:
                problems.append(
                    Problem(
                        0,
                        seq,
                        "anchor",
                        f"the registry's anchor on model {model!r} names record {seq}, which the trail does not "
                        f"hold (it ends at record {last_seq}): the trail was deleted, emptied, cut short or "
                        "replaced",
                    )
                )
            elif record.get("hash") != anchored_hash or not str(record.get("target", "")).startswith(f"{model}/"):
                problems.append(
                    Problem(
                        0,
                        seq,
                        "anchor",
                        f"record {seq} is not the one the registry's anchor on model {model!r} names: the trail "
                        "was replaced",
                    )
                )
        return problems

    def _verify_head(self, lines: list[_Line], last_seq: int, by_seq: dict[int, dict[str, Any]]) -> list[Problem]:
        head = self._head()
        end = lines[-1].number if lines else 0
        if head is None:
            if lines:
                return [
                    Problem(end, None, "head", f"{self.storage.head_where} is missing while the trail holds records")
                ]
            return []
        count, last = head.get("count"), str(head.get("hash"))
        if not isinstance(count, int) or head.get("mac") != self._head_mac(count, last, str(head.get("key_id"))):
            return [
                Problem(
                    end,
                    None,
                    "head",
                    f"{self.storage.head_where} is not authenticated by the audit key: the head was rewritten",
                )
            ]
        if count > last_seq:
            return [
                Problem(
                    end,
                    None,
                    "deleted",
                    f"the trail ends at record {last_seq} but {count} were written: records were cut off the end",
                )
            ]
        if count and by_seq.get(count, {}).get("hash") != last:
            return [Problem(end, None, "head", f"record {count} is not the one the head names: it was replaced")]
        return []
