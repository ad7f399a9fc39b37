"""Segments: performance and calibration by business segment and by protected group."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import roc_auc_score

from workbench.validation._registry import result, validation_test

MIN_SEGMENT = 40


SEGMENT_COLUMNS = ["segment", "level", "n", "adverse_rate", "mean_pd", "auc", "approval_rate", "calibration_p"]


def _segment_rows(ctx, column_values: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per segment of enough cases; the columns exist even with no segment (no categorical feature)."""
    rows = []
    for column, values in column_values.items():
        for level in pd.unique(values):
            members = values == level
            y, p = ctx.y_val[members], ctx.p_val[members]
            if members.sum() < MIN_SEGMENT:
                continue
            auc = roc_auc_score(y, p) if 0 < y.sum() < len(y) and min(y.sum(), len(y) - y.sum()) >= 5 else np.nan
            test = binomtest(int(y.sum()), len(y), float(np.clip(p.mean(), 1e-9, 1 - 1e-9)))
            rows.append(
                {
                    "segment": column,
                    "level": str(level),
                    "n": int(members.sum()),
                    "adverse_rate": float(y.mean()),
                    "mean_pd": float(p.mean()),
                    "auc": auc,
                    "approval_rate": ctx.rule.favourable_rate(p),
                    "calibration_p": float(test.pvalue),
                }
            )
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


@validation_test(
    "segments.performance",
    "segments",
    "Performance by business segment",
    purpose="Find the segments where the model ranks poorly.",
    method=f"AUC, adverse rate, mean PD and approval rate per level of each categorical feature (levels with at "
    f"least {MIN_SEGMENT} validation cases and 5 of each outcome); the weakest segments are listed.",
    high_risk_signs="A segment AUC more than 0.10 below min_auc.",
    limitations="Small segments are noisy.",
    thresholds=("min_auc",),
    severity="medium",
    remediation="Consider segment-specific treatment or overlays.",
)
def performance(ctx, test):
    values = {name: ctx.x_val[name].astype(str).to_numpy() for name in ctx.spec.features.categorical}
    table = _segment_rows(ctx, values).sort_values("auc")
    floor = ctx.spec.thresholds.min_auc - 0.10
    weak = table[table["auc"] < floor]
    weakest = table.dropna(subset=["auc"]).head(5)
    listed = ", ".join(f"{r.segment}={r.level} ({r.auc:.3f})" for r in weakest.itertuples())
    return result(
        test,
        "warn" if len(weak) else "pass",
        f"weakest segments: {listed}" if listed else "no business segment: the model has no categorical feature",
        values={"segments_below_floor": len(weak)},
        tables={"segments": table, "weakest": weakest},
    )


@validation_test(
    "segments.protected_groups",
    "segments",
    "Performance by protected group",
    purpose="A model should rank equally well for every protected group (fairness of accuracy).",
    method="AUC, adverse rate, mean PD and approval rate per group of each protected attribute.",
    high_risk_signs="AUC differs between groups by more than 0.10 (warn) or 0.20 (fail).",
    limitations="Groups can be small.",
    severity="high",
    remediation="Investigate the weaker group's data; see the fairness report.",
)
def protected_groups(ctx, test):
    groups = ctx.groups("validation")
    table = _segment_rows(ctx, {name: groups[name].to_numpy() for name in groups.columns})
    gaps = table.groupby("segment")["auc"].agg(lambda a: a.max() - a.min()) if len(table) else pd.Series()
    worst = float(gaps.max()) if len(gaps) else 0.0
    outcome = "fail" if worst > 0.20 else ("warn" if worst > 0.10 else "pass")
    return result(
        test,
        outcome,
        f"largest AUC gap between groups {worst:.3f}",
        values={"max_auc_gap": worst},
        tables={"groups": table},
    )


@validation_test(
    "segments.calibration",
    "segments",
    "Calibration by segment",
    purpose="Find segments whose predicted PD is systematically off.",
    method="Two-sided exact binomial test of observed adverse count against the mean PD, per segment.",
    high_risk_signs="Any segment with p < 0.01.",
    limitations="Many tests: some rejections happen by chance.",
    severity="medium",
    remediation="Recalibrate or add the segment as a feature.",
    not_applicable="it compares predicted probabilities with observed rates by segment: a calibrated score",
)
def calibration(ctx, test):
    values = {name: ctx.x_val[name].astype(str).to_numpy() for name in ctx.spec.features.categorical}
    table = _segment_rows(ctx, values).sort_values("calibration_p")
    bad = table[table["calibration_p"] < 0.01]
    reason = (
        (f"{len(bad)} segment(s) miscalibrated at 1%: " + ", ".join(f"{r.segment}={r.level}" for r in bad.itertuples()))
        if len(bad)
        else "no segment miscalibrated at the 1% level"
    )
    return result(
        test,
        "warn" if len(bad) else "pass",
        reason,
        values={"miscalibrated": len(bad)},
        tables={"segments": table[["segment", "level", "n", "adverse_rate", "mean_pd", "calibration_p"]]},
    )
