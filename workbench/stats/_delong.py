"""DeLong's method for the AUC's variance, its confidence interval and the paired test of two AUCs.

Implements the fast algorithm of Sun and Xu (2014), "Fast implementation of DeLong's algorithm for comparing
the areas under correlated receiver operating characteristic curves", IEEE Signal Processing Letters 21(11).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


def _midrank_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and the structural components V10 (per positive) and V01 (per negative), one row per score."""
    y = np.asarray(y).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    positives, negatives = scores[:, y], scores[:, ~y]
    m, n = positives.shape[1], negatives.shape[1]
    if m == 0 or n == 0:
        raise ValueError("DeLong needs both classes present")
    k = scores.shape[0]
    tx = np.vstack([rankdata(positives[i]) for i in range(k)])
    ty = np.vstack([rankdata(negatives[i]) for i in range(k)])
    tz = np.vstack([rankdata(np.concatenate([positives[i], negatives[i]])) for i in range(k)])
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def _covariance(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    m, n = v10.shape[1], v01.shape[1]
    return np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n


@dataclass(frozen=True)
class AucInterval:
    """AUC with its DeLong standard error and a two-sided confidence interval."""

    auc: float
    std_error: float
    lower: float
    upper: float
    level: float


def delong_auc(y: np.ndarray, score: np.ndarray, level: float = 0.95) -> AucInterval:
    """AUC and its DeLong confidence interval (clipped to [0, 1])."""
    aucs, v10, v01 = _midrank_components(y, score)
    se = float(np.sqrt(_covariance(v10, v01)[0, 0]))
    z = norm.ppf(0.5 + level / 2)
    auc = float(aucs[0])
    return AucInterval(auc, se, float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se)), level)


@dataclass(frozen=True)
class AucComparison:
    """Paired DeLong test of two scores on the same cases."""

    auc_a: float
    auc_b: float
    difference: float
    std_error: float
    z: float
    p_value: float


def delong_test(y: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> AucComparison:
    """Two-sided test that two correlated AUCs are equal."""
    aucs, v10, v01 = _midrank_components(y, np.vstack([score_a, score_b]))
    cov = _covariance(v10, v01)
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    difference = float(aucs[0] - aucs[1])
    se = float(np.sqrt(max(variance, 0.0)))
    if se == 0.0:
        return AucComparison(float(aucs[0]), float(aucs[1]), difference, 0.0, 0.0, 1.0)
    z = difference / se
    return AucComparison(float(aucs[0]), float(aucs[1]), difference, se, float(z), float(2 * norm.sf(abs(z))))
