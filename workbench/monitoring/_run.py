"""One monitoring run: export new decisions, rebuild the reference, count, report, and act on alerts."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient

from workbench.findings import new_figure
from workbench.governance import GovernanceService, MlflowVersionStore, User
from workbench.monitoring._decisions_and_outcomes import OutcomeStore, export_decisions, monitoring_dir
from workbench.monitoring._monitor import Monitor, MonitoringResult
from workbench.monitoring._record import alerts_text
from workbench.monitoring._reference import reference_for
from workbench.paths import reports_root
from workbench.registry import STATUS_TAG, Status
from workbench.serving import DecisionStore

PERIOD_NAMES = {"D": "day", "W": "week", "M": "month"}


def champion_version(client: MlflowClient, name: str) -> int:
    """The version in production."""
    version = MlflowVersionStore(client).alias_holder(name, "champion")
    if version is None:
        raise LookupError(f"{name} has no @champion to monitor; name a version")
    return version


def run_monitoring(
    client: MlflowClient,
    name: str,
    version: int | None = None,
    *,
    period: str | None = None,
    period_of: pd.Series | None = None,
    decisions: DecisionStore | None = None,
    outcomes: OutcomeStore | None = None,
    engine: str = "pandas",
    spark_master: str | None = None,
) -> MonitoringResult:
    """Monitor a version (default: the @champion) on every decision recorded for it so far.

    ``engine="spark"`` counts on Spark (``spark_master``, else Spark's configuration, else ``local[*]``) with
    the same tables as a result."""
    version = version or champion_version(client, name)
    folder = monitoring_dir(name) / "decisions"
    export_decisions(name, decisions, folder)
    reference = reference_for(client, name, version)
    outcome_frame = (outcomes or OutcomeStore()).frame(name)
    if not any(folder.glob("*.parquet")):
        raise LookupError(f"no decisions of {name} are recorded yet")
    if engine == "spark":
        from workbench.monitoring._spark_monitor import spark_monitor
        from workbench.spark import spark_session

        return spark_monitor(spark_session(spark_master), reference, folder, outcome_frame, period, period_of)
    return Monitor(reference, period).run(folder, outcome_frame, period_of=period_of)


def trend_png(result: MonitoringResult) -> bytes:
    """The monitored measures by period, each with its limit, and where drift first breached (PNG bytes).

    Panels: score PSI; the largest feature PSI; approval rate; AUC once outcomes arrive; the worst
    approval-rate ratio of each protected attribute against the floor (fairness alerts are most of a typical
    run's alerts); decisions per period. The first period with a drift breach is marked on every panel.
    """
    periods = result.periods
    names = list(periods["period"].astype(str))
    x = list(range(len(periods)))
    fig, axes = new_figure(3, 2, figsize=(10, 8.2), sharex=True)
    unit = {"D": "day", "W": "week", "M": "month"}.get(result.period, result.period)
    nan = pd.Series([float("nan")] * len(periods))
    panels = [
        ("score PSI", "PSI", periods["score_psi"], result.settings.get("max_psi")),
        ("largest feature PSI", "PSI", periods["max_feature_psi"], result.settings.get("max_psi")),
        ("approval rate", "share approved", periods["approval_rate"], None),
        ("AUC on matured outcomes", "AUC", periods.get("auc", nan), result.settings.get("min_auc")),
    ]
    flat = axes.ravel()
    for axis, (title, label, values, limit) in zip(flat[:4], panels, strict=True):
        axis.plot(x, list(values), marker="o", color="#1f4e79")
        if limit is not None:
            axis.axhline(limit, color="crimson", linestyle="--", linewidth=1, label=f"limit {limit}")
            axis.legend(fontsize=7, loc="best")
        axis.set_title(title, fontsize=10)
        axis.set_ylabel(label, fontsize=8)
    ratios = flat[4]
    fairness = result.fairness
    if len(fairness):
        worst = fairness.assign(period=fairness["period"].astype(str)).groupby(["attribute", "period"])["ratio"].min()
        worst = worst.unstack("attribute")
        worst = worst.reindex(names)
        for attribute in worst.columns:
            ratios.plot(x, list(worst[attribute]), marker="o", label=str(attribute))
    floor = result.settings.get("disparate_impact_floor")
    if floor is not None:
        ratios.axhline(floor, color="crimson", linestyle="--", linewidth=1, label=f"floor {floor}")
    ratios.set_title("worst approval-rate ratio by protected attribute", fontsize=10)
    ratios.set_ylabel("ratio to reference", fontsize=8)
    if ratios.get_legend_handles_labels()[0]:
        ratios.legend(fontsize=7, loc="best")
    volume = flat[5]
    volume.bar(x, list(periods["decisions"]), color="#9fb3c8")
    volume.set_title("decisions per period", fontsize=10)
    volume.set_ylabel("decisions", fontsize=8)
    drift = sorted(a.period for a in result.breaches if a.kind in ("score_drift", "feature_drift"))
    if drift and drift[0] in names:
        start = names.index(drift[0])
        for axis in flat:
            axis.axvline(start, color="#c77700", linestyle=":", linewidth=1.2)
        flat[0].annotate(
            "drift first breached",
            (start, 0.95),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="#c77700",
            ha="left",
            va="top",
        )
    for axis in axes[-1]:
        axis.set_xticks(x)
        axis.set_xticklabels(names, rotation=60, fontsize=7)
        axis.set_xlabel(f"period ({unit})", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def write_report(result: MonitoringResult, spec=None, folder: Path | None = None, pdf: bool = True) -> list[Path]:
    """The monitoring report as HTML (and PDF) with trend plots, plus the result as JSON."""
    from workbench.reports import render_html, write_pdf

    spec = spec or result.spec
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = folder or reports_root() / result.model / "monitoring" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    drift = result.drift
    latest = drift[drift["period"] == drift["period"].max()].sort_values("psi", ascending=False)
    drift_wide = drift.pivot(index="feature", columns="period", values="psi")
    drift_wide = drift_wide.loc[latest["feature"]].reset_index()
    reasons_wide = (
        result.reasons.pivot(index="feature", columns="period", values="share").fillna(0.0).reset_index()
        if len(result.reasons)
        else result.reasons
    )
    alerts = pd.DataFrame([asdict(a) for a in result.alerts])
    html = render_html(
        "monitoring.html.j2",
        {
            "doc_title": f"{result.model} v{result.version} monitoring",
            "spec": spec,
            "name": result.model,
            "version": result.version,
            "decisions": result.decisions,
            "labelled": result.labelled,
            "period_name": PERIOD_NAMES.get(result.period, result.period),
            "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "alerts": alerts,
            "alert_count": len(result.alerts),
            "settings": result.settings,
            "figures": {"trends": "data:image/png;base64," + base64.b64encode(trend_png(result)).decode()},
            "periods": result.periods,
            "drift_wide": drift_wide,
            "latest_drift": latest.drop(columns="period"),
            "fairness": result.fairness,
            "reasons_wide": reasons_wide,
        },
    )
    base = folder / f"{result.model}_v{result.version}_monitoring"
    paths = [base.with_suffix(".html")]
    paths[0].write_text(html, "utf-8")
    if pdf:
        paths.append(write_pdf(html, base.with_suffix(".pdf")))
    summary = folder / f"{result.model}_v{result.version}_monitoring.json"
    summary.write_text(json.dumps(result.summary(), indent=2, default=str), "utf-8")
    paths.append(summary)
    return paths


def act_on_alerts(result: MonitoringResult, service: GovernanceService, user: User) -> dict | None:
    """Put the monitored version under review when an alert fired (once; recorded in the audit trail)."""
    if not result.alerts:
        return None
    status = service.store.tags(result.model, result.version).get(STATUS_TAG)
    if status == Status.UNDER_REVIEW:
        return None
    reason = f"monitoring alert: {alerts_text(result.alerts)}"
    return service.mark_under_review(user, result.model, result.version, reason)
