"""Calibration: do predicted probabilities match observed adverse rates?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from workbench.findings import figure_png, new_figure
from workbench.stats import hosmer_lemeshow
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
