"""Everything a document says, read back from the registry: documents never recompute, they report records."""

from __future__ import annotations

import base64
import io
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from workbench.registry import EVIDENCE_FOLDERS, get_version, read_evidence, recorded_spec
from workbench.spec import ModelSpec


class NotValidatedError(LookupError):
    """The version has no validation evidence to document yet."""


@dataclass
class Evidence:
    """Records of one version: its tags, training run, validation run, findings and figures."""

    name: str
    version: int
    spec: ModelSpec
    tags: dict[str, str]
    created: str
    training_run_id: str
    training_params: dict[str, str]
    training_metrics: dict[str, float]
    validation_run_id: str
    validation_tags: dict[str, str]
    data_validation: dict[str, Any]
    candidates: pd.DataFrame
    coefficients: pd.DataFrame | None
    selection: str
    environment_lock: str
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    conclusion: dict[str, Any] = field(default_factory=dict)
    notebooks: list[str] = field(default_factory=list)
    tracking_uri: str = ""

    def figure(self, name: str) -> str | None:
        """A figure as a data URI, or None if it was not recorded."""
        return self.figures.get(name)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _read_text(client: MlflowClient, run_id: str, artifact: str, into: Path) -> str | None:
    try:
        return Path(client.download_artifacts(run_id, artifact, str(into))).read_text("utf-8")
    except Exception:  # an optional artefact that was not logged
        return None


def _decided_tags(name: str, version: int, registry_tags: dict[str, str]) -> dict[str, str]:
    """The version's tags as the audit trail decides them (status, validation, approval and its conditions):
    a document states what the trail holds, not what someone may have typed into the registry's mirror.

    A version the trail has no record of (a registry filled by other means) keeps its registry tags.
    """
    from workbench.governance import GOVERNED_TAGS, AuditTrail, model_state

    state = model_state(AuditTrail().records(f"{name}/"), name)
    if not state.governed(version):
        return registry_tags
    provenance = {k: v for k, v in registry_tags.items() if k not in GOVERNED_TAGS}
    return {**provenance, **state.version(version, registry_tags)}


def collect_evidence(client: MlflowClient, name: str, version: int | str) -> Evidence:
    """Read the version's records; refuses a version that has not been validated yet."""
    record = get_version(client, name, version)
    tags = _decided_tags(name, int(record.version), dict(record.tags))
    validation_run_id = tags.get("validation_run_id")
    if not validation_run_id:
        raise NotValidatedError(
            f"{name} version {version} has no validation evidence yet; run `workbench validate {name} {version}`"
        )
    training = client.get_run(record.run_id)
    validation = client.get_run(validation_run_id)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_validation = json.loads(
            _read_text(client, record.run_id, "data_validation/data_validation.json", root) or "{}"
        )
        candidates = pd.read_csv(io.StringIO(_read_text(client, record.run_id, "training/candidates.csv", root)))
        coefficients_text = _read_text(client, record.run_id, "training/scorecard_coefficients.csv", root)
        selection = (_read_text(client, record.run_id, "training/selection.txt", root) or "").strip()
        lock = _read_text(client, record.run_id, "environment/environment.lock.txt", root) or ""
        documents, figures = {}, {}
        for folder in EVIDENCE_FOLDERS:
            document, local = read_evidence(client, validation_run_id, folder, root / folder)
            documents[folder] = document
            for png in sorted((local / "figures").glob("*.png")) if (local / "figures").is_dir() else []:
                figures[f"{folder}/{png.stem}"] = _data_uri(png)
        conclusion = json.loads(_read_text(client, validation_run_id, "findings.json", root) or "{}")
    notebooks = sorted(
        {a.path for run in (record.run_id, validation_run_id) for a in client.list_artifacts(run, "notebooks")}
    )
    created = datetime.fromtimestamp(record.creation_timestamp / 1000, UTC).isoformat(timespec="seconds")
    return Evidence(
        name=name,
        version=int(record.version),
        spec=recorded_spec(client, record.run_id),
        tags=tags,
        created=created,
        training_run_id=record.run_id,
        training_params=dict(training.data.params),
        training_metrics=dict(training.data.metrics),
        validation_run_id=validation_run_id,
        validation_tags=dict(validation.data.tags),
        data_validation=data_validation,
        candidates=candidates,
        coefficients=pd.read_csv(io.StringIO(coefficients_text)) if coefficients_text else None,
        selection=selection,
        environment_lock=lock,
        documents=documents,
        figures=figures,
        conclusion=conclusion,
        notebooks=notebooks,
        tracking_uri=client.tracking_uri,
    )
