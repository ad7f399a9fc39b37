"""Sensitivity and robustness: small input changes should make small score changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.validation._registry import result, validation_test


@validation_test(
    "sensitivity.perturbation",
    "sensitivity",
    "Score change under input perturbation",
    purpose="Check that the score is not fragile to measurement noise in the inputs.",
    method="Each numeric feature of the validation sample is raised by 1% and by 10% in turn; mean absolute "
    "score change and share of decisions that flip at the cut-off.",
    high_risk_signs="A 1% change flipping more than 5% of decisions.",
    limitations="One feature at a time; categorical inputs are not perturbed.",
    severity="medium",
    remediation="Smooth the model (fewer, coarser splits) or cap the sensitive feature.",
)
def perturbation(ctx, test):
    base = ctx.p_val
    base_adverse = ctx.rule.adverse(base)
    rows = []
    for name in ctx.spec.features.numeric:
        for factor in (1.01, 1.10):
            shifted = ctx.x_val.copy()
            shifted[name] = shifted[name] * factor
            score = ctx.score(shifted)
            rows.append(
                {
                    "feature": name,
                    "change": f"+{factor - 1:.0%}",
                    "mean_abs_score_change": float(np.mean(np.abs(score - base))),
                    "max_abs_score_change": float(np.max(np.abs(score - base))),
                    "decision_flips": float(np.mean(ctx.rule.adverse(score) != base_adverse)),
                }
            )
    table = pd.DataFrame(rows)
    small = table[table["change"] == "+1%"]
    worst = small.loc[small["decision_flips"].idxmax()]
    flips = float(worst["decision_flips"])
    outcome = "fail" if flips > 0.05 else ("warn" if flips > 0.02 else "pass")
    return result(
        test,
        outcome,
        f"a 1% change flips at most {flips:.1%} of decisions ({worst['feature']})",
        values={"max_flips_1pct": flips},
        tables={"perturbation": table},
    )


@validation_test(
    "sensitivity.stress",
    "sensitivity",
    "Stress of key drivers",
    purpose="Show how the portfolio's risk and approval rate react to adverse scenarios of the main drivers.",
    method="Numeric features of the validation sample stressed by -25% and +25% in turn; mean PD and approval "
    "rate at the cut-off against the unstressed sample.",
    high_risk_signs="An approval rate moving by more than 20 percentage points under a 25% stress.",
    limitations="Single-factor scenarios.",
    severity="low",
    remediation="Document the exposure; consider policy overlays.",
)
def stress(ctx, test):
    base_pd, base_approval = float(ctx.p_val.mean()), ctx.rule.favourable_rate(ctx.p_val)
    rows = [{"scenario": "baseline", "mean_pd": base_pd, "approval_rate": base_approval}]
    for name in ctx.spec.features.numeric:
        for factor in (0.75, 1.25):
            shifted = ctx.x_val.copy()
            shifted[name] = shifted[name] * factor
            score = ctx.score(shifted)
            rows.append(
                {
                    "scenario": f"{name} x{factor}",
                    "mean_pd": float(score.mean()),
                    "approval_rate": ctx.rule.favourable_rate(score),
                }
            )
    table = pd.DataFrame(rows)
    table["approval_change"] = table["approval_rate"] - base_approval
    worst = table.loc[table["approval_change"].abs().idxmax()]
    moved = abs(float(worst["approval_change"]))
    return result(
        test,
        "warn" if moved > 0.20 else "pass",
        f"largest approval-rate move {worst['approval_change']:+.1%} ({worst['scenario']})",
        values={"max_approval_move": moved},
        tables={"scenarios": table},
    )
