"""Monitoring: drift, outcome performance, fairness and reason mix by period against the validation reference."""

from workbench.monitoring._decisions_and_outcomes import (
    OutcomeImport,
    OutcomeStore,
    RejectedOutcome,
    export_decisions,
    monitoring_dir,
    read_outcome_file,
)
from workbench.monitoring._drift import PeriodCounts, chi_square_from_counts, count_chunk, drift_table, ks_from_cells
from workbench.monitoring._kind_metrics import METRICS, PeriodDecisions, kind_metrics, monitoring_metric
from workbench.monitoring._monitor import Alert, Monitor, MonitoringResult
from workbench.monitoring._outcome_counts import fairness_from_counts, outcome_metrics
from workbench.monitoring._record import alerts_text, read_monitoring_run, record_monitoring_run
from workbench.monitoring._reference import FeatureReference, MonitoringReference, build_reference, reference_for
from workbench.monitoring._retrain import RetrainingError, RetrainingResult, prepare_retraining_data, retrain
from workbench.monitoring._review import build_review, latest_monitoring
from workbench.monitoring._run import act_on_alerts, champion_version, run_monitoring, trend_png, write_report
from workbench.monitoring._spark_monitor import spark_monitor
from workbench.monitoring._traffic import simulate_traffic, simulated_periods

__all__ = [
    "METRICS",
    "Alert",
    "PeriodDecisions",
    "kind_metrics",
    "monitoring_metric",
    "RetrainingError",
    "RetrainingResult",
    "act_on_alerts",
    "alerts_text",
    "build_review",
    "champion_version",
    "latest_monitoring",
    "prepare_retraining_data",
    "read_monitoring_run",
    "record_monitoring_run",
    "retrain",
    "run_monitoring",
    "simulate_traffic",
    "trend_png",
    "write_report",
    "FeatureReference",
    "Monitor",
    "MonitoringReference",
    "MonitoringResult",
    "OutcomeImport",
    "OutcomeStore",
    "PeriodCounts",
    "RejectedOutcome",
    "build_reference",
    "chi_square_from_counts",
    "count_chunk",
    "drift_table",
    "export_decisions",
    "ks_from_cells",
    "monitoring_dir",
    "read_outcome_file",
    "reference_for",
    "simulated_periods",
    "fairness_from_counts",
    "outcome_metrics",
    "spark_monitor",
]
