"""One audit record per batch, and finding a batch decision again from its id.

The audit trail is the system of record, so a batch is recorded there like any governed act: who ran it, the
version and its artefact sha256, the input's sha256, how many rows, how many adverse decisions, the engine and
where the decisions were written. Replay of a batch decision goes through that record, not through a
separate index: the decision id carries the batch id (see ``_ids``), the record under the audit key says where
the batch's decisions are and which model bytes made them, and the row with that id is read from there. A
decision file moved or edited afterwards is therefore found out (missing, or different on replay) instead of
being trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from workbench.batch._errors import BatchError
from workbench.batch._ids import batch_of
from workbench.governance import AuditIntegrityError, AuditTrail

ACTION = "batch_score"


def record_batch(actor: str, name: str, version: int, reason: str, details: dict[str, Any]) -> dict[str, Any]:
    """Append the batch's record to the audit trail (durably), or refuse with the trail's reason."""
    try:
        return AuditTrail().append(
            actor=actor,
            role="batch",
            action=ACTION,
            target=f"{name}/{version}",
            reason=reason,
            before=None,
            after=None,
            outcome="accepted",
            details=details,
        )
    except AuditIntegrityError as error:
        raise BatchError(f"the batch could not be recorded in the audit trail: {error}") from None


def batch_record(batch_id: str) -> dict[str, Any]:
    """The verified audit record of a batch."""
    try:
        records = AuditTrail().verified_records()
    except AuditIntegrityError as error:
        raise BatchError(f"batch {batch_id}: {error}") from None
    for record in records:
        if record.get("action") == ACTION and (record.get("details") or {}).get("batch_id") == batch_id:
            return record
    raise BatchError(f"batch {batch_id} has no record in the audit trail {AuditTrail().path}")


class BatchDecisions:
    """A batch's decisions, read where its audit record says they are (what ``replay_decision`` asks of a store)."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        self.url = record["details"]["output"]

    def get(self, decision_id: str) -> dict[str, Any] | None:
        """The decision with this id as the decision store would return it, or None."""
        location = Path(self.url)
        if not location.exists():
            raise BatchError(f"batch {self.record['details']['batch_id']}: its decisions at {location} are gone")
        dataset = ds.dataset(str(location), format="parquet", exclude_invalid_files=True)
        table = dataset.to_table(filter=ds.field("id") == decision_id)
        if table.num_rows == 0:
            return None
        row = table.slice(0, 1).to_pylist()[0]
        features = self.record["details"]["features"]
        return {
            "id": row["id"],
            "time": row["time"].isoformat(),
            "model": row["model"],
            "version": int(row["version"]),
            "model_sha256": row["model_sha256"],
            "route": row["route"],
            "input": {name: row[name] for name in features},
            "score": float(row["score"]),
            "decision": row["decision"],
            "reasons": json.loads(row["reasons"]),
        }

    def close(self) -> None:
        """Nothing to close (the store interface's)."""


def batch_decisions(decision_id: str) -> BatchDecisions:
    """The decisions of the batch a batch decision id names (its audit record says where they are)."""
    batch_id = batch_of(decision_id)
    if batch_id is None:
        raise BatchError(f"{decision_id!r} is not a batch decision id (batch-<id>.<part>.<row>)")
    return BatchDecisions(batch_record(batch_id))
