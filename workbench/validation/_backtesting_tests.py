"""PD back-testing by rating grade: binomial and Jeffreys tests and a traffic-light summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.stats import binomial_test, jeffreys_test, traffic_light
from workbench.validation._registry import result, validation_test

#: PD band upper edges of the rating grades (A best ... G worst).
GRADE_EDGES = (0.05, 0.10, 0.20, 0.30, 0.45, 0.65, 1.0)
GRADES = ("A", "B", "C", "D", "E", "F", "G")


def grade_table(ctx) -> pd.DataFrame:
    """Validation cases per rating grade: count, observed defaults, mean PD and both tests' p-values."""
    grade = np.searchsorted(np.asarray(GRADE_EDGES), ctx.p_val, side="left")
    frame = pd.DataFrame(
        {"grade": np.asarray(GRADES)[np.minimum(grade, len(GRADES) - 1)], "y": ctx.y_val, "p": ctx.p_val}
    )
    table = frame.groupby("grade").agg(n=("y", "size"), defaults=("y", "sum"), mean_pd=("p", "mean")).reset_index()
    table["observed_rate"] = table["defaults"] / table["n"]
    table["binomial_p"] = [
        binomial_test(d, n, p) for d, n, p in zip(table["defaults"], table["n"], table["mean_pd"], strict=True)
    ]
    table["jeffreys_p"] = [
        jeffreys_test(d, n, p) for d, n, p in zip(table["defaults"], table["n"], table["mean_pd"], strict=True)
    ]
    table["light"] = [traffic_light(min(b, j)) for b, j in zip(table["binomial_p"], table["jeffreys_p"], strict=True)]
    return table


def _per_grade_test(ctx, test, column: str):
    """Judge one back-test by its grades' traffic lights; report the lowest p-value."""
    table = grade_table(ctx)
    worst = table.loc[table[column].idxmin()]
    return result(
        test,
        _judge(table[column].map(traffic_light)),
        f"lowest p-value {worst[column]:.3f} (grade {worst['grade']})",
        values={"min_p_value": float(worst[column])},
        tables={"grades": table},
    )


def _judge(lights: pd.Series) -> str:
    if (lights == "red").any():
        return "fail"
    return "warn" if (lights == "amber").any() else "pass"


@validation_test(
    "backtesting.binomial",
    "backtesting",
    "Binomial test of PD by grade",
    purpose="Test whether each grade's observed default count is consistent with its predicted PD.",
    method="One-sided exact binomial test (scipy.stats.binomtest) per grade, H0: the PD is not underestimated.",
    high_risk_signs="p < 0.01 in any grade (red), p < 0.05 (amber).",
    limitations="Assumes independent defaults; ignores default correlation, so it is conservative in a downturn.",
    severity="high",
    remediation="Recalibrate the grades that fail.",
)
def binomial(ctx, test):
    return _per_grade_test(ctx, test, "binomial_p")


@validation_test(
    "backtesting.jeffreys",
    "backtesting",
    "Jeffreys test of PD by grade",
    purpose="The ECB's preferred PD back-test: a Bayesian view that behaves well for low-default grades.",
    method="p = CDF of Beta(d + 1/2, n - d + 1/2) at the grade's mean PD, per grade.",
    high_risk_signs="p < 0.01 in any grade (red), p < 0.05 (amber).",
    limitations="As for the binomial test.",
    severity="high",
    remediation="Recalibrate the grades that fail.",
)
def jeffreys(ctx, test):
    return _per_grade_test(ctx, test, "jeffreys_p")


@validation_test(
    "backtesting.traffic_light",
    "backtesting",
    "Back-testing traffic light",
    purpose="One summary of PD adequacy per grade for the committee.",
    method="Per grade, the lower of the binomial and Jeffreys p-values: green >= 0.05, amber >= 0.01, red below. "
    "One amber grade among five or more is expected by chance (5% each) and passes.",
    high_risk_signs="Any red grade; several amber grades.",
    limitations="As for the underlying tests.",
    severity="high",
    remediation="Recalibrate; review the red grades with the model owner.",
)
def lights(ctx, test):
    table = grade_table(ctx)
    counts = table["light"].value_counts().to_dict()
    summary = ", ".join(f"{counts.get(c, 0)} {c}" for c in ("green", "amber", "red"))
    outcome = _judge(table["light"])
    if outcome == "warn" and counts.get("amber", 0) == 1:
        outcome = "pass" if len(table) >= 5 else outcome
    return result(
        test,
        outcome,
        f"grades: {summary}",
        values={k: int(v) for k, v in counts.items()},
        tables={"grades": table[["grade", "n", "defaults", "mean_pd", "observed_rate", "light"]]},
    )
