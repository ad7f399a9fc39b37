"""Performance measures for a binary score, shared by training, validation and monitoring."""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp
from sklearn.metrics import brier_score_loss, roc_auc_score


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the score distributions of the two classes."""
    y = np.asarray(y)
    score = np.asarray(score)
    return float(ks_2samp(score[y == 1], score[y == 0]).statistic)


def performance_summary(y: np.ndarray, score: np.ndarray, favourable_rate: float) -> dict[str, float]:
    """AUC, Gini, KS, Brier score, adverse rate, and the approval rate the decision rule gives these scores.

    ``favourable_rate`` comes from :class:`workbench.decision.DecisionRule` (statistics do not decide).
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    auc = float(roc_auc_score(y, score))
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(y, score),
        "brier": float(brier_score_loss(y, score)),
        "adverse_rate": float(y.mean()),
        "approval_rate": float(favourable_rate),
    }
