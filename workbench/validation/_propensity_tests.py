"""The propensity kind's tests: does the score find the buyers (gains and lift), and does the contact policy pay?

They sit in the ordinary categories (discrimination, decision), so the documents place them where a reader
looks; for the other kinds each skips itself with the reason. Calibration and stability are the common tests:
a propensity score is a probability, and the calibration tests judge it as one.
"""

from __future__ import annotations

import numpy as np

from workbench.findings import figure_png, new_figure
from workbench.stats import gains_table, profit_curve
from workbench.validation._registry import result, validation_test

ONLY_PROPENSITY = "it judges whom a campaign contacts: the response, gains and profit of a contact policy"


@validation_test(
    "discrimination.cumulative_gains",
    "discrimination",
    "Cumulative gains and lift by decile; response rate in the top decile",
    purpose="Show how many of the buyers the best-scored customers hold: what a campaign to the top x% reaches.",
    method="Validation customers ranked by score (stable sort) and cut in ten groups as equal as possible; per group "
    "the response rate, lift (response rate / overall rate), cumulative gain (share of buyers found so far) and "
    "cumulative lift. Judged by the top decile's lift.",
    high_risk_signs="Top-decile lift below thresholds.min_top_decile_lift (fail below 1: no better than random); "
    "response rates that do not fall from the top group to the bottom.",
    limitations="With about 100 buyers in the validation sample a decile holds about 10: lifts move by a tenth "
    "with one buyer more or less.",
    thresholds=("min_top_decile_lift",),
    severity="high",
    remediation="Add features that separate buyers, or more labelled customers.",
    headline={
        "response_rate": "response_rate",
        "top_decile_response_rate": "top_decile_response_rate",
        "top_decile_lift": "top_decile_lift",
    },
    not_applicable=ONLY_PROPENSITY,
)
def cumulative_gains(ctx, test):
    table = gains_table(ctx.y_val, ctx.p_val)
    top = table.iloc[0]
    lift, base = float(top["lift"]), float(np.mean(ctx.y_val))
    floor = ctx.spec.thresholds.min_top_decile_lift
    outcome = "fail" if not lift >= 1.0 else ("warn" if lift < floor else "pass")
    fig, ax = new_figure(figsize=(5.0, 3.6))
    ax.plot([0, *table["cumulative_share"]], [0, *table["gain"]], marker="o", label="model")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random")
    ax.set(xlabel="share of customers contacted (top scores first)", ylabel="share of buyers reached")
    ax.set_title("Cumulative gains, validation sample")
    ax.legend(fontsize=8)
    return result(
        test,
        outcome,
        f"top decile: response rate {top['response_rate']:.1%} against {base:.1%} overall, lift {lift:.2f} "
        f"(min {floor}); the top 30% hold {table['gain'].iloc[2]:.0%} of the buyers",
        values={
            "response_rate": base,
            "top_decile_response_rate": float(top["response_rate"]),
            "top_decile_lift": lift,
            "gain_top_30": float(table["gain"].iloc[2]),
        },
        tables={"gains": table},
        figures={"gains": figure_png(fig)},
    )


@validation_test(
    "decision.profit_curve",
    "decision",
    "Profit curve and the contact share the policy chooses",
    purpose="Check that the contact policy pays, and how much it leaves on the table against the best share.",
    method="On the validation sample, the profit of contacting the top k customers for every k (value x buyers "
    "reached - contact cost x k, from decision.value and decision.contact_cost), against the policy's own contacts "
    "(the recorded threshold) and their realised profit.",
    high_risk_signs="The policy loses money; or it earns less than 80% of the best share's profit.",
    limitations="Profit is realised on one holdout sample: the best share is itself an estimate; value and cost are "
    "the spec's figures, the same for every customer.",
    severity="medium",
    remediation="Set decision.contact_share nearer the best share, or revisit value and cost with the business.",
    headline={"contact_share": "contact_share", "expected_profit": "profit", "profit_best_share": "best_share"},
    not_applicable=ONLY_PROPENSITY,
)
def profit(ctx, test):
    decision = ctx.spec.decision
    cost, value = float(decision.contact_cost or 0.0), float(decision.value or 0.0)
    curve = profit_curve(ctx.y_val, ctx.p_val, cost, value)
    contacted = ~ctx.rule.adverse(ctx.p_val)
    share = float(contacted.mean())
    realised = float(value * np.sum(ctx.y_val[contacted] == 1) - cost * contacted.sum())
    best = curve.loc[curve["profit"].idxmax()]
    everyone = float(curve["profit"].iloc[-1])
    if realised < 0:
        outcome = "fail"
    elif best["profit"] > 0 and realised < 0.8 * best["profit"]:
        outcome = "warn"
    else:
        outcome = "pass"
    fig, ax = new_figure(figsize=(5.0, 3.6))
    ax.plot(curve["share"], curve["profit"], label="contact the top share")
    ax.axvline(share, color="C1", linestyle="--", label=f"policy: {share:.0%}")
    ax.axhline(0, color="grey", linestyle=":")
    ax.set(xlabel="share of customers contacted", ylabel="profit", title="Profit curve, validation sample")
    ax.legend(fontsize=8)
    steps = curve.iloc[np.unique(np.linspace(0, len(curve) - 1, 21).round().astype(int))]
    return result(
        test,
        outcome,
        f"the policy contacts {share:.1%} of customers for a profit of {realised:,.0f}; the best share, "
        f"{best['share']:.1%}, earns {best['profit']:,.0f}; contacting everyone {everyone:,.0f}",
        values={
            "contact_share": share,
            "profit": realised,
            "best_share": float(best["share"]),
            "best_profit": float(best["profit"]),
            "profit_everyone": everyone,
        },
        tables={"profit_curve": steps.reset_index(drop=True)},
        figures={"profit_curve": figure_png(fig)},
    )
