"""How well one feature alone separates the outcome: the screen for post-decision leakage.

A field filled after the decision (who bought the loan, the collection status) separates the outcome almost
perfectly on its own. The screen scores each feature by itself: a number by its value, a category by its
level's adverse rate (in-sample, which is what a leak looks like), missing values as a level of their own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def single_feature_auc(values: pd.Series, y: np.ndarray, categorical: bool) -> float:
    """AUC of the feature alone against the binary outcome, oriented so that 0.5 is no signal and 1 is perfect."""
    y = np.asarray(y, dtype=float)
    known = ~np.isnan(y)
    values, y = values[known], y[known]
    if len(np.unique(y)) < 2:
        return float("nan")
    if categorical or not pd.api.types.is_numeric_dtype(values):
        levels = values.astype("string").fillna("(missing)").to_numpy()
        rates = pd.Series(y).groupby(levels).mean()
        score = pd.Series(levels).map(rates).to_numpy(dtype=float)
    else:
        numbers = values.to_numpy(dtype=float)
        finite = np.isfinite(numbers)
        low = numbers[finite].min() if finite.any() else 0.0
        score = np.where(finite, numbers, low - 1.0)  # missing (or infinite): a level below every value
    auc = float(roc_auc_score(y, score))
    return max(auc, 1.0 - auc)


def leakage_suspects(table: pd.DataFrame, limit: float) -> tuple[pd.DataFrame, str]:
    """The rows of a :func:`leakage_screen` table above ``limit``, and their names with AUCs as text."""
    suspects = table[table["single_feature_auc"] > limit]
    return suspects, ", ".join(f"{r.feature} (AUC {r.single_feature_auc:.3f})" for r in suspects.itertuples())


def leakage_screen(frame: pd.DataFrame, y: np.ndarray, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Single-feature AUC of every feature, strongest first."""
    rows = [
        {"feature": name, "kind": kind, "single_feature_auc": single_feature_auc(frame[name], y, kind == "categorical")}
        for kind, names in (("numeric", numeric), ("categorical", categorical))
        for name in names
    ]
    return pd.DataFrame(rows).sort_values("single_feature_auc", ascending=False).reset_index(drop=True)
