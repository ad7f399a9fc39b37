"""The monitoring calculator: production decisions against the validation reference, period by period.

Reads the Parquet decisions in batches (constant memory), adds up counts per period, joins the outcomes that
have arrived, and turns the counts into the monitoring tables and alerts. Thresholds come from the spec:
``thresholds.max_psi`` for score and feature drift, ``thresholds.min_auc`` for outcome performance,
``thresholds.disparate_impact_floor`` for fairness, and ``monitoring`` for the period and minimum sizes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from workbench.decision import decision_rule
from workbench.monitoring._drift import PeriodCounts, count_chunk, drift_table
from workbench.monitoring._outcome_counts import (
    fairness_from_counts,
    group_counts_of,
    outcome_counts_of,
    outcome_metrics,
)
from workbench.monitoring._reference import MonitoringReference
from workbench.spec import ModelSpec
from workbench.stats import psi_from_counts

BATCH_ROWS = 1_000_000


@dataclass(frozen=True)
class Alert:
    """A breach in one period: what, how far, against which limit."""

    period: str
    kind: str  # score_drift, feature_drift, performance, fairness
    subject: str
    value: float
    limit: float
    message: str


@dataclass
class MonitoringResult:
    """Per-period tables and the alerts they raise."""

    model: str
    version: int
    period: str
    periods: pd.DataFrame
    drift: pd.DataFrame
    fairness: pd.DataFrame
    reasons: pd.DataFrame
    breaches: list[Alert]
    alerts: list[Alert]
    decisions: int
    labelled: int
    settings: dict[str, Any] = field(default_factory=dict)
    spec: ModelSpec | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest."""
        return {
            "model": self.model,
            "version": self.version,
            "period": self.period,
            "decisions": self.decisions,
            "labelled": self.labelled,
            "periods": len(self.periods),
            "latest_period": self.periods.iloc[-1].to_dict() if len(self.periods) else {},
            "alerts": [asdict(a) for a in self.alerts],
        }


def period_labels(times: pa.Array, period: str) -> np.ndarray:
    """Period labels (D, W or M) of UTC timestamps, computed on integers and labelled once per distinct period."""
    instants = times.to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    unit = {"D": "D", "W": "D", "M": "M"}[period]
    codes = instants.astype(f"datetime64[{unit}]").astype(np.int64)
    if period == "W":
        codes = (codes + 3) // 7  # weeks from Monday to Sunday (1970-01-01 was a Thursday)
    distinct, inverse = np.unique(codes, return_inverse=True)
    if period == "W":
        starts = (distinct * 7 - 3).astype("datetime64[D]")
    else:
        starts = distinct.astype(f"datetime64[{unit}]")
    labels = pd.PeriodIndex(pd.DatetimeIndex(starts), freq=period).astype(str).to_numpy()
    return labels[inverse]


class Monitor:
    """Computes monitoring for one version from its reference; ``run`` takes a folder of Parquet decisions."""

    def __init__(self, reference: MonitoringReference, period: str | None = None) -> None:
        self.reference = reference
        self.spec = reference.spec
        self.period = period or self.spec.monitoring.period
        self.protected = [a.name for a in self.spec.protected_attributes]

    def _period_keys(self, times: pa.Array) -> np.ndarray:
        return period_labels(times, self.period)

    def run(
        self,
        folder: Path,
        outcomes: pd.DataFrame | None = None,
        batch_rows: int = BATCH_ROWS,
        period_of: pd.Series | None = None,
    ) -> MonitoringResult:
        """Scan the decisions in batches; counts per period, labelled scores and group decisions on the side.

        Text columns are dictionary-encoded in Arrow before they reach pandas, so categories are counted by
        code; decision ids stay in Arrow unless a decision has an outcome. ``period_of`` (decision id ->
        period label) replaces calendar periods, for simulated traffic whose periods all happened within
        minutes; decisions it does not name are left out.
        """
        features = list(self.spec.features.all)
        dataset = ds.dataset(str(folder), format="parquet")
        columns = ["id", "time", "score", "decision", "top_reason", *features]
        version_filter = ds.field("version") == self.reference.version
        counts: dict[str, PeriodCounts] = {}
        labelled: list[pd.DataFrame] = []
        grouped: list[pd.DataFrame] = []
        index = outcomes.set_index("decision_id") if outcomes is not None and len(outcomes) else None
        known_ids = pa.array(index.index.astype(str)) if index is not None else None
        outcome_values = index["outcome"].to_numpy() if index is not None else None
        wanted_ids = pa.array(period_of.index.astype(str)) if period_of is not None else None
        total = 0
        for batch in dataset.to_batches(columns=columns, filter=version_filter, batch_size=batch_rows):
            if batch.num_rows == 0:
                continue
            ids = batch.column("id")
            if wanted_ids is not None:
                keep = pc.is_in(ids, value_set=wanted_ids)
                batch, ids = batch.filter(keep), ids.filter(keep)
                if batch.num_rows == 0:
                    continue
                keys = pd.Series(ids.to_pandas()).map(period_of).astype(str).to_numpy()
            else:
                keys = self._period_keys(batch.column("time"))
            frame = _frame(batch)
            total += len(frame)
            for key in pd.unique(keys):
                chunk = frame if len(keys) and (keys == key).all() else frame[keys == key]
                chunk_counts = count_chunk(chunk, self.reference)
                if key in counts:
                    counts[key].add(chunk_counts)
                else:
                    counts[key] = chunk_counts
            if known_ids is not None:
                known = pc.is_in(ids, value_set=known_ids).to_numpy(zero_copy_only=False)
                if known.any():
                    # the index keeps its hash table between batches; a join would rebuild it every time
                    positions = index.index.get_indexer(ids.filter(pa.array(known)).to_pandas())
                    joined = frame.loc[known, ["score", "decision"]].assign(outcome=outcome_values[positions])
                    for group in self.protected:
                        if group in index:
                            joined[group] = index[group].to_numpy()[positions]
                    joined["period"] = keys[known]
                    labelled.append(joined[["period", "score", "outcome"]])
                    present = [g for g in self.protected if g in joined]
                    if present:
                        grouped.append(joined[["period", "decision", *present]])
        return self._result(counts, labelled, grouped, total)

    def _result(
        self, counts: dict[str, PeriodCounts], labelled: list[pd.DataFrame], grouped: list[pd.DataFrame], total: int
    ) -> MonitoringResult:
        labels = pd.concat(labelled) if labelled else pd.DataFrame(columns=["period", "score", "outcome"])
        favourable = decision_rule(self.spec).favourable_label
        groups = group_counts_of(pd.concat(grouped) if grouped else None, self.protected, favourable)
        return self.result_from_counts(counts, outcome_counts_of(labels), groups, total)

    def result_from_counts(
        self, counts: dict[str, PeriodCounts], outcomes: pd.DataFrame, groups: pd.DataFrame, total: int
    ) -> MonitoringResult:
        """The tables and alerts from counts alone (any engine's): per-period counts, per-score outcome counts
        (``outcome_counts_of``'s columns) and group decision counts (``group_counts_of``'s)."""
        spec, reference = self.spec, self.reference
        thresholds, settings = spec.thresholds, spec.monitoring
        period_rows, drift_rows, reason_rows, breaches = [], [], [], []
        for key in sorted(counts):
            c = counts[key]
            score_psi = psi_from_counts(reference.score_counts, c.score_bins)
            drift = drift_table(reference, c).assign(period=key)
            drift_rows.append(drift)
            row = {
                "period": key,
                "decisions": c.rows,
                "approval_rate": 1 - c.declines / c.rows,
                "mean_score": c.score_sum / c.rows,
                "score_psi": score_psi,
                "max_feature_psi": float(drift["psi"].max()),
                "most_drifted": str(drift.loc[drift["psi"].idxmax(), "feature"]),
            }
            metrics = outcome_metrics(outcomes[outcomes["period"] == key])
            row.update(metrics)
            period_rows.append(row)
            for reason, n in sorted(c.top_reasons.items(), key=lambda item: -item[1]):
                reason_rows.append({"period": key, "feature": reason, "declines": n, "share": n / max(c.declines, 1)})
            if c.rows >= settings.min_period_rows:
                if score_psi > thresholds.max_psi:
                    breaches.append(
                        Alert(
                            key,
                            "score_drift",
                            "score",
                            score_psi,
                            thresholds.max_psi,
                            f"score PSI {score_psi:.3f} above {thresholds.max_psi}",
                        )
                    )
                for item in drift.itertuples():
                    if item.psi > thresholds.max_psi:
                        breaches.append(
                            Alert(
                                key,
                                "feature_drift",
                                item.feature,
                                item.psi,
                                thresholds.max_psi,
                                f"{item.feature} PSI {item.psi:.3f} above {thresholds.max_psi}",
                            )
                        )
            if (
                metrics["labelled"] >= settings.min_labelled
                and "auc" in metrics
                and metrics["auc"] < thresholds.min_auc
            ):
                breaches.append(
                    Alert(
                        key,
                        "performance",
                        "auc",
                        metrics["auc"],
                        thresholds.min_auc,
                        f"AUC {metrics['auc']:.3f} on {int(metrics['labelled'])} outcomes below {thresholds.min_auc}",
                    )
                )
        attributes = [(a.name, a.reference) for a in spec.protected_attributes]
        fairness = fairness_from_counts(groups, attributes)
        for item in fairness.itertuples():
            if item.decisions >= settings.min_group_decisions and item.ratio < thresholds.disparate_impact_floor:
                breaches.append(
                    Alert(
                        item.period,
                        "fairness",
                        f"{item.attribute}={item.group}",
                        item.ratio,
                        thresholds.disparate_impact_floor,
                        f"approval-rate ratio {item.ratio:.2f} for {item.attribute} {item.group} "
                        f"below {thresholds.disparate_impact_floor}",
                    )
                )
        return MonitoringResult(
            model=reference.name,
            version=reference.version,
            period=self.period,
            periods=pd.DataFrame(period_rows),
            drift=pd.concat(drift_rows, ignore_index=True) if drift_rows else pd.DataFrame(),
            fairness=fairness,
            reasons=pd.DataFrame(reason_rows),
            breaches=breaches,
            alerts=_persistent(breaches, sorted(counts), settings.alert_after_periods),
            decisions=total,
            labelled=int(outcomes["positives"].sum() + outcomes["negatives"].sum()) if len(outcomes) else 0,
            spec=spec,
            settings={
                "max_psi": thresholds.max_psi,
                "min_auc": thresholds.min_auc,
                "disparate_impact_floor": thresholds.disparate_impact_floor,
                **settings.model_dump(),
            },
        )


def _frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """The batch without ids, text columns as pandas categoricals (counted by code)."""
    arrays, names = [], []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if name == "id":
            continue
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = column.dictionary_encode()
        arrays.append(column)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names).to_pandas()


def _persistent(breaches: list[Alert], periods: list[str], needed: int) -> list[Alert]:
    """Breaches that persisted ``needed`` consecutive periods (the last of each run is the alert)."""
    if needed <= 1:
        return sorted(breaches, key=lambda a: (a.period, a.kind, a.subject))
    position = {p: i for i, p in enumerate(periods)}
    by_subject: dict[tuple[str, str], list[Alert]] = {}
    for alert in breaches:
        by_subject.setdefault((alert.kind, alert.subject), []).append(alert)
    alerts = []
    for series in by_subject.values():
        run = 1
        for previous, current in zip(series, series[1:], strict=False):
            run = run + 1 if position[current.period] == position[previous.period] + 1 else 1
            if run >= needed:
                alerts.append(current)
    return sorted(alerts, key=lambda a: (a.period, a.kind, a.subject))
