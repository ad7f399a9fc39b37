"""What the approval app shows about a version, read from the registry and the audit trail."""

from __future__ import annotations

import base64
import json
import re
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
    if tags.get("approval_override"):  # the committee's override is a high finding of its own, shown first
        override = {
            "severity": "high",
            "title": "Approved without completed validation (override)",
            "detail": f"{tags.get('approved_by', '?')}: {tags['approval_override']}",
            "remediation": "record an independent validation before the version is deployed",
            "status": "open",
        }
        findings = pd.DataFrame([override, *findings.to_dict("records")], columns=list(override))
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


@dataclass
class MonitoringView:
    """A model's latest monitoring run as ``workbench monitor`` filed it: what was watched, alerts, trends."""

    model: str
    version: int
    run_id: str
    started: str
    by: str
    period_source: str
    decisions: int
    labelled: int
    alerts: pd.DataFrame
    periods: pd.DataFrame
    trends: list[bytes]
    report_pdf: bytes | None
    report_name: str


_EMBEDDED_PNG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def monitoring_view(client: MlflowClient, name: str) -> MonitoringView | None:
    """The newest monitoring run of a model (any version), or ``None`` when it was never monitored.

    The trend charts are the ones the run's report carries (its embedded PNGs), so the app shows exactly
    what the report shows.
    """
    from workbench.monitoring import read_monitoring_run

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`workbench.kind` = 'monitoring'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        return None
    run = runs[0]
    summary = read_monitoring_run(client, run.info.run_id)
    trends: list[bytes] = []
    pdf, pdf_name = None, ""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            files = client.list_artifacts(run.info.run_id, "monitoring/report")
        except Exception:  # a run filed without its report
            files = []
        for item in files:
            local = Path(client.download_artifacts(run.info.run_id, item.path, tmp))
            if local.suffix == ".html":
                trends = [base64.b64decode(found) for found in _EMBEDDED_PNG.findall(local.read_text("utf-8"))]
            elif local.suffix == ".pdf":
                pdf, pdf_name = local.read_bytes(), local.name
    alert_columns = ["period", "kind", "subject", "value", "limit", "message"]
    return MonitoringView(
        model=name,
        version=int(summary["version"]),
        run_id=run.info.run_id,
        started=pd.Timestamp(run.info.start_time, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC"),
        by=run.data.tags.get("mlflow.user", ""),
        period_source=summary.get("period_source", "calendar"),
        decisions=int(summary["decisions"]),
        labelled=int(summary["labelled"]),
        alerts=pd.DataFrame(summary.get("alerts", []), columns=alert_columns),
        periods=pd.DataFrame(summary.get("periods_table", [])),
        trends=trends,
        report_pdf=pdf,
        report_name=pdf_name,
    )


def _reason_with_details(reason: str, details: dict) -> str:
    """The record's reason followed by what it carries that a reader must see: conditions, an override
    justification, a refusal."""
    lines = [reason] if reason else []
    for label, key in (("conditions", "conditions"), ("override", "override_justification"), ("refused", "refusal")):
        if details.get(key):
            lines.append(f"{label}: {details[key]}")
    return "\n".join(lines)


def audit_log(audit: AuditTrail, model: str | None = None) -> pd.DataFrame:
    """The whole trail (or one model's records), newest first, with override texts and conditions."""
    rows = [
        {
            "seq": r["seq"],
            "time": r["time"][:16].replace("T", " "),
            "who": f"{r['actor']} ({r['role']})",
            "action": r["action"].replace("_", " "),
            "target": r["target"],
            "change": f"{r['before']} → {r['after']}" if r["before"] != r["after"] else (r["before"] or "-"),
            "outcome": r["outcome"],
            "reason and details": _reason_with_details(r["reason"], r.get("details") or {}),
        }
        for r in audit.records(f"{model}/" if model else None)
    ]
    columns = ["seq", "time", "who", "action", "target", "change", "outcome", "reason and details"]
    return pd.DataFrame(rows[::-1], columns=columns)
