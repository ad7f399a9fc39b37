"""What the approval app shows about a version, read from the registry and the audit trail."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from workbench.governance import AuditTrail
from workbench.paths import version_reports_dir
from workbench.registry import STATUS_TAG, Status


@dataclass
class VersionView:
    """A version's state, validation summary, findings, documents and history."""

    name: str
    version: int
    tags: dict[str, str]
    aliases: list[str]
    validation_summary: pd.DataFrame
    findings: pd.DataFrame
    history: pd.DataFrame
    documents: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """Lifecycle status."""
        return self.tags.get(STATUS_TAG, Status.DEVELOPMENT)


def _validation(client: MlflowClient, run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    empty = pd.DataFrame(columns=["test", "outcome", "reason"]), pd.DataFrame(columns=["severity", "title"])
    if not run_id:
        return empty
    with tempfile.TemporaryDirectory() as tmp:
        try:
            validation = json.loads(
                Path(client.download_artifacts(run_id, "validation/validation.json", tmp)).read_text("utf-8")
            )
            findings = json.loads(Path(client.download_artifacts(run_id, "findings.json", tmp)).read_text("utf-8"))
        except Exception:  # a validation recorded without the suite's evidence
            return empty
    summary = pd.DataFrame(
        [{"test": r["test_id"], "outcome": r["outcome"], "reason": r["reason"]} for r in validation["results"]]
    )
    order = {"high": 0, "medium": 1, "low": 2}
    rows = sorted(findings.get("findings", []), key=lambda f: order.get(f["severity"], 3))
    table = pd.DataFrame(
        [
            {
                "severity": f["severity"],
                "title": f["title"],
                "detail": f["detail"],
                "remediation": f["remediation"],
                "status": f["status"],
            }
            for f in rows
        ]
    )
    return summary, table


def version_view(client: MlflowClient, audit: AuditTrail, name: str, version: int) -> VersionView:
    """Everything the version page shows."""
    record = client.get_model_version(name, str(version))
    tags = dict(record.tags)
    summary, findings = _validation(client, tags.get("validation_run_id", ""))
    history = pd.DataFrame(
        audit.history(name, version),
        columns=["seq", "time", "actor", "role", "action", "change", "outcome", "reason", "refusal"],
    )
    folder = version_reports_dir(name, version)
    documents = {
        label: str(path)
        for label, path in (
            ("SR 11-7 model document", folder / f"{name}_v{version}_sr117_model_document.html"),
            ("Fairness report", folder / f"{name}_v{version}_fairness_report.html"),
        )
        if path.is_file()
    }
    return VersionView(name, int(version), tags, list(record.aliases or []), summary, findings, history, documents)
