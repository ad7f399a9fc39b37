"""Proxy screen: can the model's inputs reconstruct a protected attribute?

If they can, excluding the attribute from the inputs does not stop the model from using it. The screen fits a
classifier for each attribute from the model's inputs (cross-validated AUC) and ranks single inputs by their
association with the attribute (Cramer's V).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from workbench.estimators import FAMILIES


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Association between two categorical variables, 0 (none) to 1 (one determines the other)."""
    table = pd.crosstab(a.astype(str), b.astype(str))
    if min(table.shape) < 2:
        return 0.0
    chi2 = chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1))))


def proxy_screen(
    inputs: pd.DataFrame,
    groups: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    seed: int = 0,
    min_category_count: int = 10,
) -> pd.DataFrame:
    """Per attribute and group: cross-validated AUC of predicting membership from the inputs, and top proxies."""
    rows = []
    for attribute in groups.columns:
        labels = groups[attribute].astype(str).to_numpy()
        for group in sorted(set(labels)):
            target = (labels == group).astype(int)
            if min(target.sum(), len(target) - target.sum()) < 10:
                continue
            pipeline: Pipeline = FAMILIES["gradient_boosting"].build(
                numeric, categorical, min_category_count=min_category_count, seed=seed, n_estimators=100, max_depth=2
            )
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
            auc = float(cross_val_score(pipeline, inputs, target, cv=folds, scoring="roc_auc").mean())
            associations = {}
            for name in inputs.columns:
                values = inputs[name]
                if name in numeric:
                    values = pd.qcut(values.rank(method="first"), 5, labels=False)
                associations[name] = cramers_v(values, pd.Series(target))
            top = sorted(associations.items(), key=lambda kv: -kv[1])[:3]
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "proxy_auc": auc,
                    "top_proxies": ", ".join(f"{k} ({v:.2f})" for k, v in top),
                }
            )
            if len(set(labels)) == 2:
                break  # the other group of a binary attribute gives the same AUC
    return pd.DataFrame(rows, columns=["attribute", "group", "proxy_auc", "top_proxies"])
