"""Filing a monitoring run in MLflow, so that an alert (and any retraining it causes) has an id to point at.

Each ``workbench monitor`` becomes a run in the model's experiment, tagged ``workbench.kind=monitoring``, with
the monitored version, how periods were formed, per-run metrics, the per-period table and the alerts as JSON,
and the report files. A retrained challenger's lineage names this run id.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from workbench.monitoring._monitor import MonitoringResult
from workbench.registry import ensure_experiment

SUMMARY_ARTIFACT = "monitoring/summary.json"


def record_monitoring_run(
    client: MlflowClient,
    result: MonitoringResult,
    report_paths: list[Path] = (),
    *,
    period_source: str = "calendar",
    user: str = "",
) -> str:
    """Log one monitoring run (metrics, periods, alerts, report files); returns its MLflow run id."""
    run = client.create_run(
        ensure_experiment(client, result.model),
        run_name=f"{result.model}-v{result.version}-monitoring",
        tags={
            "workbench.kind": "monitoring",
            "workbench.model": result.model,
            "workbench.version": str(result.version),
            "workbench.period_source": period_source,
            "mlflow.user": user or "monitoring",
        },
    )
    run_id = run.info.run_id
    client.log_param(run_id, "period", result.period)
    for key, value in {
        "decisions": result.decisions,
        "labelled": result.labelled,
        "periods": len(result.periods),
        "alerts": len(result.alerts),
    }.items():
        client.log_metric(run_id, key, float(value))
    summary = {
        **result.summary(),
        "period_source": period_source,
        "periods_table": json.loads(result.periods.to_json(orient="records")),
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(SUMMARY_ARTIFACT).name
        path.write_text(json.dumps(summary, indent=2, default=str), "utf-8")
        client.log_artifact(run_id, str(path), str(Path(SUMMARY_ARTIFACT).parent))
    for report in report_paths:
        client.log_artifact(run_id, str(report), "monitoring/report")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def read_monitoring_run(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The summary a monitoring run filed; a clear error for an id that is not a monitoring run."""
    try:
        run = client.get_run(run_id)
    except Exception:  # MLflow raises its own error type for unknown ids
        raise LookupError(f"monitoring run: no run {run_id!r} in the registry") from None
    if run.data.tags.get("workbench.kind") != "monitoring":
        raise LookupError(f"monitoring run: {run_id!r} is not a monitoring run")
    with tempfile.TemporaryDirectory() as folder:
        local = client.download_artifacts(run_id, SUMMARY_ARTIFACT, folder)
        summary = json.loads(Path(local).read_text("utf-8"))
    summary["run_id"] = run_id
    return summary


def alerts_text(alerts: list[dict[str, Any]] | list, limit: int = 5) -> str:
    """Alerts as one line each, the first ``limit`` of them."""
    rows = [a if isinstance(a, dict) else asdict(a) for a in alerts]
    shown = "; ".join(f"{a['period']} {a['message']}" for a in rows[:limit])
    return shown + (f" (+{len(rows) - limit} more)" if len(rows) > limit else "")
