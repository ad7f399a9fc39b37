"""Monitoring: drift, outcome performance, fairness and reason mix by period against the validation reference."""

from workbench.monitoring._drift import PeriodCounts, chi_square_from_counts, count_chunk, drift_table, ks_from_cells
from workbench.monitoring._monitor import Alert, Monitor, MonitoringResult
from workbench.monitoring._reference import FeatureReference, MonitoringReference, build_reference, reference_for
from workbench.monitoring._simulate import simulated_periods
from workbench.monitoring._store import (
    OutcomeImport,
    OutcomeStore,
    RejectedOutcome,
    export_decisions,
    monitoring_dir,
    read_outcome_file,
)

__all__ = [
    "Alert",
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
]
