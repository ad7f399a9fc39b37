"""Benchmarking: does the model beat simpler alternatives the validator builds independently?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from workbench.stats import delong_test
from workbench.validation._registry import result, validation_test


@validation_test(
    "benchmarking.auc_vs_benchmark",
    "benchmarking",
    "Model vs logistic-regression benchmark (DeLong)",
    purpose="Justify the model's complexity against an interpretable benchmark built by the validator.",
    method="The validator fits a logistic-regression scorecard on the development sample; paired DeLong test of "
    "the two AUCs on the validation sample.",
    high_risk_signs="The model is significantly worse than the benchmark (fail), or a complex model is not "
    "better (warn).",
    limitations="One benchmark family; AUC only.",
    severity="high",
    remediation="Prefer the benchmark or justify the complex model on other grounds.",
)
def auc_vs_benchmark(ctx, test):
    comparison = delong_test(ctx.y_val, ctx.p_val, ctx.p_benchmark)
    if comparison.difference < 0 and comparison.p_value < 0.05:
        outcome = "fail"
    elif comparison.difference <= 0 and ctx.tags.get("model_family", "") != "scorecard_logit":
        outcome = "warn"
    else:
        outcome = "pass"
    return result(
        test,
        outcome,
        f"model AUC {comparison.auc_a:.3f} vs benchmark {comparison.auc_b:.3f}: "
        f"difference {comparison.difference:+.3f}, p = {comparison.p_value:.3f}",
        values=dict(comparison.__dict__),
    )


@validation_test(
    "benchmarking.single_feature",
    "benchmarking",
    "Model vs best single feature",
    purpose="Make sure the model adds value over the strongest single driver.",
    method="For each feature, the AUC of its adverse rate per level / decile (fitted on development, scored on "
    "validation); the model must beat the best of them.",
    high_risk_signs="A single feature ranks as well as the model.",
    limitations="Univariate benchmark.",
    severity="medium",
    remediation="Review whether the extra features add real information.",
)
def single_feature(ctx, test):
    rows = []
    for name in ctx.spec.features.all:
        dev, val = ctx.x_dev[name], ctx.x_val[name]
        if name in ctx.spec.features.numeric:
            edges = np.unique(np.nanquantile(dev, np.linspace(0, 1, 11)[1:-1]))
            dev_key, val_key = np.searchsorted(edges, dev), np.searchsorted(edges, val)
        else:
            dev_key, val_key = dev.astype(str).to_numpy(), val.astype(str).to_numpy()
        rates = pd.Series(ctx.y_dev).groupby(dev_key).mean()
        score = pd.Series(val_key).map(rates).fillna(ctx.y_dev.mean()).to_numpy()
        rows.append({"feature": name, "auc": roc_auc_score(ctx.y_val, score)})
    table = pd.DataFrame(rows).sort_values("auc", ascending=False)
    model_auc = roc_auc_score(ctx.y_val, ctx.p_val)
    best = table.iloc[0]
    margin = model_auc - best["auc"]
    outcome = "fail" if margin <= 0 else ("warn" if margin < 0.02 else "pass")
    return result(
        test,
        outcome,
        f"model AUC {model_auc:.3f} vs best single feature {best['feature']} {best['auc']:.3f}",
        values={"model_auc": model_auc, "best_single_auc": float(best["auc"])},
        tables={"features": table},
    )
