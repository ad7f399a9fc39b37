"""The Spark engine of monitoring: the pandas engine's tables from decisions in Parquet, counted on a cluster.

Only counts reach the driver. Each executor reduces its Arrow batches with the pandas engine's own
:func:`count_chunk` (so the PSI bins, the exact KS / chi-square cells, score bins and reason mix are binned by
one definition) and emits them as (period, kind, name, cell, count) rows; Spark SQL adds them up per period and
cell. Outcomes are joined in Spark and counted per period and **score value** (adverse, favourable), group
decisions per period, attribute and group; the measures are then computed by the same functions as on one
machine (:mod:`workbench.monitoring._outcome_counts`, :func:`drift_table`). Counts are integers, so PSI,
KS and chi-square equal the pandas engine's to the last bit, and so does the AUC (integer Mann-Whitney); only
the mean score is a float sum whose order differs (1e-15).

Periods are computed in Spark SQL in UTC (the session's time zone): day ``yyyy-MM-dd``, month ``yyyy-MM``, and
week as pandas labels it, ``<Monday>/<Sunday>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.monitoring._drift import PeriodCounts, count_chunk
from workbench.monitoring._monitor import Monitor, MonitoringResult
from workbench.monitoring._outcome_counts import GROUP_COUNT_COLUMNS, OUTCOME_COUNT_COLUMNS
from workbench.monitoring._reference import MonitoringReference

COUNT_SCHEMA = "period string, kind string, name string, cell long, n long, total double"


def _period_column(period: str):
    from pyspark.sql import functions as F

    time = F.col("time")
    if period == "D":
        return F.date_format(time, "yyyy-MM-dd")
    if period == "M":
        return F.date_format(time, "yyyy-MM")
    monday = F.to_date(F.date_trunc("week", time))
    return F.concat(F.date_format(monday, "yyyy-MM-dd"), F.lit("/"), F.date_format(F.date_add(monday, 6), "yyyy-MM-dd"))


def _emit(key: str, counts: PeriodCounts) -> list[tuple]:
    """One chunk's counts as rows (only cells that hold something)."""
    rows = [(key, "rows", "", 0, counts.rows, 0.0), (key, "declines", "", 0, counts.declines, 0.0)]
    rows.append((key, "score_sum", "", 0, 0, counts.score_sum))
    for cell in np.flatnonzero(counts.score_bins):
        rows.append((key, "score_bin", "", int(cell), int(counts.score_bins[cell]), 0.0))
    for kind, table in (("feature_bin", counts.feature_bins), ("feature_cell", counts.feature_cells)):
        for name, values in table.items():
            for cell in np.flatnonzero(values):
                rows.append((key, kind, name, int(cell), int(values[cell]), 0.0))
    for reason, n in counts.top_reasons.items():
        rows.append((key, "reason", reason, 0, int(n), 0.0))
    return rows


def _template(reference: MonitoringReference) -> PeriodCounts:
    """Zero counts with every array at its length (the pandas engine's own, on no rows)."""
    empty = {n: pd.Series([], dtype=float if f.kind == "numeric" else object) for n, f in reference.features.items()}
    frame = pd.DataFrame({**empty, "score": pd.Series([], dtype=float), "decision": pd.Series([], dtype=object)})
    return count_chunk(frame, reference)


def _period_counts(rows: list, reference: MonitoringReference) -> dict[str, PeriodCounts]:
    template = _template(reference)
    counts: dict[str, PeriodCounts] = {}
    for key, kind, name, cell, n, total in rows:
        if key not in counts:
            counts[key] = PeriodCounts(
                feature_bins={k: np.zeros_like(v) for k, v in template.feature_bins.items()},
                feature_cells={k: np.zeros_like(v) for k, v in template.feature_cells.items()},
                score_bins=np.zeros_like(template.score_bins),
            )
        c = counts[key]
        if kind == "rows":
            c.rows = int(n)
        elif kind == "declines":
            c.declines = int(n)
        elif kind == "score_sum":
            c.score_sum = float(total)
        elif kind == "score_bin":
            c.score_bins[cell] = n
        elif kind == "feature_bin":
            c.feature_bins[name][cell] = n
        elif kind == "feature_cell":
            c.feature_cells[name][cell] = n
        elif kind == "reason":
            c.top_reasons[name] = int(n)
    return counts


def spark_monitor(
    session,
    reference: MonitoringReference,
    folder: Path | str,
    outcomes: pd.DataFrame | None = None,
    period: str | None = None,
    period_of: pd.Series | None = None,
) -> MonitoringResult:
    """Monitoring of a folder of Parquet decisions on Spark: the pandas engine's :class:`MonitoringResult`."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    monitor = Monitor(reference, period)
    features = list(reference.spec.features.all)
    # the decisions' times are pandas' nanoseconds, which Spark reads only as a number of nanoseconds
    session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    decisions = (
        session.read.parquet(str(folder))
        .where(F.col("version") == reference.version)
        .select("id", "time", "score", "decision", "top_reason", *features)
    )
    if isinstance(decisions.schema["time"].dataType, T.LongType):
        decisions = decisions.withColumn("time", F.timestamp_micros(F.floor(F.col("time") / 1000)))
    if period_of is not None:
        keys = pd.DataFrame({"id": period_of.index.astype(str), "period": period_of.astype(str).to_numpy()})
        keyed = session.createDataFrame(keys, "id string, period string")
        decisions = decisions.join(F.broadcast(keyed), "id")
    else:
        decisions = decisions.withColumn("period", _period_column(monitor.period))
    decisions = decisions.drop("time")
    shared = session.sparkContext.broadcast(reference)

    def count(batches):
        mine = shared.value
        for batch in batches:
            rows = []
            for key, chunk in batch.groupby("period", sort=False):
                rows += _emit(str(key), count_chunk(chunk, mine))
            yield pd.DataFrame(rows, columns=["period", "kind", "name", "cell", "n", "total"])

    summed = (
        decisions.mapInPandas(count, COUNT_SCHEMA)
        .groupBy("period", "kind", "name", "cell")
        .agg(F.sum("n").alias("n"), F.sum("total").alias("total"))
        .collect()
    )
    counts = _period_counts([tuple(r) for r in summed], reference)
    total = sum(c.rows for c in counts.values())
    outcome_counts = pd.DataFrame(columns=OUTCOME_COUNT_COLUMNS)
    group_counts = pd.DataFrame(columns=GROUP_COUNT_COLUMNS)
    if outcomes is not None and len(outcomes):
        groups = [g for g in monitor.protected if g in outcomes]
        fields = [T.StructField("decision_id", T.StringType()), T.StructField("outcome", T.LongType())]
        fields += [T.StructField(g, T.StringType()) for g in groups]
        frame = outcomes[["decision_id", "outcome", *groups]].astype({"decision_id": str, "outcome": "int64"})
        for g in groups:
            frame[g] = frame[g].astype(object).where(frame[g].notna(), None).map(lambda v: v if v is None else str(v))
        known = session.createDataFrame(frame, T.StructType(fields))
        joined = decisions.select("id", "period", "score", "decision").join(
            known, decisions["id"] == known["decision_id"]
        )
        per_score = (
            joined.groupBy("period", "score")
            .agg(F.sum("outcome").alias("positives"), F.count(F.lit(1)).alias("rows"))
            .collect()
        )
        outcome_counts = pd.DataFrame(
            [(r["period"], r["score"], int(r["positives"]), int(r["rows"] - r["positives"])) for r in per_score],
            columns=OUTCOME_COUNT_COLUMNS,
        )
        favourable = reference.rule.favourable_label
        rows = []
        for g in groups:
            for r in (
                joined.where(F.col(g).isNotNull())
                .groupBy("period", g)
                .agg(
                    F.count(F.lit(1)).alias("decisions"),
                    F.sum((F.col("decision") == favourable).cast("long")).alias("favourable"),
                )
                .collect()
            ):
                rows.append((r["period"], g, r[g], int(r["decisions"]), int(r["favourable"])))
        group_counts = pd.DataFrame(rows, columns=GROUP_COUNT_COLUMNS)
    shared.unpersist()
    return monitor.result_from_counts(counts, outcome_counts, group_counts, total)
