"""Calibration: do predicted probabilities match observed adverse rates?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from workbench.findings import figure_png, new_figure
from workbench.stats import expected_calibration_error, hosmer_lemeshow, spiegelhalter_test
from workbench.validation._registry import judge, result, validation_test


@validation_test(
    "calibration.curve",
    "calibration",
    "Calibration curve",
    purpose="Compare predicted and observed adverse rates across the score range.",
    method="Validation sample in ten quantile bins of the score (scikit-learn calibration_curve); largest "
    "absolute gap between mean prediction and observed rate.",
    high_risk_signs="A gap above 10 percentage points in any bin, or a systematic slope away from the diagonal.",
    limitations="Bins of a small sample are noisy; see the Hosmer-Lemeshow test.",
    severity="medium",
    remediation="Recalibrate (e.g. Platt or isotonic) on recent outcomes.",
)
def curve(ctx, test):
    observed, predicted = calibration_curve(ctx.y_val, ctx.p_val, n_bins=10, strategy="quantile")
    table = pd.DataFrame({"mean_predicted": predicted, "observed_rate": observed, "gap": observed - predicted})
    worst = float(table["gap"].abs().max())
    fig, ax = new_figure(figsize=(4.8, 4.4))
    ax.plot(predicted, observed, "o-", label="model")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed adverse rate", title="Calibration, validation")
    ax.legend()
    return result(
        test,
        judge(worst, warn_above=0.10, fail_above=0.20),
        f"largest bin gap {worst:.3f}",
        values={"max_gap": worst},
        tables={"bins": table},
        figures={"calibration": figure_png(fig)},
    )


@validation_test(
    "calibration.brier",
    "calibration",
    "Brier score and skill",
    purpose="Overall accuracy of the probabilities.",
    method="Brier score (scikit-learn) and skill = 1 - Brier / Brier of always predicting the base rate.",
    high_risk_signs="Skill at or below zero: the model's probabilities are worse than the average rate.",
    limitations="Mixes calibration and discrimination.",
    severity="high",
    remediation="Recalibrate or redevelop.",
)
def brier(ctx, test):
    y = ctx.y_val
    score = brier_score_loss(y, ctx.p_val)
    reference = brier_score_loss(y, np.full(len(y), y.mean()))
    skill = 1 - score / reference
    return result(
        test,
        judge(skill, fail_below=0.0, warn_below=0.05),
        f"Brier {score:.4f}, skill {skill:.3f} over the base rate",
        values={"brier": score, "brier_reference": reference, "skill": skill},
    )


@validation_test(
    "calibration.hosmer_lemeshow",
    "calibration",
    "Hosmer-Lemeshow test",
    purpose="Test whether observed adverse counts in risk groups agree with the predicted ones.",
    method="Chi-square over ten equal-mass groups of the score on the validation holdout. The PDs are given, not "
    "fitted on these rows, so the statistic has 10 degrees of freedom (the in-sample form's 8 rejects a correct "
    "model about twice as often as the nominal level; Hosmer & Lemeshow 2013, BCBS WP 14).",
    high_risk_signs="p-value below the spec's calibration_p_value.",
    limitations="Sensitive to the grouping; low power on small samples; the chi-square approximation is poor when "
    "a group expects fewer than about five adverse outcomes.",
    thresholds=("calibration_p_value",),
    severity="medium",
    remediation="Recalibrate on recent outcomes.",
    headline={"hosmer_lemeshow_p": "p_value"},
)
def hl(ctx, test):
    outcome_hl = hosmer_lemeshow(ctx.y_val, ctx.p_val, groups=10, sample="independent")
    limit = ctx.spec.thresholds.calibration_p_value
    return result(
        test,
        judge(outcome_hl.p_value, fail_below=limit),
        f"HL statistic {outcome_hl.statistic:.2f} on {outcome_hl.dof} df ({outcome_hl.sample} sample: PDs given, "
        f"not fitted), p = {outcome_hl.p_value:.3f}",
        values={
            "statistic": outcome_hl.statistic,
            "dof": outcome_hl.dof,
            "sample": outcome_hl.sample,
            "p_value": outcome_hl.p_value,
        },
        tables={"groups": outcome_hl.table},
    )


@validation_test(
    "calibration.spiegelhalter",
    "calibration",
    "Spiegelhalter's test",
    purpose="Test the calibration of the individual probabilities without grouping them.",
    method="z = (Brier - E[Brier]) / sd[Brier] under calibrated PDs, with E[Brier] = mean p(1 - p) and "
    "Var[Brier] = sum (1 - 2p)^2 p(1 - p) / n^2 (Spiegelhalter 1986); two-sided p-value from the standard normal, "
    "on the validation sample.",
    high_risk_signs="p-value below the spec's calibration_p_value; z > 0 means the outcomes are further from the "
    "PDs than calibrated PDs would allow.",
    limitations="Normal approximation; little power against a shift of the average PD (see the portfolio Jeffreys "
    "test) and against errors that cancel across the score range.",
    thresholds=("calibration_p_value",),
    severity="medium",
    remediation="Recalibrate on recent outcomes.",
)
def spiegelhalter(ctx, test):
    outcome_z = spiegelhalter_test(ctx.y_val, ctx.p_val)
    limit = ctx.spec.thresholds.calibration_p_value
    return result(
        test,
        judge(outcome_z.p_value, fail_below=limit),
        f"Brier {outcome_z.brier:.4f} against {outcome_z.expected_brier:.4f} expected of calibrated PDs, "
        f"z = {outcome_z.z:.2f}, p = {outcome_z.p_value:.3f}",
        values={
            "brier": outcome_z.brier,
            "expected_brier": outcome_z.expected_brier,
            "z": outcome_z.z,
            "p_value": outcome_z.p_value,
        },
    )


#: Redrawn outcome sets for the ECE's distribution under calibration.
ECE_RESAMPLES = 1000


@validation_test(
    "calibration.ece",
    "calibration",
    "Expected calibration error",
    purpose="Size of the average gap between predicted and observed adverse rates, weighted by the cases.",
    method=f"ECE = sum over ten equal-mass bins of the score of (n_b / n) |observed rate - mean PD| on the "
    f"validation sample. A calibrated model has a positive ECE on a finite sample, so outcomes are redrawn "
    f"{ECE_RESAMPLES:,} times from the PDs themselves (seeded with the split seed): the p-value is the share of "
    f"redrawn ECEs at or above the observed one.",
    high_risk_signs="p-value below the spec's calibration_p_value; an ECE well above its expected value under "
    "calibration.",
    limitations="Depends on the number and kind of bins; absolute gaps of opposite sign do not cancel, so it shows "
    "the size of miscalibration, not its direction (see the calibration curve).",
    thresholds=("calibration_p_value",),
    severity="medium",
    remediation="Recalibrate on recent outcomes.",
)
def ece(ctx, test):
    outcome_ece = expected_calibration_error(
        ctx.y_val, ctx.p_val, bins=10, strategy="quantile", resamples=ECE_RESAMPLES, seed=ctx.spec.split.seed
    )
    limit = ctx.spec.thresholds.calibration_p_value
    return result(
        test,
        judge(outcome_ece.p_value, fail_below=limit),
        f"ECE {outcome_ece.ece:.3f} over {outcome_ece.bins} equal-mass bins, "
        f"{outcome_ece.expected_under_calibration:.3f} expected of calibrated PDs, p = {outcome_ece.p_value:.3f}",
        values={
            "ece": outcome_ece.ece,
            "expected_under_calibration": outcome_ece.expected_under_calibration,
            "p_value": outcome_ece.p_value,
            "bins": outcome_ece.bins,
            "strategy": outcome_ece.strategy,
        },
        tables={"bins": outcome_ece.table},
    )
