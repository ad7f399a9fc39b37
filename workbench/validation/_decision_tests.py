"""Decision analysis: what the spec's cut-off does to approvals, losses and cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from workbench.decision import DecisionRule
from workbench.findings import figure_png, new_figure
from workbench.validation._registry import result, validation_test


def decision_summary(
    y: np.ndarray, p: np.ndarray, rule: DecisionRule, approve_adverse: float, decline_good: float
) -> dict[str, float]:
    """Approval rate, adverse rate among approved, and expected cost per application under a decision rule."""
    approved = ~rule.adverse(p)
    cost = approve_adverse * np.sum(approved & (y == 1)) + decline_good * np.sum(~approved & (y == 0))
    return {
        "cutoff": rule.threshold,
        "approval_rate": float(approved.mean()),
        "adverse_rate_approved": float(y[approved].mean()) if approved.any() else float("nan"),
        "adverse_caught": float(np.mean(~approved[y == 1])) if (y == 1).any() else float("nan"),
        "expected_cost": float(cost / len(y)),
    }


def cutoff_sweep(
    y: np.ndarray, p: np.ndarray, rule: DecisionRule, approve_adverse: float, decline_good: float
) -> pd.DataFrame:
    """Decision summary of the rule at cut-offs 0.01 to 0.99."""
    return pd.DataFrame(
        [
            decision_summary(y, p, rule.with_threshold(c), approve_adverse, decline_good)
            for c in np.round(np.arange(0.01, 1.0, 0.01), 2)
        ]
    )


@validation_test(
    "decision.at_cutoff",
    "decision",
    "Approval rate, adverse rate and expected cost at the cut-off",
    purpose="State what the decision policy does with this model.",
    method="On the validation sample at the spec's cut-off: approval rate, adverse rate among approved, share "
    "of adverse outcomes declined, expected cost per application with the spec's cost matrix.",
    high_risk_signs="Approved cases as risky as the whole population (the cut-off does nothing).",
    limitations="Uses historical outcomes of approved and declined alike (no reject inference).",
    severity="medium",
    remediation="Revisit the cut-off with the business owner.",
    headline={"approval_rate": "approval_rate"},
)
def at_cutoff(ctx, test):
    costs = ctx.spec.decision.costs
    summary = decision_summary(ctx.y_val, ctx.p_val, ctx.rule, costs.approve_adverse, costs.decline_good)
    approve_all = decision_summary(
        ctx.y_val, ctx.p_val, ctx.rule.with_threshold(1.0 + 1e-9), costs.approve_adverse, costs.decline_good
    )
    outcome = "fail" if summary["adverse_rate_approved"] >= ctx.y_val.mean() else "pass"
    return result(
        test,
        outcome,
        f"approve {summary['approval_rate']:.1%}, adverse rate among approved "
        f"{summary['adverse_rate_approved']:.1%} (all: {ctx.y_val.mean():.1%}), expected cost "
        f"{summary['expected_cost']:.3f} per application (approve all: {approve_all['expected_cost']:.3f})",
        values=summary | {"cost_approve_all": approve_all["expected_cost"]},
    )


@validation_test(
    "decision.cutoff_sweep",
    "decision",
    "Cut-off sweep and cost-optimal cut-off",
    purpose="Show the trade-off the committee is choosing and where the cost minimum lies.",
    method="Approval rate, adverse rate among approved and expected cost at every cut-off from 0.01 to 0.99.",
    high_risk_signs="The spec's cut-off costs more than 10% above the minimum (warn) or 25% (fail).",
    limitations="The cost matrix is a simplification of profit and loss.",
    severity="low",
    remediation="Move the cut-off towards the cost minimum or document the business reason.",
)
def sweep(ctx, test):
    costs = ctx.spec.decision.costs
    table = cutoff_sweep(ctx.y_val, ctx.p_val, ctx.rule, costs.approve_adverse, costs.decline_good)
    best = table.loc[table["expected_cost"].idxmin()]
    current = decision_summary(ctx.y_val, ctx.p_val, ctx.rule, costs.approve_adverse, costs.decline_good)
    excess = current["expected_cost"] / best["expected_cost"] - 1 if best["expected_cost"] > 0 else 0.0
    fig, ax = new_figure(figsize=(5.6, 3.6))
    ax.plot(table["cutoff"], table["expected_cost"], label="expected cost per application")
    ax.plot(table["cutoff"], table["approval_rate"], label="approval rate")
    ax.axvline(ctx.spec.decision.cutoff, color="black", linestyle="--", label="spec cut-off")
    ax.axvline(best["cutoff"], color="green", linestyle=":", label="cost-optimal")
    ax.set(xlabel="cut-off (decline when P(adverse) >= cut-off)", title="Cut-off sweep, validation sample")
    ax.legend(fontsize=8)
    outcome = "fail" if excess > 0.25 else ("warn" if excess > 0.10 else "pass")
    return result(
        test,
        outcome,
        f"cost-optimal cut-off {best['cutoff']:.2f} (cost {best['expected_cost']:.3f}); "
        f"spec cut-off {ctx.spec.decision.cutoff} costs {excess:+.1%} more",
        values={"optimal_cutoff": float(best["cutoff"]), "excess_cost": float(excess)},
        tables={"sweep": table},
        figures={"cutoff_sweep": figure_png(fig)},
    )


@validation_test(
    "decision.confusion",
    "decision",
    "Confusion matrix at the cut-off",
    purpose="Count the right and wrong decisions the policy makes.",
    method="Confusion matrix (scikit-learn) of the decline decision against the outcome; recall of adverse "
    "outcomes and precision of declines.",
    high_risk_signs="Fewer than half of adverse outcomes declined.",
    limitations="As for decision.at_cutoff.",
    severity="low",
    remediation="Revisit the cut-off.",
)
def confusion(ctx, test):
    matrix = confusion_matrix(ctx.y_val, ctx.decisions, labels=[0, 1])
    tn, fp, fn, tp = (int(v) for v in matrix.ravel())
    recall = tp / (tp + fn) if tp + fn else float("nan")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    table = pd.DataFrame({"outcome": ["good", "adverse"], "approved": [tn, fn], "declined": [fp, tp]})
    return result(
        test,
        "warn" if recall < 0.5 else "pass",
        f"declines catch {recall:.1%} of adverse outcomes; {precision:.1%} of declines are adverse",
        values={"tn": tn, "fp": fp, "fn": fn, "tp": tp, "recall": recall, "precision": precision},
        tables={"confusion": table},
    )
