"""The input contract of a model on the feature store: the request carries keys and the transaction, Feast the rest.

A fraud request names the entities (``card_id``, ``merchant_id``), the transaction's time and its own fields
(amount, channel, ...). The server checks those like any application, reads the stored values of every
entity from the model's Feast online store (Feast's own ``get_online_features`` on the SQLite online store,
with one call per request), and finishes the features with :func:`workbench.features.finish_row`, the one-row
form of the request-time step training and the skew check use (held equal to it bit for bit by a test).
The canonical row it returns is the **full feature vector** the model scored, plus the keys, the time and the
entities the store knew nothing about: that row is the decision's recorded input, so replay needs no store.

An entity with nothing in the online store (a new card, a new merchant) follows ``feature_store.when_missing``:
``impute`` scores with its store features missing, which the model's own imputation fills exactly as it did
for a card's first transaction in training; ``refuse`` answers 422 naming the key. Either way the record says
which entities were missing (``online_missing``).

A careless operator is the threat here: a store never materialised would make every card look new, a store
rebuilt from other definitions would serve other features, and a store file replaced while the server runs
would keep being read through the old file. The first two refuse the model at load; the file's identity is
checked on every fetch and a replaced file is reopened (a deleted one answers 503 with the command to run).
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from workbench.features import (
    FeatureStoreError,
    definitions_sha256,
    feature_refs,
    finish_row,
    open_store,
    store_dir,
    store_state,
    view_definitions,
)
from workbench.serving._deployment import DeploymentError
from workbench.serving._inputs import InputError, InputProblem, InputSchema, NumericField
from workbench.spec import ModelSpec

#: field of the recorded input naming the entities the online store did not know (comma-separated, "" if none)
MISSING_FIELD = "online_missing"
_LARGEST_KEY = float(2**63 - 1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(canonical: str) -> int:
    """Microseconds since the epoch of a canonical time text, exactly (no float on the way)."""
    return (datetime.fromisoformat(canonical) - _EPOCH) // timedelta(microseconds=1)


class OnlineFeaturesUnavailable(RuntimeError):
    """The online store cannot be read now (deleted, unreadable); the request is answered 503, nothing recorded."""


class TimeField:
    """The transaction's time: ISO 8601 text with a time zone, canonical as UTC with microseconds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nullable = False

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The canonical time text, or a problem."""
        if not isinstance(value, str):
            return None, f"must be an ISO 8601 time with a time zone, e.g. 2026-03-15T12:30:00Z, got {value!r}"[:200]
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            return None, f"{value[:40]!r} is not an ISO 8601 time (e.g. 2026-03-15T12:30:00Z)"
        if parsed.tzinfo is None:
            return None, f"{value[:40]!r} has no time zone; add one, e.g. Z or +01:00"
        return parsed.astimezone(UTC).isoformat(timespec="microseconds"), None

    def json_schema(self) -> dict[str, Any]:
        """The field as JSON Schema (for the OpenAPI document)."""
        return {"type": "string", "format": "date-time"}


class OnlineFeatureSource:
    """The model's Feast online store, opened once and reopened when its file is replaced."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.path = store_dir(spec.name) / "online.db"
        self._lock = threading.Lock()
        self.refs = feature_refs(spec)
        self._store, self._identity = self._open()

    def _open(self) -> tuple[Any, tuple[int, int]]:
        spec = self.spec
        state = store_state(spec)
        if not state:
            raise DeploymentError(
                f"{spec.name}: no feature store at {store_dir(spec.name)}; run: workbench features apply {spec.name}"
                f" and workbench features materialize {spec.name}"
            )
        if state.get("definitions_sha256") != definitions_sha256(spec):
            raise DeploymentError(
                f"{spec.name}: the feature store at {store_dir(spec.name)} was built from other feature definitions "
                f"than this version's spec; rebuild it: workbench features apply {spec.name} (with this version's spec)"
            )
        if not state.get("materialized_until") or not self.path.is_file():
            raise DeploymentError(
                f"{spec.name}: the online store was never materialised, so every card would look new; run: "
                f"workbench features materialize {spec.name}"
            )
        try:
            store = open_store(spec)
        except FeatureStoreError as error:
            raise DeploymentError(str(error)) from None
        return store, self._stat()

    def _stat(self) -> tuple[int, int]:
        info = os.stat(self.path)
        return info.st_dev, info.st_ino

    def stored(self, entity_rows: list[dict[str, int]]) -> dict[str, list[Any]]:
        """Each stored column's values for the entity rows, as Feast's online store answers now (missing: None)."""
        with self._lock:
            try:
                identity = self._stat()
            except OSError:
                raise OnlineFeaturesUnavailable(
                    f"the online feature store of {self.spec.name} ({self.path}) is gone; run: "
                    f"workbench features materialize {self.spec.name}"
                ) from None
            if identity != self._identity:  # replaced (rebuilt, restored): read the new file, never the old one
                try:
                    self._store, self._identity = self._open()
                except DeploymentError as error:
                    raise OnlineFeaturesUnavailable(str(error)) from None
            try:
                return self._store.get_online_features(features=self.refs, entity_rows=entity_rows).to_dict()
            except Exception as error:  # a corrupt or half-written file: refuse rather than score on guesses
                raise OnlineFeaturesUnavailable(
                    f"the online feature store of {self.spec.name} cannot be read: {type(error).__name__}: "
                    f"{str(error)[:200]}"
                ) from None


class OnlineInputSchema(InputSchema):
    """Checks a request's keys, time and transaction fields, then returns the full feature vectors to score."""

    def __init__(self, spec: ModelSpec, transaction: InputSchema, source: OnlineFeatureSource) -> None:
        self.spec = spec
        self.source = source
        self.time = TimeField(str(spec.event_time))
        self.keys = {entity: key for entity, key in spec.entities.items()}
        keys = [NumericField(key, 0.0, _LARGEST_KEY, True, False) for key in self.keys.values()]
        self.request = InputSchema([*keys, *transaction.fields.values()])
        super().__init__(list(self.request.fields.values()))
        self.fields[self.time.name] = self.time  # type: ignore[assignment]
        self.names.append(self.time.name)
        self.stored_names = [f.name for f in spec.features.from_store]
        self.features = list(spec.features.all)
        self.when_missing = spec.feature_store.when_missing
        # which entity each view's columns belong to: an entity is missing when all its columns are
        self.entity_columns: dict[str, list[str]] = {}
        for view in view_definitions(spec):
            self.entity_columns.setdefault(view.entity, []).extend(view.columns)

    @classmethod
    def for_spec(cls, spec: ModelSpec, inputs: pd.DataFrame) -> OnlineInputSchema:
        """The contract of a model on the feature store (its transaction fields' ranges from ``inputs``)."""
        stored = {f.name for f in spec.features.from_store}
        plain = spec.features.model_copy(
            update={
                "numeric": [n for n in spec.features.numeric if n not in stored],
                "from_store": [],
            }
        )
        transaction = InputSchema.from_data(spec.model_copy(update={"features": plain}), inputs)
        return cls(spec, transaction, OnlineFeatureSource(spec))

    def check(self, records: Any, where: str = "applications") -> list[dict[str, Any]]:
        """The feature vectors (spec order) with keys, time and ``online_missing``; or :class:`InputError`."""
        if not isinstance(records, list):
            raise InputError([InputProblem(where, f"must be a list of transactions, got {type(records).__name__}")])
        problems: list[InputProblem] = []
        times: list[str | None] = []
        micros: list[int] = []
        plain: list[Any] = []
        name = self.time.name
        for i, record in enumerate(records):
            if not isinstance(record, dict) or name not in record:
                if isinstance(record, dict):
                    problems.append(InputProblem(f"{where}[{i}].{name}", "is missing"))
                times.append(None)
                micros.append(0)
                plain.append(record)
                continue
            value, problem = self.time.check(record[name])
            if problem:
                problems.append(InputProblem(f"{where}[{i}].{name}", problem))
            times.append(value)
            micros.append(0 if problem else _micros(value))
            plain.append({k: v for k, v in record.items() if k != name})
        try:
            rows = self.request.check(plain, where)
        except InputError as error:
            problems = sorted([*problems, *error.problems], key=lambda p: p.field)
            raise InputError(problems[:50]) from None
        if problems:
            raise InputError(problems[:50])
        keys = list(self.keys.values())
        answer = self.source.stored([{key: row[key] for key in keys} for row in rows])
        out = []
        refused: list[InputProblem] = []
        for i, row in enumerate(rows):
            stored = {column: values[i] for column, values in answer.items()}
            gone = [
                entity for entity, columns in self.entity_columns.items() if all(stored.get(c) is None for c in columns)
            ]
            if gone and self.when_missing == "refuse":
                refused.extend(
                    InputProblem(
                        f"{where}[{i}].{self.keys[entity]}",
                        f"{entity} {row[self.keys[entity]]} has no features in the online store (never seen, or not "
                        "materialised yet); this model refuses such transactions (feature_store.when_missing: refuse)",
                    )
                    for entity in gone
                )
                continue
            finished = finish_row(self.spec, stored, micros[i], row)
            vector: dict[str, Any] = {}
            for feature in self.features:
                if feature in finished:
                    value = finished[feature]
                    vector[feature] = None if value != value else value
                else:
                    vector[feature] = row[feature]
            for key in keys:
                vector[key] = row[key]
            vector[name] = times[i]
            vector[MISSING_FIELD] = ",".join(gone)
            out.append(vector)
        if refused:
            raise InputError(refused[:50])
        return out
