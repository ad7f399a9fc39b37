"""Discrimination: how well the score separates adverse from other outcomes on the validation sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from workbench.findings import figure_png, new_figure
from workbench.stats import delong_auc, ks_statistic
from workbench.validation._registry import judge, result, validation_test


@validation_test(
    "discrimination.auc",
    "discrimination",
    "AUC with DeLong confidence interval",
    purpose="Measure rank-ordering power on data the model has not seen.",
    method="Area under the ROC curve on the validation sample; 95% confidence interval by DeLong's method.",
    high_risk_signs="AUC below min_auc (fail) or a confidence interval reaching below it (warn).",
    limitations="AUC ignores calibration and the cut-off actually used.",
    thresholds=("min_auc",),
    severity="high",
    remediation="Redevelop with better features or a different model family; do not use for decisions.",
    headline={"auc": "auc", "auc_low": "ci_lower", "auc_high": "ci_upper"},
)
def auc(ctx, test):
    interval = delong_auc(ctx.y_val, ctx.p_val)
    limit = ctx.spec.thresholds.min_auc
    outcome = "fail" if interval.auc < limit else ("warn" if interval.lower < limit else "pass")
    return result(
        test,
        outcome,
        f"AUC {interval.auc:.3f} (95% CI {interval.lower:.3f}-{interval.upper:.3f}) against a minimum of {limit}",
        values={
            "auc": interval.auc,
            "ci_lower": interval.lower,
            "ci_upper": interval.upper,
            "std_error": interval.std_error,
        },
    )


@validation_test(
    "discrimination.gini",
    "discrimination",
    "Gini coefficient",
    purpose="Express discrimination on the scale credit committees use.",
    method="Gini = 2 AUC - 1 on the validation sample (equal to the CAP accuracy ratio).",
    high_risk_signs="Gini below min_gini.",
    limitations="As for AUC.",
    thresholds=("min_gini",),
    severity="high",
    remediation="As for AUC.",
    headline={"gini": "gini"},
)
def gini(ctx, test):
    from sklearn.metrics import roc_auc_score

    value = 2 * roc_auc_score(ctx.y_val, ctx.p_val) - 1
    limit = ctx.spec.thresholds.min_gini
    return result(
        test,
        judge(value, fail_below=limit, warn_below=limit + 0.05),
        f"Gini {value:.3f} against a minimum of {limit}",
        values={"gini": value},
    )


@validation_test(
    "discrimination.ks",
    "discrimination",
    "Kolmogorov-Smirnov statistic",
    purpose="Largest separation between the score distributions of the two outcomes.",
    method="Two-sample KS statistic (scipy) of validation scores by outcome.",
    high_risk_signs="KS below min_ks.",
    limitations="Reflects one point of the distribution only.",
    thresholds=("min_ks",),
    severity="medium",
    remediation="As for AUC.",
    headline={"ks": "ks"},
)
def ks(ctx, test):
    value = ks_statistic(ctx.y_val, ctx.p_val)
    limit = ctx.spec.thresholds.min_ks
    fig, ax = new_figure(figsize=(4.8, 3.6))
    edges = np.linspace(0.0, 1.0, 26)
    adverse = np.asarray(ctx.y_val) == 1
    for mask, label, color in ((adverse, "adverse outcome", "#c44e52"), (~adverse, "other outcome", "#4c72b0")):
        ax.hist(ctx.p_val[mask], bins=edges, alpha=0.55, density=True, color=color, label=f"{label} (n={mask.sum()})")
    ax.axvline(ctx.rule.threshold, color="#333333", linestyle="--", linewidth=1, label=f"cut-off {ctx.rule.threshold}")
    ax.set(
        xlabel="score (probability of the adverse outcome)", ylabel="density", title=f"Score by outcome, KS {value:.3f}"
    )
    ax.legend(fontsize=7)
    return result(
        test,
        judge(value, fail_below=limit, warn_below=limit + 0.03),
        f"KS {value:.3f} against a minimum of {limit}",
        values={"ks": value},
        figures={"score_by_outcome": figure_png(fig)},
    )


@validation_test(
    "discrimination.roc_curve",
    "discrimination",
    "ROC curve, model and benchmark",
    purpose="Show the trade-off between catching adverse outcomes and declining good cases at every cut-off.",
    method="ROC curves of the model and the validator's logistic-regression benchmark on the validation sample.",
    high_risk_signs="A model curve below the benchmark's over the operating range.",
    limitations="Visual; see discrimination.auc and benchmarking.auc_vs_benchmark for the tests.",
    thresholds=("min_auc",),
    severity="low",
    remediation="Compare with the benchmark and explain the gap.",
)
def roc(ctx, test):
    from sklearn.metrics import roc_auc_score

    fig, ax = new_figure(figsize=(4.8, 4.4))
    for label, score in (("model", ctx.p_val), ("LR benchmark", ctx.p_benchmark)):
        fpr, tpr, _ = roc_curve(ctx.y_val, score)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(ctx.y_val, score):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(
        xlabel="false positive rate (good declined)",
        ylabel="true positive rate (adverse caught)",
        title="ROC, validation sample",
    )
    ax.legend(loc="lower right")
    value = roc_auc_score(ctx.y_val, ctx.p_val)
    outcome = judge(value, fail_below=ctx.spec.thresholds.min_auc)
    return result(test, outcome, f"model AUC {value:.3f}", values={"auc": value}, figures={"roc": figure_png(fig)})


def _cap(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="mergesort")
    captured = np.concatenate([[0], np.cumsum(y[order]) / y.sum()])
    population = np.linspace(0, 1, len(y) + 1)
    return population, captured


@validation_test(
    "discrimination.cap_curve",
    "discrimination",
    "Cumulative accuracy profile (CAP) and accuracy ratio",
    purpose="Show what share of adverse outcomes the riskiest x% of applicants contain.",
    method="CAP curve on the validation sample; accuracy ratio = area between model and random / area between "
    "perfect and random.",
    high_risk_signs="Accuracy ratio below min_gini.",
    limitations="Equivalent to Gini; shown for committees.",
    thresholds=("min_gini",),
    severity="low",
    remediation="As for AUC.",
)
def cap(ctx, test):
    y = ctx.y_val
    population, captured = _cap(y, ctx.p_val)
    base = y.mean()
    model_area = np.trapezoid(captured, population) - 0.5
    perfect_area = 0.5 * (1 - base)
    ratio = float(model_area / perfect_area)
    fig, ax = new_figure(figsize=(4.8, 4.4))
    ax.plot(population, captured, label=f"model (AR {ratio:.3f})")
    ax.plot([0, base, 1], [0, 1, 1], "--", label="perfect")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random")
    ax.set(
        xlabel="share of applicants, riskiest first",
        ylabel="share of adverse outcomes captured",
        title="CAP, validation sample",
    )
    ax.legend(loc="lower right")
    outcome = judge(ratio, fail_below=ctx.spec.thresholds.min_gini)
    return result(
        test, outcome, f"accuracy ratio {ratio:.3f}", values={"accuracy_ratio": ratio}, figures={"cap": figure_png(fig)}
    )


@validation_test(
    "discrimination.lift_by_decile",
    "discrimination",
    "Adverse rate and lift by score decile",
    purpose="Check that risk rises steadily across the score range.",
    method="Validation sample in ten equal groups by score; adverse rate, lift over the average and cumulative "
    "capture per decile; count of rank-order breaks (a decile riskier than the next-riskier one).",
    high_risk_signs="More than two rank-order breaks, or a top-decile lift below 1.5.",
    limitations="Deciles of a small sample are noisy (30 cases each for 300).",
    severity="medium",
    remediation="Review the score bands where the order breaks.",
)
def lift(ctx, test):
    frame = pd.DataFrame({"y": ctx.y_val, "p": ctx.p_val})
    frame["decile"] = 10 - pd.qcut(frame["p"].rank(method="first"), 10, labels=False)
    table = frame.groupby("decile").agg(n=("y", "size"), adverse=("y", "sum"), mean_score=("p", "mean"))
    table["adverse_rate"] = table["adverse"] / table["n"]
    table["lift"] = table["adverse_rate"] / frame["y"].mean()
    table["cumulative_capture"] = table["adverse"].cumsum() / frame["y"].sum()
    table = table.reset_index()
    breaks = int((np.diff(table["adverse_rate"].to_numpy()) > 0).sum())
    top = float(table["lift"].iloc[0])
    outcome = "fail" if top < 1.2 else ("warn" if breaks > 2 or top < 1.5 else "pass")
    fig, ax = new_figure(figsize=(4.8, 3.6))
    ax.bar(table["decile"].astype(str), table["adverse_rate"], color="#4c72b0")
    ax.axhline(frame["y"].mean(), color="#c44e52", linestyle="--", linewidth=1, label="average adverse rate")
    ax.set(
        xlabel="score decile (1 = riskiest)", ylabel="adverse rate", title=f"Adverse rate by decile, top lift {top:.2f}"
    )
    ax.legend(fontsize=7)
    return result(
        test,
        outcome,
        f"top-decile lift {top:.2f}, {breaks} rank-order break(s)",
        values={"top_decile_lift": top, "rank_order_breaks": breaks},
        tables={"deciles": table},
        figures={"lift": figure_png(fig)},
    )
