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
from workbench.fairness._assessment import NAME_SEPARATOR
from workbench.spec import group_labels


def cramers_v(a: pd.Series, b: pd.Series) -> float:
    """Association between two categorical variables, 0 (none) to 1 (one determines the other)."""
    table = pd.crosstab(a.astype(str), b.astype(str))
    if min(table.shape) < 2:
        return 0.0
    chi2 = chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1))))


def _screened_groups(groups: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(attribute, group label naming the attribute, membership) for every group the screen asks about.

    Groups with fewer than 10 members, or 10 non-members, are left out; of a binary attribute only the first
    group is asked, since the other gives the same answer.
    """
    screened = []
    for attribute in groups.columns:
        labels = group_labels(groups[attribute]).to_numpy()
        for group in sorted(set(labels)):
            target = (labels == group).astype(int)
            if min(target.sum(), len(target) - target.sum()) < 10:
                continue
            screened.append((str(attribute), f"{attribute}{NAME_SEPARATOR}{group}", target))
            if len(set(labels)) == 2:
                break  # the other group of a binary attribute gives the same AUC
    return screened


def proxy_associations(inputs: pd.DataFrame, groups: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    """Each input's association (Cramer's V) with membership of each screened group, strongest first per group.

    Numeric inputs are cut into quintiles first. Columns: attribute, group, feature, cramers_v.
    """
    binned = {
        name: pd.qcut(inputs[name].rank(method="first"), 5, labels=False) if name in numeric else inputs[name]
        for name in inputs.columns
    }
    rows = []
    for attribute, group, target in _screened_groups(groups):
        membership = pd.Series(target, index=inputs.index)
        associations = [(name, cramers_v(values, membership)) for name, values in binned.items()]
        for name, value in sorted(associations, key=lambda kv: (-kv[1], kv[0])):
            rows.append({"attribute": attribute, "group": group, "feature": name, "cramers_v": value})
    return pd.DataFrame(rows, columns=["attribute", "group", "feature", "cramers_v"])


def proxy_screen(
    inputs: pd.DataFrame,
    groups: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    seed: int = 0,
    min_category_count: int = 10,
    associations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per attribute and group: cross-validated AUC of predicting membership from the inputs, and top proxies.

    Groups are labelled with their attribute (``sex=female``); missing values are the group ``(missing)``.
    ``associations`` (from :func:`proxy_associations`) is computed here when not given.
    """
    if associations is None:
        associations = proxy_associations(inputs, groups, numeric)
    rows = []
    for attribute, group, target in _screened_groups(groups):
        pipeline: Pipeline = FAMILIES["gradient_boosting"].build(
            numeric, categorical, min_category_count=min_category_count, seed=seed, n_estimators=100, max_depth=2
        )
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
        auc = float(cross_val_score(pipeline, inputs, target, cv=folds, scoring="roc_auc").mean())
        top = associations[(associations["attribute"] == attribute) & (associations["group"] == group)].head(3)
        rows.append(
            {
                "attribute": attribute,
                "group": group,
                "proxy_auc": auc,
                "top_proxies": ", ".join(f"{r.feature} ({r.cramers_v:.2f})" for r in top.itertuples()),
            }
        )
    return pd.DataFrame(rows, columns=["attribute", "group", "proxy_auc", "top_proxies"])
