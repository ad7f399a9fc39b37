"""Monitoring's own data: decisions copied into Parquet for columnar scans, and outcomes keyed by decision id.

The decision store (SQLite or PostgreSQL, one row per decision with its input as JSON, written by every
instance of the server) is made for durable writes and lookups by id; monitoring scans millions of rows by
column, so new decisions are copied, flattened, into Parquet parts
(``registry_store/monitoring/<model>/decisions/``), remembering per store the cursor the store handed out.

Outcomes arrive later, from the outcomes endpoint or a file import, keyed by decision id. Each row is
checked (known decision, not a duplicate, a valid label); bad rows are returned with the reason, good rows
are committed together, so an import never half-records and never loses a good row.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.paths import registry_store
from workbench.serving import DecisionStore, open_decision_store
from workbench.spec import label_key

ANSWERED_ROUTES = ("champion", "canary")
_OUTCOMES = """
CREATE TABLE IF NOT EXISTS outcomes (
    decision_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    outcome INTEGER NOT NULL,
    groups TEXT NOT NULL,
    recorded TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS outcomes_model ON outcomes (model);
"""


def monitoring_dir(model: str) -> Path:
    """Where monitoring keeps a model's Parquet decisions and reports."""
    return registry_store() / "monitoring" / model


def export_decisions(model: str, decisions: DecisionStore | None = None, folder: Path | None = None) -> int:
    """Copy answered decisions not yet exported into a new Parquet part; returns how many rows were added."""
    decisions = decisions or open_decision_store()
    folder = folder or monitoring_dir(model) / "decisions"
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "_exported.json"
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    cursors = state.get("cursors", {})  # by store: a store exported once is never read again from its start
    key = decisions.identity
    records, cursors[key] = decisions.changes(model, cursors.get(key), ANSWERED_ROUTES)
    rows: list[dict[str, Any]] = []
    for record in records:
        row = {
            "id": record["id"],
            "time": record["time"],
            "version": record["version"],
            "route": record["route"],
            "score": record["score"],
            "decision": record["decision"],
            "top_reason": record["reasons"][0]["feature"] if record["reasons"] else None,
            **record["input"],
        }
        rows.append(row)
    if rows:
        frame = pd.DataFrame(rows)
        frame["time"] = pd.to_datetime(frame["time"], utc=True, format="ISO8601")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"part-{rows[0]['id']}.parquet")
    state["cursors"] = cursors
    state_file.write_text(json.dumps(state, indent=2))
    return len(rows)


@dataclass(frozen=True)
class RejectedOutcome:
    """An outcome row that was not recorded, and why."""

    row: int
    decision_id: str
    reason: str


@dataclass
class OutcomeImport:
    """What an import recorded and what it refused."""

    recorded: int
    rejected: list[RejectedOutcome]


class OutcomeStore:
    """Observed outcomes (1 = adverse) and optional protected-group memberships, by decision id."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or registry_store() / "monitoring" / "outcomes.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_OUTCOMES)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30.0)
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def record(
        self, rows: list[dict[str, Any]], decisions: DecisionStore, adverse_value: Any, groups: tuple[str, ...] = ()
    ) -> OutcomeImport:
        """Check every row, then commit the good ones in one transaction.

        ``adverse_value`` is the spec's ``target.adverse_value`` (one value or a list): an outcome is 1 or one
        of those values for the adverse outcome, 0 for any other.
        """
        adverse = frozenset(
            label_key(v) for v in (adverse_value if isinstance(adverse_value, list) else [adverse_value])
        )
        rejected: list[RejectedOutcome] = []
        good: list[tuple[str, str, int, str]] = []
        seen: set[str] = set()
        with self._connect() as connection:
            for number, row in enumerate(rows, start=1):
                decision_id = str(row.get("decision_id") or "").strip()
                label = _label(row.get("outcome"), adverse)
                problem = None
                if not decision_id:
                    problem = "decision_id: missing"
                elif label is None:
                    problem = f"outcome: {row.get('outcome')!r} is not 0, 1 or {adverse_value!r}"
                elif decision_id in seen:
                    problem = "decision_id: duplicate within this import"
                elif connection.execute("SELECT 1 FROM outcomes WHERE decision_id = ?", (decision_id,)).fetchone():
                    problem = "decision_id: an outcome is already recorded for this decision"
                else:
                    record = decisions.get(decision_id)
                    if record is None:
                        problem = "decision_id: no such decision in the decision store"
                if problem:
                    rejected.append(RejectedOutcome(number, decision_id, problem))
                    continue
                seen.add(decision_id)
                memberships = {g: str(row[g]) for g in groups if row.get(g) not in (None, "") and not pd.isna(row[g])}
                good.append((decision_id, record["model"], label, orjson.dumps(memberships).decode()))
            connection.executemany(
                "INSERT INTO outcomes (decision_id, model, outcome, groups) VALUES (?, ?, ?, ?)", good
            )
        return OutcomeImport(len(good), rejected)

    def frame(self, model: str) -> pd.DataFrame:
        """Every recorded outcome of a model: decision_id, outcome, and one column per protected group."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT decision_id, outcome, groups FROM outcomes WHERE model = ?", (model,)
            ).fetchall()
        frame = pd.DataFrame(rows, columns=["decision_id", "outcome", "groups"])
        groups = pd.json_normalize([orjson.loads(g) for g in frame["groups"]]) if len(frame) else pd.DataFrame()
        return pd.concat([frame.drop(columns="groups"), groups.set_index(frame.index)], axis=1)


def _label(value: Any, adverse: frozenset[str]) -> int | None:
    if isinstance(value, bool):
        return int(value)
    key = label_key(value)
    if key in adverse:
        return 1
    if key in ("0", "1"):
        return int(key)
    return None


def read_outcome_file(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or Parquet outcome file (columns: decision_id, outcome, optional protected groups)."""
    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, dtype={"decision_id": str, "outcome": str})
    else:
        raise ValueError(f"{path}: outcome files are .csv or .parquet")
    if "decision_id" not in frame or "outcome" not in frame:
        raise ValueError(f"{path}: needs the columns decision_id and outcome, found {list(frame.columns)}")
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
