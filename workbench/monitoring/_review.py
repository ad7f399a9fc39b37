"""The weekly review report for the model risk committee, across every model in production.

Status and aliases come from the registry inventory, alerts and the latest drift and performance from each
model's newest monitoring summary, open findings and re-validation dates from the version tags, and the
period's decisions from the audit trail. HTML and PDF in ``reports/committee/``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from workbench.governance import AuditTrail, inventory
from workbench.paths import reports_root
from workbench.registry import Status

IN_PRODUCTION = (Status.PRODUCTION, Status.CHALLENGER, Status.UNDER_REVIEW)


def latest_monitoring(model: str) -> dict | None:
    """The newest monitoring summary written for a model, if any."""
    summaries = sorted((reports_root() / model / "monitoring").glob("*/*_monitoring.json"))
    return json.loads(summaries[-1].read_text("utf-8")) if summaries else None


def build_review(client: MlflowClient, days: int = 7, now: datetime | None = None, pdf: bool = True) -> list[Path]:
    """Write the committee's review of the last ``days`` days; returns the files."""
    from workbench.reports import render_html, write_pdf

    now = now or datetime.now(UTC)
    since = now - timedelta(days=days)
    table = inventory(client, now=now)
    production = table[table["status"].isin(IN_PRODUCTION) | (table["alias"] != "")] if len(table) else table
    monitoring_rows, alerts_by_model = [], {}
    for model in sorted(set(production["model"])) if len(production) else []:
        summary = latest_monitoring(model)
        if summary is None:
            monitoring_rows.append({"model": model, "monitored": "never"})
            alerts_by_model[model] = pd.DataFrame()
            continue
        latest = summary.get("latest_period", {})
        monitoring_rows.append(
            {
                "model": model,
                "version": summary["version"],
                "decisions": summary["decisions"],
                "labelled": summary["labelled"],
                "alerts": len(summary["alerts"]),
                "latest period": latest.get("period"),
                "approval rate": latest.get("approval_rate"),
                "score PSI": latest.get("score_psi"),
                "largest feature PSI": latest.get("max_feature_psi"),
                "most drifted": latest.get("most_drifted"),
                "AUC": latest.get("auc"),
            }
        )
        alerts_by_model[model] = pd.DataFrame(summary["alerts"])
    findings = table[(table[["open_high", "open_medium", "open_low"]].sum(axis=1) > 0)] if len(table) else table
    horizon = (now + timedelta(days=90)).date().isoformat()
    revalidations = (
        production[(production["overdue"]) | (production["next_review_due"] <= horizon)]
        if len(production)
        else production
    )
    actions = [
        {k: r[k] for k in ("time", "actor", "action", "target", "before", "after", "outcome", "reason")}
        for r in AuditTrail().records()
        if r["time"] >= since.isoformat()
    ]
    context = {
        "doc_title": f"Model risk committee review {now.date().isoformat()}",
        "since": since.date().isoformat(),
        "until": now.date().isoformat(),
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "models": sorted(set(production["model"])) if len(production) else [],
        "production": production.drop(columns=["overdue"]) if len(production) else production,
        "monitoring": pd.DataFrame(monitoring_rows),
        "alerts_by_model": alerts_by_model,
        "findings": findings[["model", "version", "status", "open_high", "open_medium", "open_low"]]
        if len(findings)
        else findings,
        "revalidations": revalidations[
            ["model", "version", "risk_tier", "last_validation", "next_review_due", "overdue"]
        ]
        if len(revalidations)
        else revalidations,
        "actions": pd.DataFrame(actions),
    }
    folder = reports_root() / "committee"
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"review_{now.date().isoformat()}"
    html = render_html("review.html.j2", context)
    paths = [base.with_suffix(".html")]
    paths[0].write_text(html, "utf-8")
    if pdf:
        paths.append(write_pdf(html, base.with_suffix(".pdf")))
    return paths
