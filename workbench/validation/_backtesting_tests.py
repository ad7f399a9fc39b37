"""PD back-testing: binomial (independent and correlated) and Jeffreys tests by grade and for the portfolio."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.stats import (
    binomial_test,
    jeffreys_portfolio_test,
    jeffreys_test,
    traffic_light,
    vasicek_binomial_test,
)
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


@validation_test(
    "backtesting.jeffreys_portfolio",
    "backtesting",
    "Jeffreys test of the portfolio PD",
    purpose="The ECB's portfolio-level back-test, reported beside the per-grade tests: is the average PD consistent "
    "with the portfolio's default rate?",
    method="p = CDF of Beta(D + 1/2, N - D + 1/2) at the arithmetic mean PD of the validation sample, N its cases "
    "and D their defaults (ECB instructions for reporting the validation results of internal models, IRB).",
    high_risk_signs="p < 0.01 (red), p < 0.05 (amber): the portfolio PD is underestimated.",
    limitations="One-sided (overestimated PDs pass); assumes independent defaults; errors of opposite sign in the "
    "grades can offset one another, so read it with the per-grade tests.",
    severity="high",
    remediation="Recalibrate the level of the PDs (the central tendency) on recent outcomes.",
)
def jeffreys_portfolio(ctx, test):
    outcome_j = jeffreys_portfolio_test(ctx.y_val, ctx.p_val)
    light = traffic_light(outcome_j.p_value)
    return result(
        test,
        _judge(pd.Series([light])),
        f"{outcome_j.defaults} defaults among {outcome_j.n} (rate {outcome_j.observed_rate:.3f}) against an average "
        f"PD of {outcome_j.mean_pd:.3f}: p = {outcome_j.p_value:.3f} ({light})",
        values={
            "n": outcome_j.n,
            "defaults": outcome_j.defaults,
            "mean_pd": outcome_j.mean_pd,
            "observed_rate": outcome_j.observed_rate,
            "p_value": outcome_j.p_value,
        },
    )


@validation_test(
    "backtesting.binomial_correlated",
    "backtesting",
    "Binomial test of PD by grade with default correlation",
    purpose="Test each grade's default count allowing for defaults that move together with the economy, which the "
    "independent binomial test ignores.",
    method="Vasicek one-factor model with the spec's asset correlation: given the systematic factor, defaults are "
    "independent at the conditional PD, so the default count is a binomial mixture; p = P(D >= d) by quadrature over "
    "the factor, with the critical counts at 95% and 99% (BCBS Working Paper 14; Tasche 2003).",
    high_risk_signs="p < 0.01 in any grade (red), p < 0.05 (amber).",
    limitations="Depends on the assumed asset correlation; one period of outcomes; with correlation a single period "
    "says little, so a pass is weak evidence. Read with the independent binomial test, which is too strict.",
    thresholds=("asset_correlation",),
    severity="high",
    remediation="Recalibrate the grades that fail; review the asset correlation assumed.",
)
def binomial_correlated(ctx, test):
    rho = ctx.spec.thresholds.asset_correlation
    table = grade_table(ctx)[["grade", "n", "defaults", "mean_pd", "observed_rate", "binomial_p"]]
    amber = [vasicek_binomial_test(d, n, p, rho, confidence=0.95) for d, n, p in _grade_rows(table)]
    red = [vasicek_binomial_test(d, n, p, rho, confidence=0.99) for d, n, p in _grade_rows(table)]
    table = table.assign(
        correlated_p=[r.p_value for r in red],
        critical_defaults_95=[r.critical_defaults for r in amber],
        critical_defaults_99=[r.critical_defaults for r in red],
    )
    table["light"] = table["correlated_p"].map(traffic_light)
    worst = table.loc[table["correlated_p"].idxmin()]
    return result(
        test,
        _judge(table["light"]),
        f"asset correlation {rho:.2f}: lowest p-value {worst['correlated_p']:.3f} (grade {worst['grade']}, "
        f"{int(worst['defaults'])} defaults, red from {int(worst['critical_defaults_99'])})",
        values={"min_p_value": float(worst["correlated_p"]), "asset_correlation": rho},
        tables={"grades": table},
    )


def _grade_rows(table: pd.DataFrame):
    return zip(table["defaults"].astype(int), table["n"].astype(int), table["mean_pd"].astype(float), strict=True)
