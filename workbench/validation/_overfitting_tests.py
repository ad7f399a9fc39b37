"""Overfitting: does performance hold beyond the data the model was fitted on?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from workbench.validation._registry import judge, result, validation_test


@validation_test(
    "overfitting.train_validation_gap",
    "overfitting",
    "Development vs validation AUC gap",
    purpose="Detect a model that memorised its development sample.",
    method="AUC on the development sample minus AUC on the validation sample.",
    high_risk_signs="A gap above 0.05 (warn) or 0.10 (fail).",
    limitations="Boosted trees always fit their training data closely; read with overfitting.cv_spread.",
    severity="medium",
    remediation="Regularise (shallower trees, fewer iterations) and re-validate.",
)
def gap(ctx, test):
    dev, val = roc_auc_score(ctx.y_dev, ctx.p_dev), roc_auc_score(ctx.y_val, ctx.p_val)
    difference = dev - val
    return result(
        test,
        judge(difference, warn_above=0.05, fail_above=0.10),
        f"development AUC {dev:.3f}, validation AUC {val:.3f}, gap {difference:+.3f}",
        values={"development_auc": dev, "validation_auc": val, "gap": difference},
    )


@validation_test(
    "overfitting.cv_spread",
    "overfitting",
    "Cross-validation spread",
    purpose="Check that performance does not depend on which cases happen to be in the sample.",
    method="The validator refits the registered pipeline's family in 5-fold stratified cross-validation on the "
    "development sample (at most 100,000 rows); mean and standard deviation of the fold AUCs.",
    high_risk_signs="Fold standard deviation above 0.05, or a mean far from the validation AUC.",
    limitations="Folds of a small sample are small.",
    severity="low",
    remediation="Collect more data or simplify the model.",
)
def cv_spread(ctx, test):
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=ctx.spec.split.seed)
    x_dev, y_dev = ctx.sample(100_000)
    # a scorecard is refitted the way it was fitted (statsmodels maximum likelihood), not by its exported form
    estimator = ctx.benchmark if ctx.tags.get("model_family") == "scorecard_logit" else ctx.model
    scores = cross_val_score(clone(estimator), x_dev, y_dev, cv=folds, scoring="roc_auc")
    spread = float(np.std(scores, ddof=1))
    table = pd.DataFrame({"fold": range(1, len(scores) + 1), "auc": scores})
    return result(
        test,
        judge(spread, warn_above=0.05, fail_above=0.10),
        f"fold AUC {scores.mean():.3f} +/- {spread:.3f}",
        values={"cv_auc_mean": float(scores.mean()), "cv_auc_std": spread},
        tables={"folds": table},
    )
