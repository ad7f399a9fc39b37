"""The validator's run: its evidence (JSON and figures) and the conclusion written onto the version.

Each validation is its own MLflow run, opened by the validator, never the developer's training run. The
version points to it with ``validation_run_id``; its status becomes ``validated`` only when no high-severity
finding is open.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from workbench.registry._tracking import ensure_experiment
from workbench.registry._versions import get_version

EVIDENCE_FOLDERS = ("validation", "fairness", "explainability")


def metric_name(text: str) -> str:
    """An MLflow-safe metric name: characters MLflow refuses (e.g. '&', '<', '>=') become words or '_'."""
    text = text.replace(">=", "ge").replace("<=", "le").replace("<", "lt").replace(">", "gt").replace(" & ", "_x_")
    return re.sub(r"[^A-Za-z0-9_\-. :/]", "_", text)


class IndependenceError(PermissionError):
    """The validator developed the version: independent validation is impossible."""


def start_validation_run(client: MlflowClient, name: str, version: int | str, validator: str) -> str:
    """Open the validator's run for a version; refuses a validator who developed it."""
    record = get_version(client, name, version)
    developer = record.tags.get("developed_by", "")
    if validator == developer:
        raise IndependenceError(
            f"{validator!r} developed {name} version {version} and cannot validate it; a different person must"
        )
    experiment_id = ensure_experiment(client, name)
    run = client.create_run(
        experiment_id,
        run_name=f"{name}-v{version}-validation",
        tags={
            "workbench.kind": "validation",
            "workbench.model": name,
            "workbench.version": str(version),
            "workbench.validator": validator,
            "mlflow.user": validator,
            "workbench.training_run_id": record.run_id,
        },
    )
    return run.info.run_id


def log_evidence(
    client: MlflowClient,
    run_id: str,
    folder: str,
    document: dict[str, Any],
    figures: dict[str, bytes] | None = None,
    metrics: dict[str, float] | None = None,
) -> None:
    """Write one part of the validation evidence: ``<folder>/<folder>.json``, its PNG figures and metrics."""
    if folder not in EVIDENCE_FOLDERS:
        raise ValueError(f"evidence folder must be one of {EVIDENCE_FOLDERS}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / f"{folder}.json").write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
        for name, png in (figures or {}).items():
            (root / "figures").mkdir(exist_ok=True)
            (root / "figures" / f"{name}.png").write_bytes(png)
        client.log_artifacts(run_id, tmp, folder)
    for key, value in (metrics or {}).items():
        if value is not None and value == value:
            client.log_metric(run_id, metric_name(f"{folder}.{key}"), float(value))


def read_evidence(client: MlflowClient, run_id: str, folder: str, into: Path) -> tuple[dict[str, Any], Path]:
    """Download one evidence folder of a run; returns its JSON and the local folder (figures beside it)."""
    local = Path(client.download_artifacts(run_id, folder, str(into)))
    return json.loads((local / f"{folder}.json").read_text("utf-8")), local


def conclude_validation(client: MlflowClient, name: str, version: int | str, run_id: str) -> dict[str, Any]:
    """Gather every finding of the validator's run and write ``findings.json``; returns the conclusion.

    The outcome is ``validated`` when no high-severity finding is open. The version's status is changed by the
    governance service (``record_validation``), which also writes the audit record.
    """
    run = client.get_run(run_id)
    findings: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for folder in EVIDENCE_FOLDERS:
            document, _ = read_evidence(client, run_id, folder, Path(tmp))
            findings.extend(document.get("findings", []))
    counts = {
        level: sum(f["severity"] == level and f["status"] == "open" for f in findings)
        for level in ("high", "medium", "low")
    }
    outcome = "validated" if counts["high"] == 0 else "findings open"
    conclusion = {
        "model": name,
        "version": int(version),
        "validator": run.data.tags.get("workbench.validator"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": outcome,
        "open_findings": counts,
        "findings": findings,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "findings.json"
        path.write_text(json.dumps(conclusion, indent=2), encoding="utf-8")
        client.log_artifact(run_id, str(path))
    client.set_tag(run_id, "workbench.outcome", outcome)
    return conclusion
